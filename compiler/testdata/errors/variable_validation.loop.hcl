# Compiled with -var rounds=50 (see errorVars in errors_test.go).
variable "rounds" {
  type    = number
  default = 3
  validation {
    condition     = var.rounds >= 1 && var.rounds <= 20 # ERROR: rounds must be between 1 and 20
    error_message = "rounds must be between 1 and 20."
  }
}
