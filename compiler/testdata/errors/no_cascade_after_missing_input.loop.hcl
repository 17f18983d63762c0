# One mistake, one error: the stages downstream of a stage that failed to
# type-check are not reported again (their record type is unknown, not
# wrong).
dataset "problems" {
  rows   = [{ question = "1+1", answer = "2" }]
  schema = object({ question = string, answer = string })
}

stage "filter" "kept" { # ERROR: Missing required argument
  where = item.answer != ""
}

stage "map" "relabeled" {
  input  = stage.kept
  fields = { answer = "3" }
}

stage "concat" "pool" {
  inputs = [dataset.problems, stage.relabeled]
}

stage "concat" "train" {
  inputs = [stage.pool, dataset.problems]
}

stage "sample" "some" {
  input = stage.train
  n     = 1
}

model "m" {
  provider = "builtin"
  layers   = 1
  dim      = 8
  hidden   = 16
  heads    = 1
  max_seq  = 16
  vocab    = "0123456789+="
}

stage "generate" "labels" {
  model  = model.m
  input  = stage.kept
  prompt = item.question
}

stage "vote" "consensus" {
  input  = stage.labels
  group  = item.question
  answer = item.completion
}

stage "filter" "agreed" {
  input = stage.consensus
  where = item.agreement >= 1 && strlen(item.majority) > 0
}

stage "sft" "tune" {
  base   = model.m
  data   = stage.agreed
  prompt = item.question
  target = item.majority
}

stage "evaluate" "eval" {
  model  = stage.tune.model
  input  = stage.kept
  prompt = item.question
  score  = item.completion == item.answer
  metrics = {
    accuracy = fraction(scores)
  }
}

stage "top" "best" {
  input = stage.kept
  by    = strlen(item.answer)
  k     = 1
}

stage "join" "joined" {
  left      = stage.best
  right     = dataset.problems
  left_key  = item.question
  right_key = item.question
}

stage "dedupe" "unique" {
  input = stage.joined
  key   = item.question
}
