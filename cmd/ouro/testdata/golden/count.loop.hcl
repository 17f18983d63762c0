dataset "d" {
  rows   = [{ x = 1 }, { x = 2 }, { x = 3 }]
  schema = object({ x = number })
}

model "m" {
  count    = 2
  provider = "builtin"
  seed     = count.index + 1
}

loop "l" {
  rounds = 2
  state  = { best = 0 }

  stage "filter" "kept" {
    count = 2
    input = dataset.d
    where = item.x > state.best + round + count.index
  }

  stage "concat" "all" {
    inputs = stage.kept[*]
  }

  next = { best = state.best + length(stage.kept[*]) }
}

output "final" {
  value = loop.l.state.best
}

output "sizes" {
  value = [for r in loop.l.rounds : length(r.kept)]
}

stage "filter" "by_min" {
  for_each = { low = 1, high = 2 }
  input    = dataset.d
  where    = item.x > each.value
}

output "high" {
  value = stage.by_min["high"]
}
