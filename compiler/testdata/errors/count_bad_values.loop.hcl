variable "n" {
  type    = number
  default = 2
}

dataset "d" {
  rows   = [{ x = 1 }]
  schema = object({ x = number })
}

stage "filter" "negative" {
  count = -1 # ERROR: Invalid count
  input = dataset.d
  where = item.x > 0
}

stage "filter" "fraction" {
  count = var.n / 4 # ERROR: whole number ≥ 0; got 0.5
  input = dataset.d
  where = item.x > 0
}

stage "filter" "text" {
  count = "three" # ERROR: Invalid count
  input = dataset.d
  where = item.x > 0
}

stage "filter" "kept" {
  input = dataset.d
  where = item.x > 0
}

stage "filter" "runtime" {
  count = length(stage.kept) # ERROR: may read only constants, variables and locals of those, not stage.kept
  input = dataset.d
  where = item.x > 0
}

stage "filter" "both" {
  count    = 2
  for_each = toset(["a"]) # ERROR: Invalid combination of count and for_each
  input    = dataset.d
  where    = item.x > 0
}

stage "filter" "dup" {
  for_each = ["a", "b", "a"] # ERROR: lists "a" twice
  input    = dataset.d
  where    = item.x > 0
}

stage "filter" "numbers" {
  for_each = [1, 2] # ERROR: needs strings
  input    = dataset.d
  where    = item.x > 0
}

locals {
  kept_n = stage.kept == null ? 1 : 2
  twice  = local.kept_n * 2
}

stage "filter" "via_local" {
  count = local.twice # ERROR: not stage.kept (which local.twice via local.kept_n reads at
  input = dataset.d
  where = item.x > 0
}

stage "filter" "self_count" {
  count = count.index # ERROR: not count.index
  input = dataset.d
  where = item.x > 0
}
