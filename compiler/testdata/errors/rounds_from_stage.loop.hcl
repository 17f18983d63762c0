dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

model "m" {
  provider = "builtin"
}

stage "evaluate" "eval" {
  model   = model.m
  input   = dataset.problems
  prompt  = item.question
  score   = item.completion == "${item.answer}"
  metrics = { accuracy = fraction(scores) }
}

loop "l" {
  rounds = stage.eval.metrics.accuracy * 10 # ERROR: Rounds not known before the run

  stage "filter" "kept" {
    input = dataset.problems
    where = item.answer > 0
  }
}
