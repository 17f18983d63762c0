# A training stage routed to GPU workers and a generate stage to the
# default (CPU) workers, in one spec.
dataset "train" {
  source = "train.jsonl"
  schema = object({ question = string, answer = number })
}

model "local" {
  provider = "builtin"
  layers   = 1
  dim      = 32
  max_seq  = 32
  seed     = 3
}

stage "sft" "tune" {
  base       = model.local
  data       = dataset.train
  prompt     = "Q: ${item.question}\nA:"
  target     = " ${item.answer}"
  steps      = 5
  batch_size = 4

  resources {
    queue = "gpu"
  }
}

stage "generate" "answers" {
  model      = stage.tune.model
  input      = dataset.train
  prompt     = "Q: ${item.question}\nA:"
  max_tokens = 4
}

output "answers" {
  value = stage.answers
}
