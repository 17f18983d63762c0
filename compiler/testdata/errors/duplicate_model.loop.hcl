model "m" {
  provider = "builtin"
}

model "m" { # ERROR: Duplicate model "m"
  provider = "builtin"
}
