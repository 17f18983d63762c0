# pair, vote, best_of over scored samples.
dataset "scored" {
  source = "data/scored.jsonl"
  schema = object({ prompt = string, response = string, score = number })
}

stage "pair" "prefs" {
  input    = dataset.scored
  prompt   = item.prompt
  response = item.response
  score    = item.score
}

stage "vote" "consensus" {
  input  = dataset.scored
  group  = item.prompt
  answer = item.score
}

stage "best_of" "best" {
  input = dataset.scored
  group = item.prompt
  score = item.score
}

output "agreement" {
  value = stage.consensus
}
