locals {
  r = round + 1 # ERROR: Invalid reference to round
}
