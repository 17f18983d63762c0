datset "problems" { # ERROR: Unsupported block type
  rows = []
}
