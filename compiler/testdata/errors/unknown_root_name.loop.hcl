locals {
  n = vars.rounds # ERROR: Did you mean "var"?
}
