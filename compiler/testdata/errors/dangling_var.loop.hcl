variable "samples" {
  type    = number
  default = 4
}

locals {
  n = var.sample # ERROR: Did you mean var.samples?
}
