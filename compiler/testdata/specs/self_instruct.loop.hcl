# Self-Instruct (Wang et al., 2023, arXiv:2212.10560): the model writes new
# tasks from seed tasks; near-duplicates are removed with MinHash before the
# pool grows and the model is tuned on it.
# Families: acquisition (generate), selection (extract, filter, dedupe,
# sample), optimization (sft).

dataset "seeds" {
  rows = [
    { instruction = "Add two numbers.", output = "Use +." },
    { instruction = "Reverse a word.", output = "Read it backwards." },
  ]
  schema = object({ instruction = string, output = string })
}

model "base" {
  provider = "builtin"
}

loop "grow" {
  rounds = 2
  state  = { pool = dataset.seeds }

  stage "generate" "proposals" {
    model       = model.base
    input       = state.pool
    prompt      = "Task: ${item.instruction}\nNew task:"
    samples     = 4
    temperature = 1.0
  }

  stage "extract" "tasks" {
    input       = stage.proposals
    from        = item.completion
    pattern     = "{instruction:line}[\nAnswer: {output:line}]"
    as          = "task"
    on_mismatch = "drop"
  }

  stage "filter" "answered" {
    input = stage.tasks
    where = item.task.output != null && strlen(item.task.instruction) > 8
  }

  stage "map" "records" {
    input  = stage.answered
    fields = { instruction = item.task.instruction, output = item.task.output }
    drop   = ["task", "prompt", "completion", "sample", "finish_reason"]
  }

  stage "concat" "grown" {
    inputs = [state.pool, stage.records]
  }

  stage "dedupe" "unique" {
    input     = stage.grown
    method    = "minhash"
    text      = item.instruction
    threshold = 0.7
  }

  next = { pool = stage.unique }
}

stage "sample" "train" {
  input = loop.grow.state.pool
  n     = 100
  seed  = 3
}

stage "sft" "tuned" {
  base   = model.base
  data   = stage.train
  prompt = "Task: ${item.instruction}\nAnswer:"
  target = " ${item.output}"
  steps  = 50
}

output "pool_size" {
  value = stage.tuned.examples
}
