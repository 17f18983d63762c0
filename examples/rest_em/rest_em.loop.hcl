# ReST-EM / expert iteration (Singh et al., "Beyond Human Data: Scaling
# Self-Training for Problem-Solving with Language Models", 2023,
# arXiv:2312.06585) with RAFT's reward ranking (Dong et al., "RAFT: Reward
# rAnked FineTuning for Generative Foundation Model Alignment", 2023,
# arXiv:2304.06767).
#
# E-step: sample many answers per training problem from the current policy,
# score them with a binary reward (is the answer right?), keep at most
# var.cap correct samples per problem (ranked: RAFT keeps the top-k by
# reward, here ties broken by the model's log-probability).
# M-step: fine-tune the *base* model on them (ReST-EM restarts from the base
# each iteration). Evaluate on held-out problems every iteration.

variable "scale" {
  type    = string
  default = "laptop"
  validation {
    condition     = contains(["laptop", "cluster"], var.scale)
    error_message = "scale must be laptop or cluster."
  }
}

variable "base_checkpoint" {
  type        = string
  default     = "base.safetensors"
  description = "At cluster scale: a builtin checkpoint (RoPE) the command trainer can convert."
}

variable "trainer" {
  type        = string
  default     = "builtin"
  description = "builtin, or command (examples/trainers/trl_sft.py, docs/trainers.md)."
}

variable "iterations" {
  type    = number
  default = 3
}

variable "samples" {
  type        = number
  default     = 4
  description = "Samples per training problem in the E-step."
}

variable "cap" {
  type        = number
  default     = 2
  description = "Correct samples kept per problem (ReST-EM's cap; RAFT's k)."
}

variable "problems" {
  type        = number
  default     = 400
  description = "Training problems sampled from each E-step."
}

variable "pretrain_steps" {
  type        = number
  default     = 800
  description = "SFT steps of the base on 500 labeled problems: enough to be right most of the time, not always."
}

variable "tune_steps" {
  type    = number
  default = 600
}

settings {
  seed = 11
}

dataset "train" {
  source = "data/train.jsonl"
  schema = object({ question = string, answer = number })
}

dataset "test" {
  source = "data/test.jsonl"
  schema = object({ question = string, answer = number })
}

# At cluster scale the base is a checkpoint (a model block's arguments are
# the provider's, so one builtin block serves both scales).
model "local" {
  provider   = "builtin"
  checkpoint = var.scale == "cluster" ? var.base_checkpoint : null
  layers     = 2
  dim        = 64
  max_seq    = 32
  seed       = 3
}

# The "pretrained" model: a short SFT on labeled problems, weak on purpose.
# At cluster scale, the base is a checkpoint instead.
stage "sample" "pretrain_data" {
  input = dataset.train
  n     = 500
}

stage "sft" "pretrain" {
  base          = model.local
  data          = stage.pretrain_data
  prompt        = "Q: ${item.question}\nA:"
  target        = " ${item.answer}"
  steps         = var.pretrain_steps
  batch_size    = 32
  learning_rate = 0.003
}

locals {
  base = var.scale == "cluster" ? model.local : stage.pretrain.model
}

# Round 0: the shared evaluation module (greedy, exact integer match),
# the same stage the loop's "eval" spells out for each later round.
module "eval0" {
  source   = "../modules/accuracy"
  model    = local.base
  problems = dataset.test
}

loop "em" {
  rounds = var.iterations
  state  = { policy = local.base }

  stage "sample" "problems" {
    input = dataset.train
    n     = var.problems
    seed  = round
  }

  # E-step: sample, score with the binary reward, keep the top var.cap
  # correct samples per problem.
  stage "generate" "samples" {
    model       = state.policy
    input       = stage.problems
    prompt      = "Q: ${item.question}\nA:"
    samples     = var.samples
    temperature = 1.0
    max_tokens  = 8
    stop        = ["\n"]
    logprobs    = true
  }

  stage "verify" "rewarded" {
    input    = stage.samples
    check    = "exact"
    answer   = extract_int(item.completion)
    expected = item.answer
  }

  stage "filter" "correct" {
    input = stage.rewarded
    where = item.correct
  }

  stage "dedupe" "distinct" {
    input = stage.correct
    key   = "${item.question}|${item.completion}"
  }

  stage "top" "kept" {
    input = stage.distinct
    by    = item.logprob
    k     = var.cap
    per   = item.question
  }

  # M-step: fine-tune the base model on the kept samples.
  stage "sft" "tune" {
    base          = local.base
    data          = stage.kept
    prompt        = item.prompt
    target        = item.completion
    steps         = var.tune_steps
    batch_size    = 32
    learning_rate = 0.002
    trainer       = var.trainer
    command       = var.trainer == "command" ? ["python3", "../trainers/trl_sft.py"] : null
  }

  stage "evaluate" "eval" {
    model       = stage.tune.model
    input       = dataset.test
    prompt      = "Q: ${item.question}\nA:"
    temperature = 0
    max_tokens  = 8
    stop        = ["\n"]
    score       = extract_int(item.completion) == item.answer
    metrics     = { accuracy = fraction(scores) }
  }

  next = { policy = stage.tune.model }
}

output "accuracy" {
  description = "Held-out greedy accuracy: the base, then every iteration."
  value       = concat([module.eval0.accuracy], loop.em.rounds[*].eval.metrics.accuracy)
}

output "kept" {
  description = "Training examples kept by each E-step."
  value       = loop.em.rounds[*].tune.examples
}
