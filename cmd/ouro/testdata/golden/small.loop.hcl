variable "rounds" {
  type    = number
  default = 2
}

dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

model "m" {
  provider = "builtin"
}

loop "l" {
  rounds = var.rounds
  state  = { policy = model.m }

  stage "sft" "tune" {
    base   = state.policy
    data   = dataset.problems
    prompt = item.question
    target = " ${item.answer}"
    steps  = 10
  }

  next  = { policy = stage.tune.model }
  until = stage.tune.loss < 0.01
}

output "final" {
  value = loop.l.state.policy
}
