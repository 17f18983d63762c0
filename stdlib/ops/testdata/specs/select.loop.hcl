# dedupe, sample, top, group, split, join, command.
dataset "qa" {
  source = "data/qa.jsonl"
  schema = object({ question = string, answer = number })
}

stage "dedupe" "exact" {
  input = dataset.qa
  key   = lower(item.question)
}

stage "dedupe" "near" {
  input     = stage.exact
  method    = "minhash"
  text      = item.question
  threshold = 0.8
}

stage "sample" "some" {
  input = stage.near
  n     = 2
  seed  = 3
}

stage "top" "best" {
  input = stage.some
  by    = coalesce(item.answer, 0)
  k     = 1
  per   = item.question
}

stage "group" "by_answer" {
  input = dataset.qa
  key   = item.answer
}

stage "split" "holdout" {
  input    = dataset.qa
  fraction = 0.5
  key      = item.question
}

stage "join" "labelled" {
  left      = stage.holdout.train
  right     = stage.holdout.test
  left_key  = item.answer
  right_key = item.answer
}

stage "command" "upper" {
  input   = stage.best
  command = ["sed", "s/\"question\"/\"QUESTION\"/; s/\"answer\"/\"ANSWER\"/"]
  schema  = object({ QUESTION = string, ANSWER = number })
  timeout = "30s"
}

output "groups" {
  value = stage.by_answer
}
