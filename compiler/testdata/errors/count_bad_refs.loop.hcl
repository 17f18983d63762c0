dataset "d" {
  rows   = [{ x = 1 }]
  schema = object({ x = number })
}

locals {
  i = count.index # ERROR: only available in the arguments of a block with `count`
}

stage "filter" "three" {
  count = 3
  input = dataset.d
  where = item.x > count.index
}

stage "filter" "keyed" {
  for_each = { a = 1, b = 2 }
  input    = dataset.d
  where    = item.x > each.value + count.index # ERROR@36: This block has `for_each`
}

stage "filter" "plain" {
  input = dataset.d
  where = item.x > length(each.key) # ERROR: only available in the arguments of a block with `for_each`
}

stage "filter" "bad_attr" {
  count = 2
  input = dataset.d
  where = item.x > count.value # ERROR: `count` has only index
}

stage "concat" "out_of_range" {
  inputs = [stage.three[5]] # ERROR: there is no stage.three[5]: its instances are stage.three[0] to stage.three[2]
}

stage "concat" "string_key" {
  inputs = [stage.three["a"]] # ERROR: Invalid instance key
}

stage "concat" "number_key" {
  inputs = [stage.keyed[0]] # ERROR: keyed by strings
}

stage "concat" "no_such_key" {
  inputs = [stage.keyed["c"]] # ERROR: has no instance "c"
}

stage "concat" "bare" {
  inputs = stage.three # ERROR: Use an index for one (stage.three[0], stage.three[count.index]) or a splat
}

output "attr" {
  value = stage.three.schema # ERROR: three[*].schema
}

output "splat_keyed" {
  value = stage.keyed[*] # ERROR: Splat of a for_each block
}

output "fine" {
  value = [length(stage.three[*]), [for s in stage.three : s], keys(stage.keyed), stage.keyed["a"], stage.three[2]]
}
