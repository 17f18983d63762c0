# A small scoring module: filters a dataset of problems and reports its size.
variable "problems" { # the variable the wrong dataset argument names
  type = dataset(object({ question = string, answer = number }))
}

variable "threshold" {
  type = number
}

variable "label" {
  type    = string
  default = "score"
}

stage "filter" "kept" {
  input = var.problems
  where = item.answer > var.threshold
}

stage "top" "best" {
  input = stage.kept
  k     = 1
  by    = item.answer
}

output "kept" {
  value = stage.kept
}

output "label" {
  value = var.label
}

output "missing" {
  value = var.labl # ERROR: Did you mean var.label?
}
