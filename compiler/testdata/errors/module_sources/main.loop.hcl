# Module sources that cannot be loaded.
module "missing" {
  source = "./nowhere" # ERROR: Module source not found
}

module "empty" {
  source = "./empty" # ERROR: contains no *.loop.hcl files
}

module "remote" {
  source = "github.com/ouroloop/eval" # ERROR: is not a local path
}

module "computed" {
  source = "./${var.x}" # ERROR: must be a string literal
}

module "ok" {
  source = "./ok"
}
