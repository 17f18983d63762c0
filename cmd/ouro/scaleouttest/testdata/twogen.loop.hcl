# Two generate stages against a loopback OpenAI-compatible server that
# counts what it is asked, for the kill tests of distributed runs.
settings {
  seed = 3
}

variable "url" {
  type = string
}

dataset "prompts" {
  source = "prompts.jsonl"
  schema = object({ id = number, text = string })
}

model "server" {
  provider = "openai"
  base_url = var.url
  name     = "counting"
  api      = "completions"
}

stage "generate" "first" {
  model      = model.server
  input      = dataset.prompts
  prompt     = "say ${item.text}:"
  max_tokens = 8
}

stage "generate" "second" {
  model      = model.server
  input      = stage.first
  prompt     = "again ${item.completion}"
  max_tokens = 8
}

output "answers" {
  value = stage.second
}
