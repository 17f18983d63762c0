dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

loop "l" {
  rounds = 2

  stage "filter" "kept" {
    input = dataset.problems
    where = item.answer > 0
  }
}

output "kept" {
  value = stage.kept # ERROR: Reference to a stage inside a loop
}
