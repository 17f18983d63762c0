# Best-of-N with a verifier: sample N candidates per problem, score each
# with a verifier, keep the best per problem.
# Family: inference refinement (best_of), selection (extract, verify).

dataset "problems" {
  rows = [
    { question = "12+30", answer = 42 },
    { question = "9+9", answer = 18 },
  ]
  schema = object({ question = string, answer = number })
}

model "policy" {
  provider = "builtin"
}

stage "generate" "candidates" {
  model       = model.policy
  input       = dataset.problems
  prompt      = "Q: ${item.question}\nA:"
  samples     = 16
  temperature = 1.0
  logprobs    = true
}

stage "extract" "parsed" {
  input   = stage.candidates
  from    = item.completion
  pattern = "{answer:number}"
}

stage "verify" "checked" {
  input     = stage.parsed
  check     = "numeric"
  answer    = item.parsed.answer
  expected  = item.answer
  tolerance = 0
}

stage "best_of" "best" {
  input = stage.checked
  group = item.question
  # The verifier decides; the model's own confidence breaks ties.
  score = (item.correct ? 1 : 0) + item.logprob / 1000
}

output "best" {
  value = stage.best
}
