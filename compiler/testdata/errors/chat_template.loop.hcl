dataset "problems" {
  rows   = [{ question = "1+1", answer = "2" }]
  schema = object({ question = string, answer = string })
}

model "base" {
  provider = "builtin"
}

stage "sft" "no_slot" {
  base          = model.base
  data          = dataset.problems
  prompt        = "Q: ${item.question}\nA:"
  target        = " ${item.answer}"
  chat_template = "Q: {question}\nA:" # ERROR: Invalid chat template
}

stage "sft" "twice" {
  base          = stage.no_slot.model
  data          = dataset.problems
  prompt        = "Q: ${item.question}\nA:"
  target        = " ${item.answer}"
  chat_template = "{user} {user}" # ERROR: Invalid chat template
}

stage "sft" "empty" {
  base          = stage.twice.model
  data          = dataset.problems
  prompt        = "Q: ${item.question}\nA:"
  target        = " ${item.answer}"
  chat_template = "" # ERROR: Invalid chat template
}
