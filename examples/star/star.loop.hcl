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
  type    = number
  default = 4
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
  max_seq   = 96
  positions = "rope"
  seed      = 7
}

# A few-shot-free stand-in for the paper's prompted base model: teach the
# format on a handful of worked examples.
stage "sft" "base" {
  base   = model.init
  data   = dataset.seed_rationales
  prompt = "Q: ${item.question}\nA:"
  target = " ${item.rationale}"
  steps  = 300
}

stage "evaluate" "eval0" {
  model       = stage.base.model
  input       = dataset.heldout
  prompt      = "Q: ${item.question}\nA:"
  temperature = 0
  max_tokens  = 40
  score       = extract_number(item.completion) == item.answer
  metrics     = { accuracy = fraction(scores) }
}

loop "star" {
  rounds = var.rounds
  state  = { policy = stage.base.model, best = stage.eval0.metrics.accuracy }

  stage "generate" "attempts" {
    model       = state.policy
    input       = dataset.train
    prompt      = "Q: ${item.question}\nA:"
    samples     = var.samples
    temperature = 0.7
    max_tokens  = 40
    stop        = ["\n"]
  }

  stage "extract" "parsed" {
    input   = stage.attempts
    from    = item.completion
    pattern = "= {answer:number}"
  }

  stage "filter" "correct" {
    input = stage.parsed
    where = item.parsed.answer == item.answer
  }

  # Rationalisation: for problems the model got wrong, show the answer as a
  # hint and keep rationales that reach it.
  stage "generate" "hinted" {
    model       = state.policy
    input       = dataset.train
    prompt      = "Q: ${item.question} (answer ${item.answer})\nA:"
    temperature = 0.7
    max_tokens  = 40
    stop        = ["\n"]
  }

  stage "filter" "rationalised" {
    input = stage.hinted
    where = extract_number(item.completion) == item.answer
  }

  stage "map" "plain_prompts" {
    input  = stage.rationalised
    fields = { prompt = "Q: ${item.question}\nA:" }
  }

  stage "map" "correct_plain" {
    input  = stage.correct
    fields = {}
    drop   = ["parsed"]
  }

  stage "concat" "kept" {
    inputs = [stage.correct_plain, stage.plain_prompts]
  }

  stage "sft" "tune" {
    base   = stage.base.model # STaR restarts from the base model each round
    data   = stage.kept
    prompt = item.prompt
    target = item.completion
    steps  = 200
  }

  stage "evaluate" "eval" {
    model       = stage.tune.model
    input       = dataset.heldout
    prompt      = "Q: ${item.question}\nA:"
    temperature = 0
    max_tokens  = 40
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
