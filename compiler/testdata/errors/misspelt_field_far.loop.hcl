# A record field no name is close to: the error lists the fields there are.
dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

stage "map" "labels" {
  input  = dataset.problems
  fields = { label = item.solution } # ERROR: It has: answer, question.
}
