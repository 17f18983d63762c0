# A module's moved blocks are checked against the module's own blocks,
# once however many instances there are; the spec's moved blocks see only
# the spec's own blocks.
dataset "d" {
  rows = [{ v = 1 }]
}

stage "sample" "kept" {
  input = dataset.d
  n     = 1
}

moved {
  from = stage.old
  to   = stage.picked # ERROR: Moved to an undeclared address
}

module "m" {
  count  = 2
  source = "./m"
}
