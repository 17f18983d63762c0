# Self-Rewarding Language Models (Yuan, Pang, Cho, Li, Sukhbaatar, Xu and
# Weston, 2024, arXiv:2401.10020): the model answers prompts, judges its own
# answers as an LLM-as-a-judge, pairs its best and worst answer per prompt,
# and is trained with DPO; the next iteration's actor *and* judge is the new
# model.

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
  description = "At cluster scale: the seed model (a builtin checkpoint that already answers and judges)."
}

variable "trainer" {
  type        = string
  default     = "builtin"
  description = "Who runs the seed SFT: builtin, or command (examples/trainers/trl_sft.py)."
}

variable "iterations" {
  type    = number
  default = 3
}

variable "responses" {
  type        = number
  default     = 4
  description = "Responses sampled per prompt (the paper: 4)."
}

variable "prompts" {
  type    = number
  default = 300
}

variable "seed_steps" {
  type    = number
  default = 3500
}

variable "dpo_steps" {
  type    = number
  default = 150
}

variable "dpo_lr" {
  type        = number
  default     = 0.000001
  description = "DPO learning rate (1e-4 destroys the one-token answers; see examples/spin)."
}

settings {
  seed = 29
}

dataset "train" {
  source = "data/train.jsonl"
  schema = object({ question = string, answer = number })
}

dataset "test" {
  source = "data/test.jsonl"
  schema = object({ question = string, answer = number })
}

model "local" {
  provider   = "builtin"
  checkpoint = var.scale == "cluster" ? var.base_checkpoint : null
  layers     = 2
  dim        = 64
  max_seq    = 48
  seed       = 3
}

# The seed model (the paper: Llama 2 70B fine-tuned on instruction data
# (IFT) and on judging examples (EFT)). Here: answers to 2-digit sums, and
# judgements "5" for a right answer, "0" for a wrong one.
stage "map" "ift" {
  input  = dataset.train
  fields = { prompt = "Q: ${item.question}\nA:", target = " ${item.answer}" }
  drop   = ["question", "answer"]
}

stage "map" "eft_right" {
  input  = dataset.train
  fields = { prompt = "Judge. Q: ${item.question} A: ${item.answer}\nScore:", target = " 5" }
  drop   = ["question", "answer"]
}

stage "map" "eft_wrong" {
  input = dataset.train
  fields = {
    prompt = "Judge. Q: ${item.question} A: ${item.answer + (strlen(item.question) % 2 == 0 ? 1 : 10)}\nScore:"
    target = " 0"
  }
  drop = ["question", "answer"]
}

stage "concat" "seed_data" {
  inputs = [stage.ift, stage.eft_right, stage.eft_wrong]
}

stage "sft" "seed" {
  base          = model.local
  data          = stage.seed_data
  prompt        = item.prompt
  target        = item.target
  steps         = var.seed_steps
  batch_size    = 32
  learning_rate = 0.003
  trainer       = var.trainer
  command       = var.trainer == "command" ? ["python3", "../trainers/trl_sft.py"] : null
}

locals {
  seed_model = var.scale == "cluster" ? model.local : stage.seed.model
}

# Round 0: the shared evaluation module (greedy, exact integer match),
# the same stage the loop's "eval" spells out for each later round.
module "eval0" {
  source   = "../modules/accuracy"
  model    = local.seed_model
  problems = dataset.test
}

loop "self_reward" {
  rounds = var.iterations
  state  = { policy = local.seed_model }

  stage "sample" "prompts" {
    input = dataset.train
    n     = var.prompts
    seed  = round
  }

  # 1. Self-instruction creation: N responses per prompt ...
  stage "generate" "responses" {
    model       = state.policy
    input       = stage.prompts
    prompt      = "Q: ${item.question}\nA:"
    samples     = var.responses
    temperature = 1.0
    max_tokens  = 8
    stop        = ["\n"]
  }

  # ... judged by the same model (LLM-as-a-judge, averaged over 3 samples).
  stage "judge" "scored" {
    model       = state.policy
    input       = stage.responses
    prompt      = "Judge. Q: ${item.question} A: ${trimspace(item.completion)}\nScore:"
    pattern     = "{score:number}"
    k           = 3
    temperature = 1.0
    max_tokens  = 4
  }

  # 2. Pairs: highest vs lowest score per prompt (ties dropped).
  stage "pair" "prefs" {
    input    = stage.scored
    prompt   = item.prompt
    response = item.completion
    score    = item.score
  }

  # 3. DPO from the current model.
  stage "dpo" "tuned" {
    base          = state.policy
    data          = stage.prefs
    prompt        = item.prompt
    chosen        = item.chosen
    rejected      = item.rejected
    beta          = 0.1
    steps         = var.dpo_steps
    batch_size    = 16
    learning_rate = var.dpo_lr
  }

  stage "evaluate" "eval" {
    model       = stage.tuned.model
    input       = dataset.test
    prompt      = "Q: ${item.question}\nA:"
    temperature = 0
    max_tokens  = 8
    stop        = ["\n"]
    score       = extract_int(item.completion) == item.answer
    metrics     = { accuracy = fraction(scores) }
  }

  # How often the self-judge was right about a response this iteration.
  stage "evaluate" "judge_quality" {
    model      = state.policy
    input      = stage.scored
    prompt     = item.prompt
    max_tokens = 1
    score      = (extract_int(item.completion) == item.answer) == (coalesce(item.score, 0) >= 2.5)
    metrics    = { agreement = fraction(scores) }
  }

  next = { policy = stage.tuned.model }
}

output "accuracy" {
  description = "Held-out greedy accuracy: the seed model, then every iteration."
  value       = concat([module.eval0.accuracy], loop.self_reward.rounds[*].eval.metrics.accuracy)
}

output "judge_agreement" {
  description = "Share of responses the self-judge scored on the right side of 2.5, per iteration."
  value       = loop.self_reward.rounds[*].judge_quality.metrics.agreement
}

output "pairs" {
  value = loop.self_reward.rounds[*].tuned.examples
}
