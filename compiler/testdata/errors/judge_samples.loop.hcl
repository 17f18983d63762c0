dataset "answers" {
  rows   = [{ text = "4" }]
  schema = object({ text = string })
}

model "judge" {
  provider = "builtin"
}

stage "judge" "scored" {
  model   = model.judge
  input   = dataset.answers
  prompt  = "Rate: ${item.text}\nScore:"
  pattern = "{score:number}"
  samples = 3 # ERROR: judge takes `k`
}

stage "refine" "better" {
  model    = model.judge
  input    = dataset.answers
  prompt   = item.text
  critique = "Critique: ${draft}"
  revise   = "Revise: ${draft} ${feedback}"
  samples  = 2 # ERROR: refine draws one completion
}
