# SPIN: Self-Play Fine-Tuning (Chen, Deng, Yuan, Ji and Gu, "Self-Play
# Fine-Tuning Converts Weak Language Models to Strong Language Models",
# ICML 2024, arXiv:2401.01335).
#
# Each iteration t: the current model p_t answers the SFT prompts; every
# (human answer, self-generated answer) pair becomes a preference pair with
# the human answer preferred; a DPO-style update against p_t as the
# reference gives p_{t+1}. No reward model, no new human data.

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

variable "iterations" {
  type    = number
  default = 3
}

variable "problems" {
  type        = number
  default     = 500
  description = "SFT prompts answered by the model each iteration."
}

variable "sft_steps" {
  type        = number
  default     = 800
  description = "Steps of the initial SFT (the weak model SPIN starts from)."
}

variable "dpo_steps" {
  type    = number
  default = 150
}

variable "dpo_lr" {
  type        = number
  default     = 0.000001
  description = "DPO learning rate (at 3e-5 and above the update destroys the short answers; see the README)."
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
  provider   = "builtin"
  checkpoint = var.scale == "cluster" ? var.base_checkpoint : null
  layers     = 2
  dim        = 64
  max_seq    = 32
  seed       = 3
}

# SPIN starts from a supervised fine-tuned model: SFT on the same data
# (fewer steps than it takes to master it).
stage "sample" "sft_data" {
  input = dataset.train
  n     = var.problems
}

stage "sft" "sft" {
  base          = model.local
  data          = stage.sft_data
  prompt        = "Q: ${item.question}\nA:"
  target        = " ${item.answer}"
  steps         = var.sft_steps
  batch_size    = 32
  learning_rate = 0.003
  trainer       = var.trainer
  command       = var.trainer == "command" ? ["python3", "../trainers/trl_sft.py"] : null
}

stage "evaluate" "eval0" {
  model       = stage.sft.model
  input       = dataset.test
  prompt      = "Q: ${item.question}\nA:"
  temperature = 0
  max_tokens  = 8
  stop        = ["\n"]
  score       = extract_int(item.completion) == item.answer
  metrics     = { accuracy = fraction(scores) }
}

loop "spin" {
  rounds = var.iterations
  state  = { policy = stage.sft.model }

  # The opponent: the current model answers the SFT prompts.
  stage "generate" "synthetic" {
    model       = state.policy
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
    input  = stage.synthetic
    fields = { chosen = " ${item.answer}", rejected = item.completion }
  }

  stage "filter" "informative" {
    input = stage.pairs
    where = item.chosen != item.rejected
  }

  # The main player: a DPO-style update against the current model.
  stage "dpo" "update" {
    base          = state.policy
    reference     = state.policy
    data          = stage.informative
    prompt        = item.prompt
    chosen        = item.chosen
    rejected      = item.rejected
    beta          = 0.1
    steps         = var.dpo_steps
    batch_size    = 16
    learning_rate = var.dpo_lr
  }

  stage "evaluate" "eval" {
    model       = stage.update.model
    input       = dataset.test
    prompt      = "Q: ${item.question}\nA:"
    temperature = 0
    max_tokens  = 8
    stop        = ["\n"]
    score       = extract_int(item.completion) == item.answer
    metrics     = { accuracy = fraction(scores) }
  }

  next = { policy = stage.update.model }
}

output "accuracy" {
  description = "Held-out greedy accuracy: the SFT model, then every SPIN iteration."
  value       = concat([stage.eval0.metrics.accuracy], loop.spin.rounds[*].eval.metrics.accuracy)
}

output "pairs" {
  description = "Informative pairs (model answer differs from the human one) per iteration."
  value       = loop.spin.rounds[*].update.examples
}
