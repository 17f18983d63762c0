model "m" {
  provider = "opanai" # ERROR: Did you mean "openai"?
}
