# Structured output (`schema`) through a real server: the same greedy,
# schema-constrained generate stage answered by the builtin provider and by
# a served copy of the same checkpoint, on the chat and on the completions
# endpoint. Each stage's records are exported as JSONL for comparison.
# bench/ollama/structured_check.sh runs it against Ollama.

variable "checkpoint" {
  type        = string
  description = "The builtin checkpoint the server serves a copy of."
}

variable "base_url" {
  type        = string
  description = "The server's OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1."
}

variable "model" {
  type        = string
  description = "The model's name on that server."
}

variable "out" {
  type        = string
  description = "Folder for the exported records."
}

variable "max_tokens" {
  type        = number
  default     = 40
  description = "Token budget per completion."
}

model "local" {
  provider   = "builtin"
  checkpoint = var.checkpoint
}

model "chat" {
  provider = "openai"
  base_url = var.base_url
  name     = var.model
  api      = "chat"
}

model "completions" {
  provider = "openai"
  base_url = var.base_url
  name     = var.model
  api      = "completions"
}

dataset "prompts" {
  source = "prompts.jsonl"
  schema = object({ prompt = string })
}

stage "generate" "local" {
  model       = model.local
  input       = dataset.prompts
  prompt      = item.prompt
  temperature = 0
  max_tokens  = var.max_tokens
  schema      = object({ answer = number, word = string })
  on_invalid  = "null"
}

stage "generate" "chat" {
  model       = model.chat
  input       = dataset.prompts
  prompt      = item.prompt
  temperature = 0
  max_tokens  = var.max_tokens
  schema      = object({ answer = number, word = string })
  on_invalid  = "null"
}

stage "generate" "completions" {
  model       = model.completions
  input       = dataset.prompts
  prompt      = item.prompt
  temperature = 0
  max_tokens  = var.max_tokens
  schema      = object({ answer = number, word = string })
  on_invalid  = "null"
}

stage "export" "local_out" {
  input  = stage.local
  path   = "${var.out}/local.jsonl"
  format = "jsonl"
}

stage "export" "chat_out" {
  input  = stage.chat
  path   = "${var.out}/chat.jsonl"
  format = "jsonl"
}

stage "export" "completions_out" {
  input  = stage.completions
  path   = "${var.out}/completions.jsonl"
  format = "jsonl"
}
