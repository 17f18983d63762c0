dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

stage "filtr" "kept" { # ERROR@7: Did you mean "filter"?
  input = dataset.problems
  where = item.answer > 0
}
