# Self-Refine (Madaan et al., 2023, arXiv:2303.17651): draft, critique,
# revise with the same model until the critique says it is done.
# Family: inference refinement (refine).

dataset "tasks" {
  rows = [
    { topic = "the sea" },
    { topic = "a library at night" },
  ]
  schema = object({ topic = string })
}

model "writer" {
  provider = "builtin"
}

stage "refine" "poems" {
  model      = model.writer
  input      = dataset.tasks
  prompt     = "Write two lines about ${item.topic}.\n"
  critique   = "Lines about ${item.topic}:\n${draft}\nWhat should improve? Say DONE if nothing.\n"
  revise     = "Lines:\n${draft}\nFeedback: ${feedback}\nImproved lines:\n"
  iterations = 3
  stop_when  = "DONE"
  max_tokens = 48
}

stage "map" "final" {
  input  = stage.poems
  fields = { text = item.refined, steps = length(item.history) }
  drop   = ["draft", "history"]
}

output "poems" {
  value = stage.final
}
