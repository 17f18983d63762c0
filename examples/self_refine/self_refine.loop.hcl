# Self-Refine (Madaan, Tandon, Gupta et al., "Self-Refine: Iterative
# Refinement with Self-Feedback", NeurIPS 2023, arXiv:2303.17651): the same
# model drafts an answer, critiques it, and revises it with its own
# feedback, until the feedback says it is done. Accuracy vs the number of
# critique-revise iterations.
#
# Everything model-dependent runs for var.seeds independently initialised
# models. Two arms from the paper compare with Self-Refine at each
# iteration count: "generic feedback" (the revision sees a fixed phrase
# instead of the model's critique, the paper's ablation) and "sample more"
# (as many answers as Self-Refine writes, without feedback, the paper's
# control). By default the feedback on a wrong draft names the right last
# digit ("ones 7") or says the last digit is right and the rest is not
# ("tens off"); -var feedback=direction says "too high" or "too low".

variable "scale" {
  type    = string
  default = "laptop"
  validation {
    condition     = contains(["laptop", "cluster"], var.scale)
    error_message = "scale must be laptop or cluster."
  }
}

variable "base_url" {
  type    = string
  default = "http://127.0.0.1:8000/v1"
}

variable "model_name" {
  type    = string
  default = "Qwen/Qwen2.5-0.5B-Instruct"
}

variable "trainer" {
  type        = string
  default     = "builtin"
  description = "Who runs the few-shot substitute SFT of the roles: builtin, or command (examples/trainers/trl_sft.py)."
}

variable "seeds" {
  type        = number
  default     = 6
  description = "Independent runs (model init); every arm runs for each."
}

variable "max_iterations" {
  type        = number
  default     = 3
  description = "Round r allows r critique-revise iterations, r = 1..max_iterations."
}

variable "drafter_problems" {
  type        = number
  default     = 300
  description = "Training problems the drafter learns to answer."
}

variable "critic_problems" {
  type        = number
  default     = 1000
  description = "Other training problems: the drafter's own drafts on them are the feedback and revision examples."
}

variable "critic_examples" {
  type        = number
  default     = 400
  description = "Feedback examples per verdict class (right drafts, wrong drafts)."
}

variable "draft_steps" {
  type        = number
  default     = 800
  description = "SFT steps of the drafter."
}

variable "role_steps" {
  type        = number
  default     = 1200
  description = "SFT steps on the three roles, continuing from the drafter."
}

variable "role_lr" {
  type        = number
  default     = 0.001
  description = "Learning rate of the role SFT (0.003, the drafter's, undid the answers)."
}

variable "feedback" {
  type        = string
  default     = "digit"
  description = "What the feedback on a wrong draft says: direction (too high, too low) or digit (\"ones 7\": the right last digit; \"tens off\": the last digit is right, the rest is not)."
  validation {
    condition     = contains(["direction", "digit"], var.feedback)
    error_message = "feedback must be direction or digit."
  }
}

variable "teach_all_answers" {
  type        = bool
  default     = true
  description = "Whether the answer role also learns the critic problems, so a revision knows no sum the draft does not."
}

variable "questions" {
  type    = number
  default = 100
}

settings {
  seed = 31
}

dataset "train" {
  source = "data/train.jsonl"
  schema = object({ question = string, answer = number })
}

dataset "test" {
  source = "data/test.jsonl"
  schema = object({ question = string, answer = number })
  limit  = var.questions
}

model "local" {
  count    = var.seeds
  provider = "builtin"
  layers   = 2
  dim      = 64
  max_seq  = 64
  seed     = 3 + count.index
}

model "server" {
  provider = "openai"
  base_url = var.base_url
  name     = var.model_name
  api      = "completions"
}

# Two disjoint sets of training problems: the drafter learns the first;
# its drafts on the second become the feedback and revision examples.
stage "sample" "problems" {
  input = dataset.train
  n     = var.drafter_problems + var.critic_problems
}

stage "split" "parts" {
  input    = stage.problems
  fraction = var.drafter_problems / (var.drafter_problems + var.critic_problems)
}

stage "map" "drafter_answers" {
  input  = stage.parts.test
  fields = { p = "Q: ${item.question}\nA:", t = " ${item.answer}" }
  drop   = ["question", "answer"]
}

stage "sft" "drafter" {
  count         = var.seeds
  base          = model.local[count.index]
  data          = stage.drafter_answers
  prompt        = item.p
  target        = item.t
  steps         = var.draft_steps
  batch_size    = 32
  learning_rate = 0.003
}

# The paper's feedback is about the model's own outputs: sample the
# drafter's answers to problems it did not train on, and label each with
# the feedback the truth gives ("DONE", or what is wrong).
stage "generate" "own_drafts" {
  count       = var.seeds
  model       = stage.drafter[count.index].model
  input       = stage.parts.train
  prompt      = "Q: ${item.question}\nA:"
  samples     = 2
  temperature = 1.0
  max_tokens  = 8
  stop        = ["\n"]
}

stage "map" "own_values" {
  count  = var.seeds
  input  = stage.own_drafts[count.index]
  fields = { draft = trimspace(item.completion), value = coalesce(extract_int(item.completion), -1) }
  drop   = ["prompt", "completion", "sample", "finish_reason"]
}

stage "map" "labeled_drafts" {
  count = var.seeds
  input = stage.own_values[count.index]
  fields = {
    label = (item.value == item.answer ? "DONE"
      : var.feedback == "direction" ? (item.value > item.answer ? "too high" : "too low")
      : item.value % 10 != item.answer % 10 ? "ones ${item.answer % 10}"
    : "tens off")
  }
  drop = ["value"]
}

# As many right drafts as wrong ones (up to var.critic_examples each), so
# the critic cannot score by always giving the common verdict.
stage "sample" "critic_drafts" {
  count = var.seeds
  input = stage.labeled_drafts[count.index]
  by    = item.label == "DONE"
  n     = var.critic_examples
}

stage "map" "critique_ex" {
  count  = var.seeds
  input  = stage.critic_drafts[count.index]
  fields = { p = "Q: ${item.question}\nA: ${item.draft}\nFeedback:", t = " ${item.label}" }
  drop   = ["question", "answer", "draft", "label"]
}

stage "filter" "wrong_drafts" {
  count = var.seeds
  input = stage.labeled_drafts[count.index]
  where = item.label != "DONE"
}

stage "map" "revise_ex" {
  count  = var.seeds
  input  = stage.wrong_drafts[count.index]
  fields = { p = "Q: ${item.question}\nA: ${item.draft}\nFeedback: ${item.label}\nRevised:", t = " ${item.answer}" }
  drop   = ["question", "answer", "draft", "label"]
}

# The ablation's revision examples: the same drafts, a fixed phrase as
# feedback, the true answer as the revision.
stage "map" "generic_ex" {
  count  = var.seeds
  input  = stage.labeled_drafts[count.index]
  fields = { p = "Q: ${item.question}\nA: ${item.draft}\nFeedback: check it\nRevised:", t = " ${item.answer}" }
  drop   = ["question", "answer", "draft", "label"]
}

stage "map" "all_answers" {
  input  = var.teach_all_answers ? stage.problems : stage.parts.test
  fields = { p = "Q: ${item.question}\nA:", t = " ${item.answer}" }
  drop   = ["question", "answer"]
}

stage "concat" "role_data" {
  count  = var.seeds
  inputs = [stage.all_answers, stage.critique_ex[count.index], stage.revise_ex[count.index], stage.generic_ex[count.index]]
}

# The paper prompts a large LM with few-shot examples of each role; our
# from-scratch model learns the three roles instead.
stage "sft" "roles" {
  count         = var.seeds
  base          = stage.drafter[count.index].model
  data          = stage.role_data[count.index]
  prompt        = item.p
  target        = item.t
  steps         = var.role_steps
  batch_size    = 32
  learning_rate = var.role_lr
  trainer       = var.trainer
  command       = var.trainer == "command" ? ["python3", "../trainers/trl_sft.py"] : null
}

locals {
  writers = var.scale == "cluster" ? [for i in range(var.seeds) : model.server] : stage.roles[*].model
}

loop "k" {
  rounds = var.max_iterations

  stage "refine" "answers" {
    count       = var.seeds
    model       = local.writers[count.index]
    input       = dataset.test
    prompt      = "Q: ${item.question}\nA:"
    critique    = "Q: ${item.question}\nA: ${trimspace(draft)}\nFeedback:"
    revise      = "Q: ${item.question}\nA: ${trimspace(draft)}\nFeedback: ${trimspace(feedback)}\nRevised:"
    iterations  = round + 1
    stop_when   = "DONE"
    temperature = 0
    max_tokens  = 10
    stop        = ["\n"]
  }

  # Generic feedback: every iteration revises after the fixed phrase (the
  # model's own critique is generated but not shown to the reviser).
  stage "refine" "generic" {
    count       = var.seeds
    model       = local.writers[count.index]
    input       = dataset.test
    prompt      = "Q: ${item.question}\nA:"
    critique    = "Q: ${item.question}\nA: ${trimspace(draft)}\nFeedback:"
    revise      = "Q: ${item.question}\nA: ${trimspace(draft)}\nFeedback: check it\nRevised:"
    iterations  = round + 1
    temperature = 0
    max_tokens  = 10
    stop        = ["\n"]
  }

  # Sample more: the greedy draft plus as many samples (temperature 1) as
  # Self-Refine may write revisions; the majority answer, ties to the draft.
  stage "generate" "more" {
    count       = var.seeds
    model       = local.writers[count.index]
    input       = stage.answers[count.index]
    prompt      = "Q: ${item.question}\nA:"
    samples     = round + 1
    temperature = 1.0
    max_tokens  = 10
    stop        = ["\n"]
    seed        = round
  }

  stage "group" "more_by_question" {
    count = var.seeds
    input = stage.more[count.index]
    key   = item.question
  }

  stage "map" "voted" {
    count = var.seeds
    input = stage.more_by_question[count.index]
    fields = {
      question = item.key
      answer   = item.items[0].answer
      majority = majority(concat([extract_int(item.items[0].draft)], [for s in item.items : extract_int(s.completion)]))
    }
    drop = ["key", "count", "items"]
  }

  # Accuracy of the first draft and of the refined answer, and how the
  # critic judged the first draft (evaluate's own one-token generation is
  # ignored).
  stage "evaluate" "accuracy" {
    count      = var.seeds
    model      = local.writers[count.index]
    input      = stage.answers[count.index]
    prompt     = "Q: ${item.question}\nA:"
    max_tokens = 1
    score      = extract_int(item.refined) == item.answer
    metrics = {
      iterations       = round + 1
      draft            = fraction([for it in items : extract_int(it.draft) == it.answer])
      refined          = fraction(scores)
      right_drafts     = count_true([for it in items : extract_int(it.draft) == it.answer])
      right_accepted   = count_true([for it in items : extract_int(it.draft) == it.answer ? contains_str(it.history[0].feedback, "DONE") : false])
      wrong_flagged    = count_true([for it in items : extract_int(it.draft) == it.answer ? false : !contains_str(it.history[0].feedback, "DONE")])
      draft_ones_right = count_true([for it in items : try(extract_int(it.draft) % 10 == it.answer % 10, false)])
      ones_told        = count_true([for it in items : can(regex("ones [0-9]", it.history[0].feedback))])
      ones_told_right  = count_true([for it in items : try(tonumber(regex("ones ([0-9])", it.history[0].feedback)[0]) == it.answer % 10, false)])
    }
  }

  stage "evaluate" "generic_accuracy" {
    count      = var.seeds
    model      = local.writers[count.index]
    input      = stage.generic[count.index]
    prompt     = "Q: ${item.question}\nA:"
    max_tokens = 1
    score      = extract_int(item.refined) == item.answer
    metrics    = { refined = fraction(scores) }
  }

  stage "evaluate" "more_accuracy" {
    count      = var.seeds
    model      = local.writers[count.index]
    input      = stage.voted[count.index]
    prompt     = "Q: ${item.question}\nA:"
    max_tokens = 1
    score      = item.majority == item.answer
    metrics    = { accuracy = fraction(scores) }
  }
}

output "draft" {
  description = "First-draft accuracy per seed (the same every round)."
  value       = loop.k.rounds[0].accuracy[*].metrics.draft
}

output "self_refine" {
  description = "Refined accuracy per round (r + 1 iterations allowed), one entry per seed."
  value       = [for r in loop.k.rounds : r.accuracy[*].metrics.refined]
}

output "generic_feedback" {
  value = [for r in loop.k.rounds : r.generic_accuracy[*].metrics.refined]
}

output "sample_more" {
  value = [for r in loop.k.rounds : r.more_accuracy[*].metrics.accuracy]
}

output "means" {
  description = "Per round: mean draft, Self-Refine, generic feedback and sample-more accuracy over the seeds."
  value = [for r in loop.k.rounds : {
    draft       = mean(r.accuracy[*].metrics.draft)
    self_refine = mean(r.accuracy[*].metrics.refined)
    generic     = mean(r.generic_accuracy[*].metrics.refined)
    sample_more = mean(r.more_accuracy[*].metrics.accuracy)
  }]
}

output "critic" {
  description = "How the critic judged the first drafts, per seed: right drafts, of them accepted (DONE), wrong drafts flagged."
  value = [for m in loop.k.rounds[0].accuracy[*].metrics : {
    right_drafts   = m.right_drafts
    right_accepted = m.right_accepted
    wrong_flagged  = m.wrong_flagged
    # With feedback = "digit": drafts whose last digit is right, and
    # critiques that name a last digit ("ones 7"), and of them the right one.
    draft_ones_right = m.draft_ones_right
    ones_told        = m.ones_told
    ones_told_right  = m.ones_told_right
  }]
}
