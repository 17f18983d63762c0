dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

model "m" {
  provider = "builtin"
}

stage "generate" "attempts" {
  model       = model.m
  input       = dataset.problems
  prompt      = item.question
  temperature = item.answer # ERROR: only available in per-item arguments
}
