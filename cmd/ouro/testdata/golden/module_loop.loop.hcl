# A module in a loop, counted: examples/modules/accuracy evaluates each
# seed's tuned model every round; `until` reads the instances' outputs.
variable "seeds" {
  type    = number
  default = 2
}

dataset "train" {
  rows = [
    { prompt = "Q: 1+1\nA:", completion = " 2" },
    { prompt = "Q: 2+3\nA:", completion = " 5" },
  ]
  schema = object({ prompt = string, completion = string })
}

dataset "test" {
  rows   = [{ question = "1+1", answer = 2 }, { question = "2+3", answer = 5 }]
  schema = object({ question = string, answer = number })
}

model "base" {
  provider = "builtin"
  count    = var.seeds
  seed     = count.index
}

loop "l" {
  rounds = 2
  state  = { policies = model.base[*] }

  stage "sft" "tune" {
    count  = var.seeds
    base   = state.policies[count.index]
    data   = dataset.train
    prompt = item.prompt
    target = item.completion
    steps  = 2
  }

  module "eval" {
    count    = var.seeds
    source   = "../../../../examples/modules/accuracy"
    model    = stage.tune[count.index].model
    problems = dataset.test
  }

  next  = { policies = stage.tune[*].model }
  until = min(module.eval[*].accuracy...) >= 1
}

output "accuracy" {
  value = [for r in loop.l.rounds : r.eval[*].accuracy]
}
