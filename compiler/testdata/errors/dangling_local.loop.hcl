locals {
  size = 3
}

output "o" {
  value = local.sizes # ERROR: Reference to undeclared local value
}
