dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

loop "l" {
  rounds = 90000 # ERROR: Plan too large

  stage "filter" "kept" {
    input = dataset.problems
    where = item.answer > 0
  }
}
