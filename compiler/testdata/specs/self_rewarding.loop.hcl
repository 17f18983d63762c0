# Self-Rewarding Language Models (Yuan et al., 2024, arXiv:2401.10020): the
# policy answers prompts, judges its own answers (LLM-as-a-judge), builds
# preference pairs from the best and worst, and is trained with DPO; the
# next round's judge is the new model.
# Families: acquisition (generate), selection (judge, pair),
# optimization (dpo), evaluation (evaluate, until).

variable "rounds" {
  type    = number
  default = 3
}

dataset "prompts" {
  rows = [
    { prompt = "Explain rain in one sentence.", reference = "Water falls from clouds." },
    { prompt = "Name a prime above 10.", reference = "11" },
  ]
  schema = object({ prompt = string, reference = string })
}

model "seed" {
  provider = "builtin"
  seed     = 3
}

loop "self_reward" {
  rounds = var.rounds
  state  = { policy = model.seed, best = 0 }

  stage "generate" "responses" {
    model       = state.policy
    input       = dataset.prompts
    prompt      = "${item.prompt}\n"
    samples     = 4
    temperature = 0.9
  }

  stage "judge" "scored" {
    model   = state.policy
    input   = stage.responses
    prompt  = "Rate this answer from 0 to 5.\nQ: ${item.prompt}\nA: ${item.completion}\nScore:"
    pattern = "{score:number}"
    k       = 2
  }

  stage "pair" "prefs" {
    input      = stage.scored
    prompt     = item.prompt
    response   = item.completion
    score      = item.score
    min_margin = 1
  }

  stage "dpo" "tuned" {
    base     = state.policy
    data     = stage.prefs
    prompt   = item.prompt
    chosen   = item.chosen
    rejected = item.rejected
    beta     = 0.1
    steps    = 50
  }

  stage "evaluate" "eval" {
    model   = stage.tuned.model
    input   = dataset.prompts
    prompt  = "${item.prompt}\n"
    score   = contains_str(item.completion, item.reference)
    metrics = { accuracy = fraction(scores), round = round }
  }

  next  = { policy = stage.tuned.model, best = max(state.best, stage.eval.metrics.accuracy) }
  until = stage.eval.metrics.accuracy < state.best
}

output "curve" {
  value = loop.self_reward.rounds[*].eval.metrics.accuracy
}

output "final" {
  value = loop.self_reward.state.policy
}
