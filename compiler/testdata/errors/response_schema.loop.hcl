dataset "problems" {
  rows   = [{ question = "2+2" }]
  schema = object({ question = string })
}

model "m" {
  provider = "builtin"
}

stage "generate" "answers" {
  model  = model.m
  input  = dataset.problems
  prompt = "Q: ${item.question}\nA:"
  schema = object({ answer = number, reasoning = string })
}

stage "filter" "typed" {
  input = stage.answers
  where = item.parsed.answer == 4 && item.parsed.reasoning != ""
}

stage "filter" "misspelt" {
  input = stage.answers
  where = item.parsed.anwser == 4 # ERROR: Did you mean "answer"?
}

stage "filter" "wrong_type" {
  input = stage.answers
  where = item.parsed.reasoning # ERROR: must be bool, but this is string
}

stage "generate" "mapped" {
  model  = model.m
  input  = dataset.problems
  prompt = item.question
  schema = object({ tags = map(string) }) # ERROR@28: Field tags: map types have no JSON Schema equivalent
}

stage "generate" "scalar" {
  model  = model.m
  input  = dataset.problems
  prompt = item.question
  schema = number # ERROR: A structured response is an object
}

stage "generate" "optional" {
  model  = model.m
  input  = dataset.problems
  prompt = item.question
  schema = object({ a = optional(string) }) # ERROR: Field a: optional attributes
}

stage "judge" "both" { # ERROR: Give exactly one of `pattern`
  model   = model.m
  input   = dataset.problems
  prompt  = item.question
  pattern = "{score:number}"
  schema  = object({ score = number })
}

stage "judge" "no_score" {
  model  = model.m
  input  = dataset.problems
  prompt = item.question
  schema = object({ grade = number }) # ERROR: must have a number field named score
}

stage "judge" "structured" {
  model  = model.m
  input  = dataset.problems
  prompt = item.question
  schema = object({ reasoning = string, score = number })
  k      = 2
}

stage "filter" "judged" {
  input = stage.structured
  where = item.score > 0.5 && item.verdicts[0].reasoning != "" && item.verdicts[0].scor > 0 # ERROR: Did you mean "score"?
}

stage "generate" "nested" {
  model  = model.m
  input  = dataset.problems
  prompt = item.question
  schema = object({ steps = list(object({ n = number, seen = set(string) })) }) # ERROR@62: Field steps[].seen: set types
}
