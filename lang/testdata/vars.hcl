rounds = 3
name   = "x"
