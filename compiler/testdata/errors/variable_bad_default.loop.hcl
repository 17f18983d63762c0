variable "rounds" {
  type    = number
  default = "many" # ERROR: Invalid default value for variable
}
