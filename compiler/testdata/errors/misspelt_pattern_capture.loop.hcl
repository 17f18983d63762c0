dataset "problems" {
  rows   = [{ question = "1+1", answer = 2, text = "Answer: 2" }]
  schema = object({ question = string, answer = number, text = string })
}

stage "extract" "parsed" {
  input   = dataset.problems
  from    = item.text
  pattern = "Answer: {answer:number}"
}

stage "filter" "right" {
  input = stage.parsed
  where = item.parsed.anwser == item.answer # ERROR: Unsupported attribute
}
