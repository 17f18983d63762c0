model "m" {
  provider = "builtin"
}

loop "l" {
  rounds = 3
  state  = { policy = model.m, best = 0 }
  next   = { policy = "m", best = state.best } # ERROR: Invalid next state
}
