# Compile-time mistakes at module call sites; the module is ./score.
dataset "problems" {
  rows   = [{ question = "1+1", answer = 2, source = "a" }]
  schema = object({ question = string, answer = number, source = string })
}

dataset "names" {
  rows   = [{ name = "x" }]
  schema = object({ name = string })
}

module "ok" {
  source    = "./score"
  problems  = dataset.problems
  threshold = 1
}

module "unknown_arg" {
  source    = "./score"
  problems  = dataset.problems
  threshold = 1
  treshold  = 2 # ERROR: Did you mean "threshold"?
}

module "missing" { # ERROR: needs a value for its variable "threshold"
  source   = "./score"
  problems = dataset.problems
}

module "wrong_type" {
  source    = "./score"
  problems  = dataset.problems
  threshold = "high" # ERROR: threshold must be number
}

module "wrong_dataset" {
  source    = "./score"
  problems  = dataset.names # ERROR: they have no field "answer"
  threshold = 1
}

module "not_dataset" {
  source    = "./score"
  problems  = 3 # ERROR: problems needs a dataset
  threshold = 1
}

module "counted" {
  source    = "./score"
  count     = 2 # ERROR: not supported yet
  problems  = dataset.problems
  threshold = 1
}

output "label" {
  value = module.ok.label
}

output "no_such_output" {
  value = module.ok.lable # ERROR: Did you mean module.ok.label?
}

output "no_such_module" {
  value = module.okk.label # ERROR: Did you mean module.ok?
}

stage "filter" "typed" {
  input = module.ok.kept
  where = item.sourc == "a" # ERROR: This object does not have an attribute named "sourc"
}
