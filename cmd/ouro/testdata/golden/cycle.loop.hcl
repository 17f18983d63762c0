dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

stage "filter" "a" {
  input = stage.c
  where = item.answer > 0
}

stage "filter" "b" {
  input = stage.a # ERROR: stage.a → stage.c → stage.b → stage.a
  where = item.answer > 1
}

stage "filter" "c" {
  input = stage.b
  where = item.answer > 2
}
