# Self-Instruct (Wang, Kordi, Mishra, Liu, Smith, Khashabi and Hajishirzi,
# "Self-Instruct: Aligning Language Models with Self-Generated
# Instructions", ACL 2023, arXiv:2212.10560).
#
# From a small pool of seed tasks the model writes new tasks (instruction
# and answer), shown one pool task as an in-context example; malformed or
# too-short ones are dropped; near-duplicates of the pool are removed with
# MinHash; the pool grows. Finally the model is instruction-tuned on the
# grown pool, and compared with tuning on the seeds alone.

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
  default = "Qwen/Qwen2.5-0.5B"
}

variable "trainer" {
  type        = string
  default     = "builtin"
  description = "Who runs the instruction tuning: builtin, or command (examples/trainers/trl_sft.py)."
}

variable "rounds" {
  type    = number
  default = 3
}

variable "proposals" {
  type        = number
  default     = 3
  description = "New tasks sampled per pool task each round."
}

variable "pretrain_steps" {
  type    = number
  default = 1500
}

variable "tune_steps" {
  type    = number
  default = 400
}

settings {
  seed = 23
}

dataset "seeds" {
  source = "data/seeds.jsonl"
  schema = object({ instruction = string, output = string })
}

dataset "pretrain" {
  source = "data/pretrain.jsonl"
  schema = object({ instruction = string, output = string, next = string, next_output = string })
}

dataset "heldout" {
  source = "data/heldout.jsonl"
  schema = object({ instruction = string, output = string })
}

model "local" {
  provider = "builtin"
  layers   = 2
  dim      = 64
  max_seq  = 96
  seed     = 5
}

model "server" {
  provider = "openai"
  base_url = var.base_url
  name     = var.model_name
  api      = "completions"
}

# The paper's vanilla pretrained LM: here a tiny model trained to continue
# a task with another task (it has seen the task families, not the seeds).
stage "sft" "pretrain" {
  base          = model.local
  data          = dataset.pretrain
  prompt        = "Task: ${item.instruction}\nAnswer: ${item.output}\nNew task:"
  target        = " ${item.next}\nAnswer: ${item.next_output}"
  steps         = var.pretrain_steps
  batch_size    = 32
  learning_rate = 0.003
}

locals {
  generator = var.scale == "cluster" ? model.server : stage.pretrain.model
}

loop "grow" {
  rounds = var.rounds
  state  = { pool = dataset.seeds }

  # 1. Instruction (and answer) generation from a pool task.
  stage "generate" "proposals" {
    model       = local.generator
    input       = state.pool
    prompt      = "Task: ${item.instruction}\nAnswer: ${item.output}\nNew task:"
    samples     = var.proposals
    temperature = 1.0
    max_tokens  = 48
    seed        = round
  }

  stage "extract" "tasks" {
    input       = stage.proposals
    from        = item.completion
    pattern     = " {instruction:line}\nAnswer: {output:line}"
    as          = "task"
    on_mismatch = "drop"
  }

  # 2. Heuristic filters (the paper drops too short/long instructions and
  #    ones that copy the example).
  stage "filter" "plausible" {
    input = stage.tasks
    where = (
      word_count(item.task.instruction) >= 2 && word_count(item.task.instruction) <= 8 &&
      endswith(item.task.instruction, ".") && item.task.instruction != item.instruction &&
      strlen(item.task.output) > 0
    )
  }

  stage "map" "records" {
    input  = stage.plausible
    fields = { instruction = item.task.instruction, output = item.task.output }
    drop   = ["task", "prompt", "completion", "sample", "finish_reason"]
  }

  # 3. Near-duplicate filter against the pool and each other: the pool comes
  #    first, so a new task similar to a pool task is the one dropped.
  stage "concat" "grown" {
    inputs = [state.pool, stage.records]
  }

  stage "dedupe" "unique" {
    input     = stage.grown
    method    = "minhash"
    text      = item.instruction
    threshold = 0.7
    shingle   = 2
  }

  # Bookkeeping for the table: how the pool grew this round.
  stage "evaluate" "growth" {
    model      = local.generator
    input      = stage.unique
    prompt     = "Task: ${item.instruction}\nAnswer:"
    max_tokens = 1
    score      = item.instruction
    metrics = {
      pool     = length(scores)
      distinct = length(distinct(scores))
    }
  }

  next = { pool = stage.unique }
}

# 4. Instruction tuning: on the grown pool, and (the baseline) on the seeds.
stage "sft" "tuned_on_pool" {
  base          = stage.pretrain.model
  data          = loop.grow.state.pool
  prompt        = "Task: ${item.instruction}\nAnswer:"
  target        = " ${item.output}"
  steps         = var.tune_steps
  batch_size    = 32
  learning_rate = 0.001
  trainer       = var.trainer
  command       = var.trainer == "command" ? ["python3", "../trainers/trl_sft.py"] : null
}

stage "sft" "tuned_on_seeds" {
  base          = stage.pretrain.model
  data          = dataset.seeds
  prompt        = "Task: ${item.instruction}\nAnswer:"
  target        = " ${item.output}"
  steps         = var.tune_steps
  batch_size    = 32
  learning_rate = 0.001
  trainer       = var.trainer
  command       = var.trainer == "command" ? ["python3", "../trainers/trl_sft.py"] : null
}

stage "evaluate" "eval_pool" {
  model       = stage.tuned_on_pool.model
  input       = dataset.heldout
  prompt      = "Task: ${item.instruction}\nAnswer:"
  temperature = 0
  max_tokens  = 16
  stop        = ["\n"]
  score       = trimspace(item.completion) == item.output
  metrics     = { accuracy = fraction(scores) }
}

stage "evaluate" "eval_seeds" {
  model       = stage.tuned_on_seeds.model
  input       = dataset.heldout
  prompt      = "Task: ${item.instruction}\nAnswer:"
  temperature = 0
  max_tokens  = 16
  stop        = ["\n"]
  score       = trimspace(item.completion) == item.output
  metrics     = { accuracy = fraction(scores) }
}

output "pool_size" {
  description = "Pool size after each round (12 seeds at the start)."
  value       = loop.grow.rounds[*].growth.metrics.pool
}

output "heldout_accuracy" {
  description = "Held-out task accuracy after instruction tuning on the grown pool vs on the seeds only."
  value = {
    pool  = stage.eval_pool.metrics.accuracy
    seeds = stage.eval_seeds.metrics.accuracy
  }
}
