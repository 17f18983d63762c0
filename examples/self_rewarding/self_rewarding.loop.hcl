# Self-Rewarding Language Models (Yuan, Pang, Cho, Li, Sukhbaatar, Xu and
# Weston, 2024, arXiv:2401.10020): the model answers prompts, judges its own
# answers as an LLM-as-a-judge, pairs its best and worst answer per prompt,
# and is trained with DPO; the next iteration's actor *and* judge is the new
# model.
#
# Everything runs for var.seeds independently initialised models. The
# control arm spends the same optimizer steps per iteration on more SFT of
# the seed data (IFT + EFT), so a gain over it comes from the self-rewarded
# pairs and not from training longer.

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

variable "seeds" {
  type        = number
  default     = 3
  description = "Independent runs (model init); every arm runs for each."
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

variable "labeled" {
  type        = number
  default     = 500
  description = "Labeled problems the seed is built from (IFT, and the EFT judgements of the answerer's answers to them)."
}

variable "answerer_steps" {
  type        = number
  default     = 300
  description = "SFT steps of the answerer whose sampled answers become the EFT examples."
}

variable "seed_steps" {
  type        = number
  default     = 1000
  description = "SFT steps on IFT + EFT, continuing from the answerer."
}

variable "dpo_epochs" {
  type        = number
  default     = 4
  description = "DPO passes over the iteration's pairs (a fixed step count overfits when there are few pairs)."
}

variable "dpo_lr" {
  type        = number
  default     = 0.00005
  description = "DPO (and control SFT) learning rate; 1e-4 with 150 fixed steps destroyed the answers (examples/spin)."
}

variable "dpo_beta" {
  type    = number
  default = 0.1
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
  count      = var.seeds
  provider   = "builtin"
  checkpoint = var.scale == "cluster" ? var.base_checkpoint : null
  layers     = 2
  dim        = 64
  max_seq    = 48
  seed       = 3 + count.index
}

# The seed model (the paper: Llama 2 70B fine-tuned on instruction data
# (IFT) and on judging examples (EFT)). Here: answers to var.labeled 2-digit
# sums, and judgements of answers a weaker model gave to them: "5" for a
# right answer, "0" for a wrong one.
stage "sample" "labeled" {
  input = dataset.train
  n     = var.labeled
}

stage "map" "ift" {
  input  = stage.labeled
  fields = { prompt = "Q: ${item.question}\nA:", target = " ${item.answer}" }
  drop   = ["question", "answer"]
}

stage "sft" "answerer" {
  count         = var.seeds
  base          = model.local[count.index]
  data          = stage.ift
  prompt        = item.prompt
  target        = item.target
  steps         = var.answerer_steps
  batch_size    = 32
  learning_rate = 0.003
}

stage "generate" "eft_answers" {
  count       = var.seeds
  model       = stage.answerer[count.index].model
  input       = stage.labeled
  prompt      = "Q: ${item.question}\nA:"
  samples     = 2
  temperature = 1.0
  max_tokens  = 8
  stop        = ["\n"]
}

stage "map" "eft" {
  count = var.seeds
  input = stage.eft_answers[count.index]
  fields = {
    prompt = "Judge. Q: ${item.question} A: ${trimspace(item.completion)}\nScore:"
    target = extract_int(item.completion) == item.answer ? " 5" : " 0"
  }
  drop = ["question", "answer", "completion", "sample", "finish_reason"]
}

stage "concat" "seed_data" {
  count  = var.seeds
  inputs = [stage.ift, stage.eft[count.index]]
}

stage "sft" "seed" {
  count         = var.seeds
  base          = stage.answerer[count.index].model
  data          = stage.seed_data[count.index]
  prompt        = item.prompt
  target        = item.target
  steps         = var.seed_steps
  batch_size    = 32
  learning_rate = 0.003
  trainer       = var.trainer
  command       = var.trainer == "command" ? ["python3", "../trainers/trl_sft.py"] : null
}

locals {
  seed_models = var.scale == "cluster" ? model.local[*] : stage.seed[*].model
}

# Round 0: greedy exact-match accuracy of each seed model, by the shared
# module examples/modules/accuracy (the loop's "eval" and "control_eval"
# use it for later rounds).
module "eval0" {
  count    = var.seeds
  source   = "../modules/accuracy"
  model    = local.seed_models[count.index]
  problems = dataset.test
}

loop "self_reward" {
  rounds = var.iterations
  state  = { policies = local.seed_models, controls = local.seed_models }

  stage "sample" "prompts" {
    input = dataset.train
    n     = var.prompts
    seed  = round
  }

  # 1. Self-instruction creation: N responses per prompt ...
  stage "generate" "responses" {
    count       = var.seeds
    model       = state.policies[count.index]
    input       = stage.prompts
    prompt      = "Q: ${item.question}\nA:"
    samples     = var.responses
    temperature = 1.0
    max_tokens  = 8
    stop        = ["\n"]
  }

  # ... judged by the same model (LLM-as-a-judge, averaged over 3 samples).
  stage "judge" "scored" {
    count       = var.seeds
    model       = state.policies[count.index]
    input       = stage.responses[count.index]
    prompt      = "Judge. Q: ${item.question} A: ${trimspace(item.completion)}\nScore:"
    pattern     = "{score:number}"
    k           = 3
    temperature = 1.0
    max_tokens  = 4
  }

  # 2. Pairs: highest vs lowest score per prompt (ties dropped).
  stage "pair" "prefs" {
    count    = var.seeds
    input    = stage.scored[count.index]
    prompt   = item.prompt
    response = item.completion
    score    = item.score
  }

  # 3. DPO from the current model (also the reference).
  stage "dpo" "tuned" {
    count         = var.seeds
    base          = state.policies[count.index]
    data          = stage.prefs[count.index]
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
    model    = stage.tuned[count.index].model
    problems = dataset.test
  }

  # How good the self-judge was this iteration. The response is kept under
  # another name: evaluate generates a completion of its own.
  stage "map" "judged" {
    count  = var.seeds
    input  = stage.scored[count.index]
    fields = { response = item.completion, judge_prompt = "Q: ${item.question}\nA:" }
  }

  stage "evaluate" "judge_quality" {
    count      = var.seeds
    model      = state.policies[count.index]
    input      = stage.judged[count.index]
    prompt     = item.judge_prompt
    max_tokens = 1
    score      = (extract_int(item.response) == item.answer) == (coalesce(item.score, 0) >= 2.5)
    metrics = {
      agreement = fraction(scores)
      right     = fraction([for i in items : extract_int(i.response) == i.answer])
    }
  }

  # Control arm: the same optimizer steps (batch, learning rate) from the
  # same model, SFT on the seed data instead of DPO on self-rewarded pairs.
  stage "sft" "control" {
    count         = var.seeds
    base          = state.controls[count.index]
    data          = stage.seed_data[count.index]
    prompt        = item.prompt
    target        = item.target
    steps         = max(1, ceil(var.dpo_epochs * stage.tuned[count.index].examples / 16))
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

  next = { policies = stage.tuned[*].model, controls = stage.control[*].model }
}

output "accuracy" {
  description = "Held-out greedy accuracy: the seed models, then every iteration, one entry per seed."
  value       = concat([module.eval0[*].accuracy], [for r in loop.self_reward.rounds : r.eval[*].accuracy])
}

output "accuracy_mean" {
  value = concat([mean(module.eval0[*].accuracy)], [for r in loop.self_reward.rounds : mean(r.eval[*].accuracy)])
}

output "accuracy_control" {
  description = "Control arm (the same steps of SFT on the seed data), per iteration, one entry per seed."
  value       = [for r in loop.self_reward.rounds : r.control_eval[*].accuracy]
}

output "accuracy_control_mean" {
  value = [for r in loop.self_reward.rounds : mean(r.control_eval[*].accuracy)]
}

output "judge_agreement" {
  description = "Share of responses the self-judge scored on the right side of 2.5, per iteration, one entry per seed."
  value       = [for r in loop.self_reward.rounds : r.judge_quality[*].metrics.agreement]
}

output "responses_right" {
  description = "Share of the sampled responses that are right (a judge that always says 5 agrees this often)."
  value       = [for r in loop.self_reward.rounds : r.judge_quality[*].metrics.right]
}

output "pairs" {
  value = [for r in loop.self_reward.rounds : r.tuned[*].examples]
}
