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
  count     = 2
  problems  = dataset.problems
  threshold = count.index + 1
}

module "keyed" {
  source    = "./score"
  for_each  = { low = 1, high = 2 }
  problems  = dataset.problems
  threshold = each.value
}

module "counted_bad_arg" {
  source    = "./score"
  count     = 2
  problems  = dataset.problems
  threshold = count.index + each.value # ERROR: This block has `count`: use count.index.
}

module "counted_from_stage" {
  source    = "./score"
  count     = length(module.ok.kept) # ERROR: `count` must be known before anything runs
  problems  = dataset.problems
  threshold = 1
}

output "counted_labels" {
  value = module.counted[*].label
}

output "keyed_label" {
  value = module.keyed["low"].label
}

output "counted_bare" {
  value = module.counted.label # ERROR: Use an index for one (module.counted[0], module.counted[count.index]) or a splat for a tuple of all (module.counted[*].label).
}

output "counted_out_of_range" {
  value = module.counted[2].label # ERROR: module.counted has count = 2, so there is no module.counted[2]
}

output "counted_no_such_output" {
  value = module.counted[1].lable # ERROR: Did you mean module.counted[1].label?
}

output "keyed_no_such_key" {
  value = module.keyed["lo"].label # ERROR: Did you mean "low"?
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

loop "rounds" {
  rounds = 2
  state  = { threshold = 1 }

  module "each_round" {
    source    = "./score"
    problems  = dataset.problems
    threshold = state.threshold + round
  }

  module "counted_each_round" {
    source    = "./score"
    count     = 2
    problems  = module.each_round.kept
    threshold = count.index
  }

  next = { threshold = state.threshold + 1 }
}

loop "too_early" {
  rounds = 1
  state  = { n = module.early.label } # ERROR: cannot use module.early

  module "early" {
    source    = "./score"
    problems  = dataset.problems
    threshold = 1
  }
}

output "round_labels" {
  value = [for r in loop.rounds.rounds : [r.each_round.label, r.counted_each_round[1].label]]
}

output "loop_module_outside" {
  value = module.each_round.label # ERROR: runs once per round of loop "rounds"
}
