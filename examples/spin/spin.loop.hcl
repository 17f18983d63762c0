# SPIN: Self-Play Fine-Tuning (Chen, Deng, Yuan, Ji and Gu, "Self-Play
# Fine-Tuning Converts Weak Language Models to Strong Language Models",
# ICML 2024, arXiv:2401.01335).
#
# Each iteration t: the current model p_t answers the SFT prompts; every
# (human answer, self-generated answer) pair becomes a preference pair with
# the human answer preferred; a DPO-style update against p_t as the
# reference gives p_{t+1}. No reward model, no new human data.
#
# Everything runs for var.seeds independently initialised models. The
# control arm is the paper's comparison: continued SFT on the same SFT data,
# the same optimizer steps (batch, learning rate) per iteration, so a gain
# over it comes from the self-play pairs and not from training longer.

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
  description = "At cluster scale: the SFT model to start from (a builtin checkpoint)."
}

variable "trainer" {
  type        = string
  default     = "builtin"
  description = "Who runs the SFT stage: builtin, or command (examples/trainers/trl_sft.py)."
}

variable "seeds" {
  type        = number
  default     = 5
  description = "Independent runs (model init); every arm runs for each."
}

variable "iterations" {
  type    = number
  default = 3
}

variable "problems" {
  type        = number
  default     = 2000
  description = "SFT prompts (of data/train.jsonl); the model answers the same prompts each iteration."
}

variable "sft_steps" {
  type        = number
  default     = 800
  description = "Steps of the initial SFT (the weak model SPIN starts from)."
}

variable "dpo_epochs" {
  type        = number
  default     = 2
  description = "DPO passes over the iteration's pairs."
}

variable "dpo_beta" {
  type        = number
  default     = 10
  description = "DPO's β. At 0.1 and 1 the policy drifts from the reference and the answers collapse (see the README)."
}

variable "dpo_lr" {
  type        = number
  default     = 0.0001
  description = "DPO (and control SFT) learning rate."
}

settings {
  seed = 17
}

dataset "train" {
  source = "data/train.jsonl"
  schema = object({ question = string, answer = number })
}

dataset "test" {
  source = "data/test.jsonl"
  schema = object({ question = string, answer = number })
}

# One builtin block for both scales: a fresh model here, a checkpoint there.
model "local" {
  count      = var.seeds
  provider   = "builtin"
  checkpoint = var.scale == "cluster" ? var.base_checkpoint : null
  layers     = 2
  dim        = 64
  max_seq    = 32
  seed       = 3 + count.index
}

# SPIN starts from a supervised fine-tuned model: SFT on the data whose
# prompts SPIN then uses (fewer steps than it takes to master it).
stage "sample" "sft_data" {
  input = dataset.train
  n     = var.problems
}

stage "sft" "sft" {
  count         = var.seeds
  base          = model.local[count.index]
  data          = stage.sft_data
  prompt        = "Q: ${item.question}\nA:"
  target        = " ${item.answer}"
  steps         = var.sft_steps
  batch_size    = 32
  learning_rate = 0.003
  trainer       = var.trainer
  command       = var.trainer == "command" ? ["python3", "../trainers/trl_sft.py"] : null
}

# Round 0: greedy exact-match accuracy of each SFT model, by the shared
# module examples/modules/accuracy (the loop's "eval" and "control_eval"
# use it for later rounds).
module "eval0" {
  count    = var.seeds
  source   = "../modules/accuracy"
  model    = stage.sft[count.index].model
  problems = dataset.test
}

loop "spin" {
  rounds = var.iterations
  state  = { policies = stage.sft[*].model, controls = stage.sft[*].model }

  # The opponent: the current model answers the SFT prompts.
  stage "generate" "synthetic" {
    count       = var.seeds
    model       = state.policies[count.index]
    input       = stage.sft_data
    prompt      = "Q: ${item.question}\nA:"
    temperature = 1.0
    max_tokens  = 8
    stop        = ["\n"]
    seed        = round
  }

  # Pairs: the human answer is chosen, the model's is rejected (pairs where
  # the model already wrote the human answer carry no signal).
  stage "map" "pairs" {
    count  = var.seeds
    input  = stage.synthetic[count.index]
    fields = { chosen = " ${item.answer}", rejected = item.completion }
  }

  stage "filter" "informative" {
    count = var.seeds
    input = stage.pairs[count.index]
    where = item.chosen != item.rejected
  }

  # The main player: a DPO-style update against the current model.
  stage "dpo" "update" {
    count         = var.seeds
    base          = state.policies[count.index]
    reference     = state.policies[count.index]
    data          = stage.informative[count.index]
    prompt        = item.prompt
    chosen        = item.chosen
    rejected      = item.rejected
    beta          = var.dpo_beta
    epochs        = var.dpo_epochs
    batch_size    = 16
    learning_rate = var.dpo_lr
  }

  module "eval" {
    count    = var.seeds
    source   = "../modules/accuracy"
    model    = stage.update[count.index].model
    problems = dataset.test
  }

  # Control arm: continued SFT on the same SFT data, the same steps at the
  # same batch and learning rate as this iteration's DPO update.
  stage "sft" "control" {
    count         = var.seeds
    base          = state.controls[count.index]
    data          = stage.sft_data
    prompt        = "Q: ${item.question}\nA:"
    target        = " ${item.answer}"
    steps         = max(1, ceil(var.dpo_epochs * stage.update[count.index].examples / 16))
    batch_size    = 16
    learning_rate = var.dpo_lr
    seed          = round
  }

  module "control_eval" {
    count    = var.seeds
    source   = "../modules/accuracy"
    model    = stage.control[count.index].model
    problems = dataset.test
  }

  next = { policies = stage.update[*].model, controls = stage.control[*].model }
}

output "accuracy" {
  description = "Held-out greedy accuracy: the SFT models, then every SPIN iteration, one entry per seed."
  value       = concat([module.eval0[*].accuracy], [for r in loop.spin.rounds : r.eval[*].accuracy])
}

output "accuracy_mean" {
  value = concat([mean(module.eval0[*].accuracy)], [for r in loop.spin.rounds : mean(r.eval[*].accuracy)])
}

output "accuracy_control" {
  description = "Control arm (the same steps of continued SFT on the SFT data), per iteration, one entry per seed."
  value       = [for r in loop.spin.rounds : r.control_eval[*].accuracy]
}

output "accuracy_control_mean" {
  value = [for r in loop.spin.rounds : mean(r.control_eval[*].accuracy)]
}

output "pairs" {
  description = "Informative pairs (model answer differs from the human one) per iteration, one entry per seed."
  value       = [for r in loop.spin.rounds : r.update[*].examples]
}
