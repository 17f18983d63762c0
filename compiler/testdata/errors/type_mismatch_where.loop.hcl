dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

stage "filter" "kept" {
  input = dataset.problems
  where = item.question # ERROR: Invalid value for per-item argument "where"
}
