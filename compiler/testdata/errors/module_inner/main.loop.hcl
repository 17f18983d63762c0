# What a module may not hold, and a variable only a module can have.
variable "data" {
  type = dataset(object({ x = number })) # ERROR: only a module's caller can give
}

module "inner" {
  source = "./inner"
  n      = 2
}
