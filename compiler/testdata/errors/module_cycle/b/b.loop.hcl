module "a" {
  source = "../a" # ERROR: Module cycle
}
