# The held-out evaluation of examples/rest_em (the shared module
# examples/modules/accuracy: greedy, exact integer match), run through the
# openai provider against a served copy of one of its checkpoints: `ouro
# serve` or Ollama serving the GGUF export. bench/ollama/circle.sh runs it.

variable "base_url" {
  type        = string
  description = "The server's OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1."
}

variable "model" {
  type        = string
  description = "The model's name on that server."
}

model "served" {
  provider = "openai"
  base_url = var.base_url
  name     = var.model
  api      = "completions"
}

dataset "test" {
  source = "../../../examples/rest_em/data/test.jsonl"
  schema = object({ question = string, answer = number })
}

module "eval" {
  source   = "../../../examples/modules/accuracy"
  model    = model.served
  problems = dataset.test
}

output "accuracy" {
  value = module.eval.accuracy
}
