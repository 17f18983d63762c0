model "m" {
  provider = "builtin"
}

dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

loop "l" {
  rounds = 2
  state  = { policy = stage.tune.model } # ERROR: Reference to a later round

  stage "sft" "tune" {
    base   = state.policy
    data   = dataset.problems
    prompt = item.question
    target = "${item.answer}"
  }

  next = { policy = stage.tune.model }
}
