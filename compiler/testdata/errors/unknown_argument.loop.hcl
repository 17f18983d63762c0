dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

stage "filter" "kept" { # ERROR: The argument "where" is required
  input = dataset.problems
  wher  = item.answer > 0 # ERROR: Did you mean "where"?
}
