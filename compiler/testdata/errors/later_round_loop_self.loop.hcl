dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

loop "l" {
  rounds = 2

  stage "filter" "kept" {
    input = dataset.problems
    where = item.answer > 0
  }

  stage "concat" "all" {
    inputs = [loop.l.rounds[0].kept] # ERROR: Reference to a later round
  }
}
