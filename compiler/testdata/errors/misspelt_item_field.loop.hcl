dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

stage "filter" "small" {
  input = dataset.problems
  where = item.answr < 10 # ERROR: Did you mean "answer"?
}
