# STaR: Self-Taught Reasoner (Zelikman et al., 2022, arXiv:2203.14465),
# scaled down to 2-digit addition with a rationale on the builtin model.
#
# Each round: sample rationales from the current policy, keep those whose
# final answer is right, rationalise the failures by showing the answer as a
# hint, fine-tune the *base* model on everything kept, evaluate on held-out
# problems, stop when a round stops helping.

variable "rounds" {
  type        = number
  default     = 3
  description = "Outer-loop iterations."
  validation {
    condition     = var.rounds >= 1 && var.rounds <= 20
    error_message = "rounds must be between 1 and 20."
  }
}

variable "samples" {
  type        = number
  default     = 4
  description = "Rationales sampled per training question each round."
}

variable "base_steps" {
  type        = number
  default     = 800
  description = "SFT steps that teach the base model the rationale format."
}

variable "tune_steps" {
  type        = number
  default     = 800
  description = "SFT steps per round on the kept rationales."
}

settings {
  seed = 1
}

dataset "train" {
  source = "data/train.jsonl"
  schema = object({ question = string, a = number, b = number, answer = number })
}

dataset "heldout" {
  source = "data/heldout.jsonl"
  schema = object({ question = string, a = number, b = number, answer = number })
}

dataset "seed_rationales" {
  source = "data/seed.jsonl"
  schema = object({ question = string, rationale = string })
}

model "init" {
  provider  = "builtin"
  layers    = 2
  dim       = 64
  heads     = 4
  max_seq   = 64
  positions = "rope"
  seed      = 7
}

# The paper prompts a pretrained model with a few worked examples; our
# from-scratch model instead learns the rationale format from them.
stage "map" "seed_examples" {
  input  = dataset.seed_rationales
  fields = { prompt = "Q: ${item.question}\nA:", completion = " ${item.rationale}" }
  drop   = ["rationale"]
}

stage "sft" "base" {
  base          = model.init
  data          = stage.seed_examples
  prompt        = item.prompt
  target        = item.completion
  steps         = var.base_steps
  batch_size    = 16
  learning_rate = 0.003
}

stage "evaluate" "eval0" {
  model       = stage.base.model
  input       = dataset.heldout
  prompt      = "Q: ${item.question}\nA:"
  temperature = 0
  max_tokens  = 32
  stop        = ["\n"]
  score       = extract_number(item.completion) == item.answer
  metrics     = { accuracy = fraction(scores) }
}

loop "star" {
  rounds = var.rounds
  state  = { policy = stage.base.model, best = stage.eval0.metrics.accuracy }

  # 1. Sample rationales from the current policy.
  stage "generate" "attempts" {
    model       = state.policy
    input       = dataset.train
    prompt      = "Q: ${item.question}\nA:"
    samples     = var.samples
    temperature = 0.7
    max_tokens  = 32
    stop        = ["\n"]
  }

  # 2. Keep the rationales whose final answer is right.
  stage "extract" "parsed" {
    input       = stage.attempts
    from        = item.completion
    pattern     = "= {answer:int}"
    on_mismatch = "drop"
  }

  stage "filter" "correct" {
    input = stage.parsed
    where = item.parsed.answer == item.answer
  }

  stage "map" "correct_examples" {
    input  = stage.correct
    fields = {}
    drop   = ["a", "b", "answer", "sample", "finish_reason", "parsed"]
  }

  # 3. Rationalisation: show the answer as a hint; keep rationales that
  #    reach it, and train on them *without* the hint.
  stage "generate" "hinted" {
    model       = state.policy
    input       = dataset.train
    prompt      = "Q: ${item.question} (${item.answer})\nA:"
    temperature = 0.7
    max_tokens  = 32
    stop        = ["\n"]
  }

  stage "filter" "rationalised" {
    input = stage.hinted
    where = extract_number(item.completion) == item.answer
  }

  stage "map" "rationalised_examples" {
    input  = stage.rationalised
    fields = { prompt = "Q: ${item.question}\nA:" }
    drop   = ["a", "b", "answer", "sample", "finish_reason"]
  }

  stage "concat" "kept" {
    inputs = [stage.seed_examples, stage.correct_examples, stage.rationalised_examples]
  }

  # 4. Fine-tune the *base* model on everything kept (STaR restarts from
  #    the base each round rather than continuing from the policy).
  stage "sft" "tune" {
    base          = stage.base.model
    data          = stage.kept
    prompt        = item.prompt
    target        = item.completion
    steps         = var.tune_steps
    batch_size    = 16
    learning_rate = 0.003
  }

  # 5. Held-out accuracy of this round's model.
  stage "evaluate" "eval" {
    model       = stage.tune.model
    input       = dataset.heldout
    prompt      = "Q: ${item.question}\nA:"
    temperature = 0
    max_tokens  = 32
    stop        = ["\n"]
    score       = extract_number(item.completion) == item.answer
    metrics     = { accuracy = fraction(scores) }
  }

  next  = { policy = stage.tune.model, best = max(state.best, stage.eval.metrics.accuracy) }
  until = stage.eval.metrics.accuracy <= state.best
}

output "accuracy" {
  description = "Held-out accuracy per round; round 0 is before any self-training."
  value       = concat([stage.eval0.metrics.accuracy], loop.star.rounds[*].eval.metrics.accuracy)
}
