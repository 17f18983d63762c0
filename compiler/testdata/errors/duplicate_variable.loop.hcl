variable "rounds" {
  type    = number
  default = 2
}

variable "rounds" { # ERROR: Duplicate variable "rounds"
  type    = number
  default = 3
}
