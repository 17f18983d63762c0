dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

model "base" {
  provider = "builtin"
}

stage "generate" "attempts" {
  model  = model.bsae # ERROR: Reference to undeclared model
  input  = dataset.problems
  prompt = item.question
}
