loop "l" {
  rounds = 3
  state  = { best = 0 }
  next   = { best = state.best + 1 }
  until  = state.best # ERROR: `until` must be a boolean
}
