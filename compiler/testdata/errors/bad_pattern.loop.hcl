dataset "problems" {
  rows   = [{ question = "1+1", answer = 2, text = "Answer: 2" }]
  schema = object({ question = string, answer = number, text = string })
}

stage "extract" "parsed" {
  input   = dataset.problems
  from    = item.text
  pattern = "Answer: {answer:numbr}" # ERROR@30: unknown capture type "numbr"
}
