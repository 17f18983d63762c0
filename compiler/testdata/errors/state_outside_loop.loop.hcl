model "m" {
  provider = "builtin"
}

output "policy" {
  value = state.policy # ERROR: Invalid reference to state
}
