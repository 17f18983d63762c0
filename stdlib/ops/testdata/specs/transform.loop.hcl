# filter, map, extract, verify: the selection half of STaR.
dataset "attempts" {
  rows = [
    { question = "1+1", answer = 2, completion = "so... Answer: 2" },
    { question = "2+3", answer = 5, completion = "Answer: 6" },
    { question = "3+3", answer = 6, completion = "no idea" },
  ]
  schema = object({ question = string, answer = number, completion = string })
}

stage "extract" "parsed" {
  input   = dataset.attempts
  from    = item.completion
  pattern = "Answer: {answer:number}"
}

stage "verify" "checked" {
  input    = stage.parsed
  check    = "numeric"
  answer   = item.parsed == null ? null : item.parsed.answer
  expected = item.answer
}

stage "filter" "correct" {
  input = stage.checked
  where = item.correct
}

stage "map" "sft" {
  input  = stage.correct
  fields = { prompt = "Q: ${item.question}\nA:", target = item.completion }
  drop   = ["parsed", "correct"]
}

output "kept" {
  value = stage.sft
}
