dataset "d" {
  rows = [{ v = 1 }]
}

stage "sample" "picked" {
  input = dataset.d
  n     = 1
}

moved {
  from = stage.few
  to   = stage.picked
}

moved {
  from = stage.kept # the spec's stage.kept is not the module's
  to   = stage.gone # ERROR: Moved to an undeclared address
}
