# Self-Refine (Madaan, Tandon, Gupta et al., "Self-Refine: Iterative
# Refinement with Self-Feedback", NeurIPS 2023, arXiv:2303.17651): the same
# model drafts an answer, critiques it, and revises it with its own
# feedback, until the feedback says it is done. Accuracy vs the number of
# critique-revise iterations.

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
  description = "Who runs the few-shot substitute SFT: builtin, or command (examples/trainers/trl_sft.py)."
}

variable "max_iterations" {
  type        = number
  default     = 3
  description = "Round r allows r critique-revise iterations, r = 1..max_iterations."
}

variable "pretrain_steps" {
  type    = number
  default = 3000
}

variable "questions" {
  type    = number
  default = 100
}

settings {
  seed = 31
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
  max_seq  = 64
  seed     = 3
}

model "server" {
  provider = "openai"
  base_url = var.base_url
  name     = var.model_name
  api      = "completions"
}

# The paper prompts a large LM with few-shot examples of each role; our
# from-scratch model learns the three roles instead: answer, give feedback
# ("DONE", "too high", "too low"), revise given the feedback.
stage "map" "answer_ex" {
  input  = dataset.train
  fields = { p = "Q: ${item.question}\nA:", t = " ${item.answer}" }
  drop   = ["question", "answer"]
}

stage "map" "done_ex" {
  input  = dataset.train
  fields = { p = "Q: ${item.question}\nA: ${item.answer}\nFeedback:", t = " DONE" }
  drop   = ["question", "answer"]
}

stage "map" "high_ex" {
  input = dataset.train
  fields = {
    p = "Q: ${item.question}\nA: ${item.answer + (strlen(item.question) % 2 == 0 ? 1 : 10)}\nFeedback:"
    t = " too high"
  }
  drop = ["question", "answer"]
}

stage "map" "low_ex" {
  input = dataset.train
  fields = {
    p = "Q: ${item.question}\nA: ${item.answer - (strlen(item.question) % 2 == 0 ? 1 : 10)}\nFeedback:"
    t = " too low"
  }
  drop = ["question", "answer"]
}

stage "map" "fix_high_ex" {
  input = dataset.train
  fields = {
    p = "Q: ${item.question}\nA: ${item.answer + (strlen(item.question) % 2 == 0 ? 1 : 10)}\nFeedback: too high\nRevised:"
    t = " ${item.answer}"
  }
  drop = ["question", "answer"]
}

stage "map" "fix_low_ex" {
  input = dataset.train
  fields = {
    p = "Q: ${item.question}\nA: ${item.answer - (strlen(item.question) % 2 == 0 ? 1 : 10)}\nFeedback: too low\nRevised:"
    t = " ${item.answer}"
  }
  drop = ["question", "answer"]
}

stage "concat" "role_data" {
  inputs = [stage.answer_ex, stage.done_ex, stage.high_ex, stage.low_ex, stage.fix_high_ex, stage.fix_low_ex]
}

stage "sft" "roles" {
  base          = model.local
  data          = stage.role_data
  prompt        = item.p
  target        = item.t
  steps         = var.pretrain_steps
  batch_size    = 32
  learning_rate = 0.003
  trainer       = var.trainer
  command       = var.trainer == "command" ? ["python3", "../trainers/trl_sft.py"] : null
}

locals {
  writer = var.scale == "cluster" ? model.server : stage.roles.model
}

loop "k" {
  rounds = var.max_iterations

  stage "refine" "answers" {
    model       = local.writer
    input       = dataset.test
    prompt      = "Q: ${item.question}\nA:"
    critique    = "Q: ${item.question}\nA: ${trimspace(draft)}\nFeedback:"
    revise      = "Q: ${item.question}\nA: ${trimspace(draft)}\nFeedback: ${trimspace(feedback)}\nRevised:"
    iterations  = round + 1
    stop_when   = "DONE"
    temperature = 0
    max_tokens  = 10
    stop        = ["\n"]
  }

  # Accuracy of the first draft and of the refined answer (evaluate's own
  # one-token generation is ignored).
  stage "evaluate" "accuracy" {
    model      = local.writer
    input      = stage.answers
    prompt     = "Q: ${item.question}\nA:"
    max_tokens = 1
    score      = extract_int(item.refined) == item.answer
    metrics = {
      iterations = round + 1
      draft      = fraction([for it in items : extract_int(it.draft) == it.answer])
      refined    = fraction(scores)
    }
  }
}

output "accuracy_vs_iterations" {
  value = loop.k.rounds[*].accuracy.metrics
}
