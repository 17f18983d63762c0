locals {
  n = extract_numbr("answer 3") # ERROR: Call to unknown function
}
