dataset "d" {
  rows   = [{ x = 1 }]
  schema = object({ x = number })
}

stage "filter" "three" {
  count = 3
  input = dataset.d
  where = item.x > count.index
}

stage "filter" "kept" {
  input = dataset.d
  where = true
}

moved {
  from = stage.three_old
  to   = stage.three # ERROR: stage.three is repeated: name one instance, such as stage.three[0]
}

moved {
  from = stage.kept # ERROR: stage.kept is still declared in this spec
  to   = stage.three[1]
}

moved {
  from = stage.gone
  to   = stage.three[7] # ERROR: stage.three[7] is not declared in this spec
}

moved {
  from = dataset.old
  to   = stage.three[0] # ERROR: moves a dataset to a stage
}

moved {
  from = local.m # ERROR: must name a stage, a dataset or a model
  to   = stage.kept
}

moved {
  from = stage.three[2]
  to   = stage.three[2] # ERROR: `from` and `to` are both stage.three[2]
}

moved {
  from = stage.a
  to   = stage.kept
}

moved {
  from = stage.a # ERROR: stage.a was already moved to stage.kept
  to   = stage.three[0]
}

moved {
  from = stage.b
  to   = stage.kept # ERROR: stage.kept is already the target of the move from stage.a
}

moved {
  from = stage.c
  to   = stage.d # ERROR: form a cycle
}

moved {
  from = stage.d
  to   = stage.c
}
