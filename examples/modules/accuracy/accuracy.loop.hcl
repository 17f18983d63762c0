# A shared evaluation module: greedy answers of a model on a held-out set
# of arithmetic problems, scored by exact match of the integer answer
# (extract_int: the last number, when it is whole). The round-0 evaluation
# of rest_em and self_rewarding (module "eval0") and the compiler's
# testdata/specs/module_eval.loop.hcl use it; see docs/language.md#modules.

variable "model" {
  type        = model
  description = "The model to evaluate."
}

variable "problems" {
  type        = dataset(object({ question = string, answer = number }))
  description = "Held-out problems; records may have more fields."
}

variable "max_tokens" {
  type    = number
  default = 8
}

stage "evaluate" "eval" {
  model       = var.model
  input       = var.problems
  prompt      = "Q: ${item.question}\nA:"
  temperature = 0
  max_tokens  = var.max_tokens
  stop        = ["\n"]
  score       = extract_int(item.completion) == item.answer
  metrics     = { accuracy = fraction(scores) }
}

output "accuracy" {
  value       = stage.eval.metrics.accuracy
  description = "Share of problems answered exactly."
}
