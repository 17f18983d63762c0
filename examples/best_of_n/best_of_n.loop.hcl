# Best-of-N with a verifier (Cobbe et al., "Training Verifiers to Solve Math
# Word Problems", 2021, arXiv:2110.14168; the inference-time recipe studied
# e.g. by Snell et al., 2024, arXiv:2408.03314): sample N candidates per
# problem, score each with a verifier, answer with the best one.
# Accuracy vs N, N = 1, 2, 4, ..., with two verifiers: an exact checker of
# the arithmetic (the verifier) and, for comparison, the model's own
# log-probability (no verifier).
#
# Laptop scale (default): a tiny builtin model briefly trained on 2-digit
# addition. Cluster scale (-var scale=cluster): an OpenAI-compatible server.

variable "scale" {
  type    = string
  default = "laptop"
  validation {
    condition     = contains(["laptop", "cluster"], var.scale)
    error_message = "scale must be laptop or cluster."
  }
}

variable "base_url" {
  type    = string
  default = "http://127.0.0.1:8000/v1"
}

variable "model_name" {
  type    = string
  default = "Qwen/Qwen2.5-0.5B-Instruct"
}

variable "trainer" {
  type        = string
  default     = "builtin"
  description = "Who runs the pretrain stage: builtin, or command (examples/trainers/trl_sft.py)."
}

variable "pretrain_steps" {
  type    = number
  default = 1100
}

variable "doublings" {
  type        = number
  default     = 4
  description = "Round r samples N = 2^r candidates per problem, r = 0..doublings."
}

variable "questions" {
  type    = number
  default = 100
}

settings {
  seed = 5
}

dataset "train" {
  source = "data/train.jsonl"
  schema = object({ question = string, answer = number })
}

dataset "test" {
  source = "data/test.jsonl"
  schema = object({ question = string, answer = number })
  limit  = var.questions
}

model "local" {
  provider = "builtin"
  layers   = 2
  dim      = 64
  max_seq  = 32
  seed     = 3
}

model "server" {
  provider = "openai"
  base_url = var.base_url
  name     = var.model_name
  api      = "completions"
}

stage "sft" "pretrain" {
  base          = model.local
  data          = dataset.train
  prompt        = "Q: ${item.question}\nA:"
  target        = " ${item.answer}"
  steps         = var.pretrain_steps
  batch_size    = 32
  learning_rate = 0.003
  trainer       = var.trainer
  command       = var.trainer == "command" ? ["python3", "../trainers/trl_sft.py"] : null
}

locals {
  policy = var.scale == "cluster" ? model.server : stage.pretrain.model
}

loop "n" {
  rounds = var.doublings + 1

  stage "generate" "candidates" {
    model       = local.policy
    input       = dataset.test
    prompt      = "Q: ${item.question}\nA:"
    samples     = pow(2, round)
    temperature = 1.0
    max_tokens  = 8
    stop        = ["\n"]
    logprobs    = true
  }

  stage "extract" "parsed" {
    input       = stage.candidates
    from        = item.completion
    pattern     = "{answer:int}"
    on_mismatch = "null"
  }

  # The verifier: recomputes the sum from the question.
  stage "verify" "checked" {
    input    = stage.parsed
    check    = "exact"
    answer   = try(item.parsed.answer, null)
    expected = sum([for x in split("+", item.question) : tonumber(x)])
  }

  # Best of N by the verifier (the model's confidence breaks ties) ...
  stage "best_of" "by_verifier" {
    input = stage.checked
    group = item.question
    score = (item.correct ? 1 : 0) + item.logprob / 1000
  }

  # ... and by the model's confidence alone.
  stage "best_of" "by_logprob" {
    input = stage.checked
    group = item.question
    score = item.logprob
  }

  # Accuracy of the chosen candidates (evaluate generates one token per
  # record, which the score ignores: the answer is the chosen candidate's).
  stage "evaluate" "verifier_accuracy" {
    model      = local.policy
    input      = stage.by_verifier
    prompt     = item.prompt
    max_tokens = 1
    score      = item.correct
    metrics    = { n = pow(2, round), accuracy = fraction(scores) }
  }

  stage "evaluate" "logprob_accuracy" {
    model      = local.policy
    input      = stage.by_logprob
    prompt     = item.prompt
    max_tokens = 1
    score      = item.correct
    metrics    = { n = pow(2, round), accuracy = fraction(scores) }
  }
}

output "accuracy_vs_n" {
  description = "Per N: accuracy of the best candidate chosen by the verifier, and by the model's log-probability."
  value = [for r in loop.n.rounds : {
    n           = r.verifier_accuracy.metrics.n
    by_verifier = r.verifier_accuracy.metrics.accuracy
    by_logprob  = r.logprob_accuracy.metrics.accuracy
  }]
}
