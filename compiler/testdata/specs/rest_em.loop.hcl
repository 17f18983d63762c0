# ReST-EM / expert iteration (Singh et al., 2023, arXiv:2312.06585) with
# RAFT-style reward ranking (Dong et al., 2023): sample, verify, keep the
# top-k correct samples per problem, fine-tune the base model on them.
# Families: acquisition (generate), selection (extract, verify, filter, top,
# split), optimization (sft), evaluation (evaluate).

settings {
  seed        = 11
  parallelism = 2
}

dataset "all" {
  rows = [
    { question = "1+2", answer = 3 },
    { question = "5+5", answer = 10 },
    { question = "8+3", answer = 11 },
    { question = "6+7", answer = 13 },
  ]
  schema = object({ question = string, answer = number })
}

stage "split" "data" {
  input    = dataset.all
  fraction = 0.25
  key      = item.question
}

model "base" {
  provider = "builtin"
}

loop "em" {
  rounds = 2
  state  = { policy = model.base }

  stage "generate" "samples" {
    model   = state.policy
    input   = stage.data.train
    prompt  = "Q: ${item.question}\nA:"
    samples = 8
  }

  stage "extract" "parsed" {
    input   = stage.samples
    from    = item.completion
    pattern = "{answer:int}"
  }

  stage "verify" "checked" {
    input    = stage.parsed
    check    = "exact"
    answer   = item.parsed.answer
    expected = item.answer
  }

  stage "filter" "correct" {
    input = stage.checked
    where = item.correct
  }

  stage "top" "kept" {
    input = stage.correct
    by    = -strlen(item.completion)
    k     = 2
    per   = item.question
  }

  stage "sft" "tune" {
    base   = model.base
    data   = stage.kept
    prompt = item.prompt
    target = item.completion
  }

  stage "evaluate" "eval" {
    model       = stage.tune.model
    input       = stage.data.test
    prompt      = "Q: ${item.question}\nA:"
    temperature = 0
    score       = extract_number(item.completion) == item.answer
    metrics     = { accuracy = fraction(scores), n = length(scores) }
  }

  next = { policy = stage.tune.model }
}

output "accuracy" {
  value = [for r in loop.em.rounds : r.eval.metrics.accuracy]
}
