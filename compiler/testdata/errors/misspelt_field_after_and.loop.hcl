# HCL's && skips its right side's errors when the left side is unknown; the
# type checker must not.
dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

stage "filter" "kept" {
  input = dataset.problems
  where = item.answer > 0 && item.questoin != "" # ERROR@34: Did you mean "question"?
}
