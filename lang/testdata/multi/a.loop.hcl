variable "rounds" {
  type    = number
  default = 2
}

dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}
