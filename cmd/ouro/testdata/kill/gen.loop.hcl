# A 4,000-request generate on a tiny untrained builtin model, for the
# kill -9 resume test.
settings {
  seed = 3
}

dataset "prompts" {
  source = "prompts.jsonl"
  schema = object({ id = number, text = string })
}

model "tiny" {
  provider = "builtin"
  layers   = 1
  dim      = 32
  heads    = 2
  max_seq  = 48
  seed     = 1
}

stage "generate" "gen" {
  model       = model.tiny
  input       = dataset.prompts
  prompt      = "say ${item.text}:"
  temperature = 1
  max_tokens  = 24
}

stage "filter" "short" {
  input = stage.gen
  where = strlen(item.completion) < 20
}

output "kept" {
  value = stage.short
}
