# Self-Consistency (Wang et al., 2023, arXiv:2203.11171): sample several
# reasoning paths per question and answer by majority vote.
# Family: inference refinement (vote), with acquisition (generate) and
# selection (extract).

variable "samples" {
  type    = number
  default = 8
}

dataset "questions" {
  rows = [
    { question = "2+3", answer = 5 },
    { question = "4+4", answer = 8 },
    { question = "7+1", answer = 8 },
  ]
  schema = object({ question = string, answer = number })
}

model "policy" {
  provider = "builtin"
  seed     = 1
}

stage "generate" "paths" {
  model       = model.policy
  input       = dataset.questions
  prompt      = "Q: ${item.question}\nA:"
  samples     = var.samples
  temperature = 0.8
  max_tokens  = 24
  stop        = ["\n"]
}

stage "extract" "answers" {
  input       = stage.paths
  from        = item.completion
  pattern     = "= {answer:number}"
  on_mismatch = "null"
}

stage "vote" "consensus" {
  input  = stage.answers
  group  = item.question
  answer = item.parsed.answer
}

stage "map" "scored" {
  input  = stage.consensus
  fields = { correct = item.majority == item.answer }
}

output "accuracy" {
  value = stage.scored
}
