variable "n" {
  type = number
}

settings { # ERROR: Settings in a module
  seed = 1
}

loop "l" { # ERROR: A module cannot hold a loop yet
  rounds = var.n
}
