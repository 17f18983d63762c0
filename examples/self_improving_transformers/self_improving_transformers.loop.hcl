# Self-Improving Transformers (Lee, Cai, Schwarzschild, Lee and Papailiopoulos,
# "Self-Improving Transformers Overcome Easy-to-Hard and Length
# Generalization Challenges", ICML 2025, arXiv:2502.01612), scaled down to
# reversed addition of up to 10 digits on the builtin model. Deviation from
# the paper: the problems sit at a random column offset of a fixed 10-column
# frame (see gendata.go) and the model uses rotary positions (RoPE), not
# NoPE; at this size the NoPE model does not extrapolate by even one digit
# (README.md records the attempts).
#
# Round 0: train from scratch on labeled problems of 1..var.start digits.
# Round r (r = 1, 2, ...): the current model labels problems of start+r
# digits itself; the labels that win a majority vote over several samples
# with enough agreement and have the right length are added to the pool of
# self-labels; training continues from the current model on every
# self-label kept so far plus var.replay round-0 problems (so that the new
# lengths are most of what a round trains on); held-out accuracy is
# measured per length.
#
# Two loops over the same data and round-0 model: "filtered" (the paper's
# method) and "unfiltered" (the control: one sampled label per problem, no
# vote, no length filter).

variable "start" {
  type        = number
  default     = 3
  description = "Digits of the labeled problems the model is first trained on (1..start)."
}

variable "rounds" {
  type        = number
  default     = 4
  description = "Self-improvement rounds; round r labels problems of start+r digits."
}

variable "samples" {
  type        = number
  default     = 5
  description = "Labels sampled per new problem for the majority vote."
}

variable "agreement" {
  type        = number
  default     = 1
  description = "Least share of the samples that must agree with the majority label."
}

variable "problems" {
  type        = number
  default     = 1000
  description = "New problems labeled per round (at most 1000 per length in data/unlabeled.jsonl)."
}

variable "pretrain_steps" {
  type        = number
  default     = 2500
  description = "SFT steps (batch 64) on the labeled lengths before self-improvement."
}

variable "round_steps" {
  type        = number
  default     = 1000
  description = "SFT steps (batch 64) per round, continuing from the current model."
}

variable "train_per_length" {
  type        = number
  default     = 5000
  description = "Labeled problems per length for round 0 (at most 5000, lengths 1-7)."
}

variable "replay" {
  type        = number
  default     = 1000
  description = "Round-0 problems replayed in each round's training data, next to every self-label kept so far."
}

variable "scale" {
  type        = string
  default     = "laptop"
  description = "laptop: a 3-layer width-96 model; cluster: a paper-sized 6-layer width-384 NoPE model (run it with larger start/rounds/steps)."
  validation {
    condition     = contains(["laptop", "cluster"], var.scale)
    error_message = "scale must be laptop or cluster."
  }
}

variable "positions" {
  type        = string
  default     = "rope"
  description = "rope (rotary positions; this example's default, a deviation from the paper) or none (NoPE, as in the paper)."
  validation {
    condition     = contains(["rope", "none"], var.positions)
    error_message = "positions must be rope or none."
  }
}

settings {
  seed = 1
}

locals {
  cluster = var.scale == "cluster"
  # Every length reported: the labeled ones and one more per round, plus one.
  lengths = range(1, var.start + var.rounds + 2)
}

dataset "labeled" {
  source = "data/labeled.jsonl"
  schema = object({ digits = number, offset = number, question = string, answer = string })
}

dataset "unlabeled" {
  source = "data/unlabeled.jsonl"
  schema = object({ digits = number, offset = number, question = string, answer = string })
}

dataset "test" {
  source = "data/test.jsonl"
  schema = object({ digits = number, offset = number, question = string, answer = string })
}

# At cluster scale a paper-sized model (6 layers, width 384). There is no
# command-trainer configuration: examples/trainers/trl_sft.py converts to
# Hugging Face Llama, which always uses RoPE, and var.positions can be none.
model "init" {
  provider  = "builtin"
  positions = var.positions
  layers    = local.cluster ? 6 : 3
  dim       = local.cluster ? 384 : 96
  hidden    = local.cluster ? 1536 : 256
  heads     = local.cluster ? 6 : 4
  max_seq   = local.cluster ? 128 : 40
  vocab     = "0123456789+="
  seed      = 1
}

# Round 0: labeled problems of 1..start digits.
stage "filter" "seed_data" {
  input = dataset.labeled
  where = item.digits <= var.start
}

stage "sample" "seed_pool" {
  input = stage.seed_data
  n     = var.train_per_length * var.start
}

stage "sft" "pretrain" {
  base          = model.init
  data          = stage.seed_pool
  prompt        = item.question
  target        = item.answer
  steps         = var.pretrain_steps
  batch_size    = 64
  learning_rate = 0.003
  warmup        = 100
}

stage "filter" "test_set" {
  input = dataset.test
  where = item.digits <= var.start + var.rounds + 1
}

stage "evaluate" "eval0" {
  model       = stage.pretrain.model
  input       = stage.test_set
  prompt      = item.question
  temperature = 0
  max_tokens  = 12
  score       = item.completion == item.answer
  metrics = {
    accuracy = { for L in local.lengths : tostring(L) => fraction([for i, s in scores : s if items[i].digits == L]) }
    # The longest length L such that every length up to L is solved at >= 99%.
    solved = min(concat([length(local.lengths) + 1], [for L in local.lengths : L if fraction([for i, s in scores : s if items[i].digits == L]) < 0.99])...) - 1
  }
}

# No self-labels yet: the state's label pool starts empty.
stage "filter" "no_labels" {
  input = stage.seed_pool
  where = false
}

# The paper's method: majority vote over samples + length filter.
loop "filtered" {
  rounds = var.rounds
  state  = { policy = stage.pretrain.model, pool = stage.no_labels }

  # 1. Problems one digit longer than anything trained on so far.
  stage "filter" "new_problems" {
    input = dataset.unlabeled
    where = item.digits == var.start + round + 1
  }

  stage "sample" "batch" {
    input = stage.new_problems
    n     = var.problems
  }

  # 2. The current model labels them, several samples each.
  stage "generate" "labels" {
    model       = state.policy
    input       = stage.batch
    prompt      = item.question
    samples     = var.samples
    temperature = 0.7
    max_tokens  = 12
  }

  # 3. Majority vote per problem; keep confident labels of the right length.
  stage "vote" "consensus" {
    input  = stage.labels
    group  = item.question
    answer = item.completion
  }

  stage "filter" "kept" {
    input = stage.consensus
    # Length filter, in the frame: an answer of frame+1 columns (the
    # question has 2*frame+2 characters) whose columns outside the
    # problem's (offset .. offset+digits, the carry column included) are 0.
    where = (
      item.agreement >= var.agreement
      && strlen(item.majority) == floor(strlen(item.question) / 2)
      && replace(substr(item.majority, 0, item.offset), "0", "") == ""
      && replace(substr(item.majority, item.offset + item.digits + 1, -1), "0", "") == ""
    )
  }

  # The self-generated label replaces the (never read) true answer.
  stage "map" "self_labeled" {
    input  = stage.kept
    fields = { answer = item.majority }
    drop   = ["prompt", "completion", "sample", "finish_reason", "majority", "votes", "agreement"]
  }

  # 4. Add to the self-labels, replay some round-0 problems, and continue
  # training from the current model.
  stage "concat" "pool" {
    inputs = [state.pool, stage.self_labeled]
  }

  stage "sample" "replay" {
    input = stage.seed_pool
    n     = var.replay
    seed  = round
  }

  stage "concat" "train" {
    inputs = [stage.replay, stage.pool]
  }

  stage "sft" "tune" {
    base          = state.policy
    data          = stage.train
    prompt        = item.question
    target        = item.answer
    steps         = var.round_steps
    batch_size    = 64
    learning_rate = 0.001
    warmup        = 50
    seed          = round
  }

  # 5. Held-out accuracy per length.
  stage "evaluate" "eval" {
    model       = stage.tune.model
    input       = stage.test_set
    prompt      = item.question
    temperature = 0
    max_tokens  = 12
    score       = item.completion == item.answer
    metrics = {
      accuracy = { for L in local.lengths : tostring(L) => fraction([for i, s in scores : s if items[i].digits == L]) }
      solved   = min(concat([length(local.lengths) + 1], [for L in local.lengths : L if fraction([for i, s in scores : s if items[i].digits == L]) < 0.99])...) - 1
    }
  }

  next = { policy = stage.tune.model, pool = stage.pool }
}

# Control arm: the same rounds with no vote and no length filter; each
# problem keeps the label of one sample.
loop "unfiltered" {
  rounds = var.rounds
  state  = { policy = stage.pretrain.model, pool = stage.no_labels }

  stage "filter" "c_new_problems" {
    input = dataset.unlabeled
    where = item.digits == var.start + round + 1
  }

  stage "sample" "c_batch" {
    input = stage.c_new_problems
    n     = var.problems
  }

  stage "generate" "c_labels" {
    model       = state.policy
    input       = stage.c_batch
    prompt      = item.question
    temperature = 0.7
    max_tokens  = 12
  }

  stage "map" "c_self_labeled" {
    input  = stage.c_labels
    fields = { answer = item.completion }
    drop   = ["prompt", "completion", "sample", "finish_reason"]
  }

  stage "concat" "c_pool" {
    inputs = [state.pool, stage.c_self_labeled]
  }

  stage "sample" "c_replay" {
    input = stage.seed_pool
    n     = var.replay
    seed  = round
  }

  stage "concat" "c_train" {
    inputs = [stage.c_replay, stage.c_pool]
  }

  stage "sft" "c_tune" {
    base          = state.policy
    data          = stage.c_train
    prompt        = item.question
    target        = item.answer
    steps         = var.round_steps
    batch_size    = 64
    learning_rate = 0.001
    warmup        = 50
    seed          = round
  }

  stage "evaluate" "c_eval" {
    model       = stage.c_tune.model
    input       = stage.test_set
    prompt      = item.question
    temperature = 0
    max_tokens  = 12
    score       = item.completion == item.answer
    metrics = {
      accuracy = { for L in local.lengths : tostring(L) => fraction([for i, s in scores : s if items[i].digits == L]) }
      solved   = min(concat([length(local.lengths) + 1], [for L in local.lengths : L if fraction([for i, s in scores : s if items[i].digits == L]) < 0.99])...) - 1
    }
  }

  next = { policy = stage.c_tune.model, pool = stage.c_pool }
}

output "solved_filtered" {
  description = "Longest length L with every length up to L solved at >= 99% held-out exact match; first entry is round 0."
  value       = concat([stage.eval0.metrics.solved], loop.filtered.rounds[*].eval.metrics.solved)
}

output "solved_unfiltered" {
  description = "The same for the control arm (no vote, no length filter)."
  value       = concat([stage.eval0.metrics.solved], loop.unfiltered.rounds[*].c_eval.metrics.solved)
}

output "accuracy_filtered" {
  description = "Held-out exact match per length, per round (round 0 first)."
  value       = concat([stage.eval0.metrics.accuracy], loop.filtered.rounds[*].eval.metrics.accuracy)
}

output "accuracy_unfiltered" {
  value = concat([stage.eval0.metrics.accuracy], loop.unfiltered.rounds[*].c_eval.metrics.accuracy)
}

output "pool_size" {
  description = "Training examples per round (var.replay round-0 problems plus every self-label kept so far)."
  value = {
    filtered   = loop.filtered.rounds[*].tune.examples
    unfiltered = loop.unfiltered.rounds[*].c_tune.examples
  }
}
