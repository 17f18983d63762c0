dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

stage "filter" "kept" { # ERROR: Missing required argument
  input = dataset.problems
}
