# dataset sources, concat and export.
dataset "jsonl" {
  source = "data/qa.jsonl"
  schema = object({ question = string, answer = number })
}

dataset "csv" {
  source   = "data/qa.csv"
  schema   = object({ question = string, answer = number })
  on_error = "skip"
}

dataset "inline" {
  rows = [
    { question = "2+2", answer = 4 },
    { question = "ünïcödé", answer = 1 },
  ]
  schema = object({ question = string, answer = number })
}

stage "concat" "all" {
  inputs = [dataset.jsonl, dataset.csv, dataset.inline]
}

stage "export" "out" {
  input = stage.all
  path  = "out/all.parquet"
}

output "count" {
  value = stage.out
}
