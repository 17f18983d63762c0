# A loop small enough to run in seconds on the builtin model, for the
# `ouro report` tests: three rounds of generate → filter → sft → evaluate,
# so there are metrics per round, a filter that drops records, and samples.

settings {
  seed = 1
}

dataset "problems" {
  rows = [
    { question = "1+1", answer = 2 },
    { question = "2+2", answer = 4 },
    { question = "3+1", answer = 4 },
    { question = "2+1", answer = 3 },
    { question = "4+4", answer = 8 },
    { question = "1+2", answer = 3 },
  ]
  schema = object({ question = string, answer = number })
}

model "m" {
  provider = "builtin"
  layers   = 1
  dim      = 16
  heads    = 2
  max_seq  = 32
  seed     = 3
}

loop "l" {
  rounds = 3
  state  = { policy = model.m }

  stage "generate" "attempts" {
    model       = state.policy
    input       = dataset.problems
    prompt      = "Q: ${item.question}\nA:"
    samples     = 2
    temperature = 1
    max_tokens  = 6
  }

  stage "filter" "short" {
    input = stage.attempts
    where = strlen(item.completion) > 3
  }

  stage "sft" "tune" {
    base          = state.policy
    data          = dataset.problems
    prompt        = "Q: ${item.question}\nA:"
    target        = " ${item.answer}"
    steps         = 20
    batch_size    = 6
    learning_rate = 0.01
  }

  stage "evaluate" "eval" {
    model       = stage.tune.model
    input       = dataset.problems
    prompt      = "Q: ${item.question}\nA:"
    temperature = 0
    max_tokens  = 4
    score       = extract_number(item.completion) == item.answer
    metrics     = { accuracy = fraction(scores), scored = length(scores) }
  }

  next = { policy = stage.tune.model }
}
