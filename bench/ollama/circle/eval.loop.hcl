# The held-out evaluation of examples/rest_em (the same prompt, greedy
# decoding, exact integer match), run through the openai provider against
# a served copy of one of its checkpoints: `ouro serve` or Ollama serving
# the GGUF export. bench/ollama/circle.sh runs it.

variable "base_url" {
  type        = string
  description = "The server's OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1."
}

variable "model" {
  type        = string
  description = "The model's name on that server."
}

variable "data" {
  type        = string
  default     = "../../../examples/rest_em/data/test.jsonl"
  description = "rest_em's held-out problems."
}

model "served" {
  provider = "openai"
  base_url = var.base_url
  name     = var.model
  api      = "completions"
}

dataset "test" {
  source = var.data
  schema = object({ question = string, answer = number })
}

stage "evaluate" "eval" {
  model       = model.served
  input       = dataset.test
  prompt      = "Q: ${item.question}\nA:"
  temperature = 0
  max_tokens  = 8
  stop        = ["\n"]
  score       = extract_int(item.completion) == item.answer
  metrics     = { accuracy = fraction(scores) }
}

output "accuracy" {
  value = stage.eval.metrics.accuracy
}
