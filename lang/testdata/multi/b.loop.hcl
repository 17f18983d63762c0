loop "l" {
  rounds = var.rounds

  stage "filter" "kept" {
    input = dataset.problems
    where = item.answer > 0
  }
}

output "o" {
  value = loop.l.rounds
}
