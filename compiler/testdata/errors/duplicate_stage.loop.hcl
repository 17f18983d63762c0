dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

stage "filter" "kept" {
  input = dataset.problems
  where = item.answer > 0
}

stage "filter" "kept" { # ERROR@16: Duplicate stage "kept"
  input = dataset.problems
  where = item.answer > 1
}
