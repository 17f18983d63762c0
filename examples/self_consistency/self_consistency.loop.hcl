# Self-Consistency (Wang, Wei, Schuurmans, Le, Chi, Narang, Chowdhery and
# Zhou, "Self-Consistency Improves Chain of Thought Reasoning in Language
# Models", ICLR 2023, arXiv:2203.11171): sample N answers per question at a
# temperature and answer by majority vote. Accuracy vs N, N = 1, 2, 4, ...
#
# Laptop scale (default): a tiny builtin model briefly trained on 2-digit
# addition, so that it is right often but not always. Cluster scale
# (-var scale=cluster): an OpenAI-compatible server (vLLM, ...) answers.

variable "scale" {
  type        = string
  default     = "laptop"
  description = "laptop: the builtin model trained here; cluster: a served model."
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
  type        = number
  default     = 1500
  description = "SFT steps on 2-digit addition; few enough that single samples are often wrong."
}

variable "doublings" {
  type        = number
  default     = 4
  description = "Round r samples N = 2^r answers per question, r = 0..doublings."
}

variable "questions" {
  type    = number
  default = 100
}

settings {
  seed = 3
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

  # N sampled answers per question. (Sample i is not the same for every N:
  # the sampled answers of one round are not a prefix of the next round's.)
  stage "generate" "paths" {
    model       = local.policy
    input       = dataset.test
    prompt      = "Q: ${item.question}\nA:"
    samples     = pow(2, round)
    temperature = 1.0
    max_tokens  = 8
    stop        = ["\n"]
  }

  stage "extract" "answers" {
    input       = stage.paths
    from        = item.completion
    pattern     = "{answer:int}"
    on_mismatch = "null"
  }

  # Majority vote per question.
  stage "vote" "consensus" {
    input  = stage.answers
    group  = item.question
    answer = try(item.parsed.answer, null)
  }

  # Accuracy of the majority answer (and, for comparison, of one sample),
  # scored over the voted records.
  stage "evaluate" "accuracy" {
    model       = local.policy
    input       = stage.consensus
    prompt      = "Q: ${item.question}\nA:"
    temperature = 1.0
    max_tokens  = 8
    stop        = ["\n"]
    score       = item.majority == item.answer
    metrics = {
      n         = pow(2, round)
      majority  = fraction(scores)
      agreement = mean([for it in items : it.agreement])
      single    = fraction([for it in items : try(it.parsed.answer == it.answer, false)])
    }
  }
}

output "accuracy_vs_n" {
  description = "Per N: majority-vote accuracy, mean agreement, and the accuracy of a single sample."
  value       = loop.n.rounds[*].accuracy.metrics
}
