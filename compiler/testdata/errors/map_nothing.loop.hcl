dataset "d" {
  rows   = [{ n = 1, secret = "x" }]
  schema = object({ n = number, secret = string })
}

stage "map" "clean" {
  input = dataset.d
  drop  = ["secret"]
}

stage "map" "nothing" { # ERROR@1: A map stage needs `fields`
  input = dataset.d
}
