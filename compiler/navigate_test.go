package compiler_test

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

const navigateSpec = `variable "rounds" {
  default = 2
}

dataset "problems" {
  source = "p.jsonl"
  schema = object({ question = string, answer = number })
}

model "base" {
  provider = "builtin"
}

loop "star" {
  rounds = var.rounds
  state  = { policy = model.base }

  stage "generate" "attempts" {
    model  = state.policy
    input  = dataset.problems
    prompt = item.question
  }

  stage "filter" "kept" {
    input = stage.attempts
    where = item.completion != ""
  }

  next = { policy = state.policy }
}
`

func TestReferencesAndItemScope(t *testing.T) {
	res, diags := compileSource(t, []byte(navigateSpec), "nav.loop.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	got := map[string][2]int{} // name -> line of the reference, line of its target (first seen)
	for _, r := range res.References() {
		if _, ok := got[r.Name]; !ok {
			got[r.Name] = [2]int{r.Range.Start.Line, r.Target.Start.Line}
		}
	}
	want := map[string][2]int{
		"var.rounds":       {15, 1},
		"model.base":       {16, 10},
		"state":            {19, 16},
		"dataset.problems": {20, 5},
		"stage.attempts":   {25, 18},
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: reference on line %d -> target on line %d, want %v", name, got[name][0], got[name][1], w)
		}
	}
	item := res.ItemScope("loop.star.stage.kept", "where")["item"]
	if !item.IsObjectType() || !item.HasAttribute("completion") || !item.HasAttribute("question") {
		t.Fatalf("item of the filter's where = %#v, want the generate's records (question, answer, completion, …)", item)
	}
	if got := res.ItemScope("loop.star.stage.attempts", "prompt")["item"]; !got.Equals(cty.Object(map[string]cty.Type{"question": cty.String, "answer": cty.Number})) {
		t.Errorf("item of the generate's prompt = %#v", got)
	}
}
