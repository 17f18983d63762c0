dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

stage "filter" "kept" {
  input = dataset.problem # ERROR: Reference to undeclared dataset
  where = item.answer > 0
}
