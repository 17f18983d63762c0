# One mistake, one error: the stages downstream of a stage that failed to
# type-check are not reported again (their record type is unknown, not
# wrong). With `input = dataset.problems` in stage.kept the spec is valid.
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

stage "pair" "prefs" {
  input    = stage.kept
  prompt   = item.question
  response = item.answer
  score    = strlen(item.answer)
}

stage "dpo" "aligned" {
  base     = model.m
  data     = stage.prefs
  prompt   = item.prompt
  chosen   = item.chosen
  rejected = item.rejected
}

stage "extract" "parsed" {
  input   = stage.kept
  from    = item.answer
  pattern = "{n:int}"
}

stage "verify" "checked" {
  input  = stage.parsed
  answer = item.parsed.n
}

stage "split" "halves" {
  input    = stage.checked
  fraction = 0.5
}

stage "group" "by_answer" {
  input = stage.halves.train
  key   = item.answer
}

stage "best_of" "best_answer" {
  input = stage.kept
  group = item.question
  score = strlen(item.answer)
}

stage "export" "saved" {
  input = stage.best_answer
  path  = "out/best.jsonl"
}

stage "judge" "judged" {
  model   = model.m
  input   = stage.kept
  prompt  = item.question
  pattern = "{score:int}"
}

stage "refine" "refined" {
  model    = model.m
  input    = stage.kept
  prompt   = item.question
  critique = "critique: ${item.question}"
  revise   = "revise: ${item.question}"
}
