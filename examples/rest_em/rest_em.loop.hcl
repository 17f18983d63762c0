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
#
# Everything runs for var.seeds independently initialised and pretrained
# models. The control arm is the paper's baseline: the same M-step on the
# same problems with their human (true) answers instead of the model's own
# filtered samples.

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

variable "seeds" {
  type        = number
  default     = 3
  description = "Independent runs (model init and pretraining seed); every arm runs for each."
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
  count      = var.seeds
  provider   = "builtin"
  checkpoint = var.scale == "cluster" ? var.base_checkpoint : null
  layers     = 2
  dim        = 64
  max_seq    = 32
  seed       = 3 + count.index
}

# The "pretrained" model: a short SFT on labeled problems, weak on purpose.
# At cluster scale, the base is a checkpoint instead.
stage "sample" "pretrain_data" {
  input = dataset.train
  n     = 500
}

stage "sft" "pretrain" {
  count         = var.seeds
  base          = model.local[count.index]
  data          = stage.pretrain_data
  prompt        = "Q: ${item.question}\nA:"
  target        = " ${item.answer}"
  steps         = var.pretrain_steps
  batch_size    = 32
  learning_rate = 0.003
}

locals {
  bases = var.scale == "cluster" ? model.local[*] : stage.pretrain[*].model
}

# Round 0: greedy exact-match accuracy of each base, by the shared module
# examples/modules/accuracy (the loop's "eval" and "human_eval" use it for
# later rounds).
module "eval0" {
  count    = var.seeds
  source   = "../modules/accuracy"
  model    = local.bases[count.index]
  problems = dataset.test
}

loop "em" {
  rounds = var.iterations
  state  = { policies = local.bases }

  stage "sample" "problems" {
    input = dataset.train
    n     = var.problems
    seed  = round
  }

  # E-step: sample, score with the binary reward, keep the top var.cap
  # correct samples per problem.
  stage "generate" "samples" {
    count       = var.seeds
    model       = state.policies[count.index]
    input       = stage.problems
    prompt      = "Q: ${item.question}\nA:"
    samples     = var.samples
    temperature = 1.0
    max_tokens  = 8
    stop        = ["\n"]
    logprobs    = true
  }

  stage "verify" "rewarded" {
    count    = var.seeds
    input    = stage.samples[count.index]
    check    = "exact"
    answer   = extract_int(item.completion)
    expected = item.answer
  }

  stage "filter" "correct" {
    count = var.seeds
    input = stage.rewarded[count.index]
    where = item.correct
  }

  stage "dedupe" "distinct" {
    count = var.seeds
    input = stage.correct[count.index]
    key   = "${item.question}|${item.completion}"
  }

  stage "top" "kept" {
    count = var.seeds
    input = stage.distinct[count.index]
    by    = item.logprob
    k     = var.cap
    per   = item.question
  }

  # M-step: fine-tune the base model on the kept samples.
  stage "sft" "tune" {
    count         = var.seeds
    base          = local.bases[count.index]
    data          = stage.kept[count.index]
    prompt        = item.prompt
    target        = item.completion
    steps         = var.tune_steps
    batch_size    = 32
    learning_rate = 0.002
    trainer       = var.trainer
    command       = var.trainer == "command" ? ["python3", "../trainers/trl_sft.py"] : null
  }

  module "eval" {
    count    = var.seeds
    source   = "../modules/accuracy"
    model    = stage.tune[count.index].model
    problems = dataset.test
  }

  # Control arm (the paper's baseline, SFT on human data): the same
  # M-step from the same base on the same problems, with their true
  # answers instead of the policy's own correct samples.
  stage "sft" "human" {
    count         = var.seeds
    base          = local.bases[count.index]
    data          = stage.problems
    prompt        = "Q: ${item.question}\nA:"
    target        = " ${item.answer}"
    steps         = var.tune_steps
    batch_size    = 32
    learning_rate = 0.002
    trainer       = var.trainer
    command       = var.trainer == "command" ? ["python3", "../trainers/trl_sft.py"] : null
  }

  module "human_eval" {
    count    = var.seeds
    source   = "../modules/accuracy"
    model    = stage.human[count.index].model
    problems = dataset.test
  }

  next = { policies = stage.tune[*].model }
}

output "accuracy" {
  description = "Held-out greedy accuracy per round (the bases first), one entry per seed."
  value       = concat([module.eval0[*].accuracy], [for r in loop.em.rounds : r.eval[*].accuracy])
}

output "accuracy_mean" {
  description = "The same, the mean over seeds."
  value       = concat([mean(module.eval0[*].accuracy)], [for r in loop.em.rounds : mean(r.eval[*].accuracy)])
}

output "accuracy_human" {
  description = "Control arm (SFT of the base on the round's problems with true answers), per round, one entry per seed."
  value       = [for r in loop.em.rounds : r.human_eval[*].accuracy]
}

output "accuracy_human_mean" {
  value = [for r in loop.em.rounds : mean(r.human_eval[*].accuracy)]
}

output "kept" {
  description = "Training examples kept by each E-step, per round, one entry per seed."
  value       = [for r in loop.em.rounds : r.tune[*].examples]
}
