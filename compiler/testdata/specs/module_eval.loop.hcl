# Modules: one evaluation, written once in examples/modules/accuracy and
# used twice, before and after a short SFT step. Family: autonomous
# evaluation (evaluate) through a module; model optimization (sft).

dataset "heldout" {
  rows = [
    { question = "12+30", answer = 42, level = "easy" },
    { question = "9+9", answer = 18, level = "easy" },
  ]
  schema = object({ question = string, answer = number, level = string })
}

dataset "train" {
  rows = [
    { prompt = "Q: 1+1\nA:", completion = " 2" },
    { prompt = "Q: 2+3\nA:", completion = " 5" },
  ]
  schema = object({ prompt = string, completion = string })
}

model "base" {
  provider = "builtin"
}

stage "sft" "tune" {
  base   = model.base
  data   = dataset.train
  prompt = item.prompt
  target = item.completion
  steps  = 2
}

module "before" {
  source   = "../../../examples/modules/accuracy"
  model    = model.base
  problems = dataset.heldout
}

module "after" {
  source     = "../../../examples/modules/accuracy"
  model      = stage.tune.model
  problems   = dataset.heldout
  max_tokens = 8
}

output "gain" {
  value = module.after.accuracy - module.before.accuracy
}
