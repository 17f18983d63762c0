package modelops_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang/pattern"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/modelops"
)

// fakeLM answers with a function of the prompt and the sample index.
type fakeLM struct {
	answer func(prompt string, i int) string
	calls  int
}

func (f *fakeLM) Identity() string { return "fake" }
func (f *fakeLM) Generate(ctx context.Context, reqs []runtime.GenRequest) ([][]runtime.Completion, error) {
	f.calls++
	out := make([][]runtime.Completion, len(reqs))
	for i, r := range reqs {
		for s := 0; s < r.N; s++ {
			out[i] = append(out[i], runtime.Completion{Text: f.answer(r.Prompt, s), FinishReason: "stop"})
		}
	}
	return out, nil
}

func withFake(x *runtime.Exec, f *fakeLM) {
	x.OpenModel = func(context.Context, cty.Value) (runtime.LM, error) { return f, nil }
}

func fakeModel() cty.Value {
	return compiler.ModelVal(compiler.ModelRef{Provider: "fake", Digest: "fake"})
}

func TestJudge(t *testing.T) {
	h := newHarness(t)
	in := h.dataset(problems(2))
	x := h.exec("judge", map[string]cty.Value{"model": fakeModel(), "input": in, "k": cty.NumberIntVal(3)},
		map[string]string{"prompt": `"Rate ${item.question}"`})
	x.Patterns["pattern"] = pattern.MustParse("Score: {score:number}")
	withFake(x, &fakeLM{answer: func(p string, i int) string {
		if strings.HasSuffix(p, "0+0") {
			return "no idea" // never parses
		}
		return []string{"Score: 3", "Reasoning... Score: 4", "garbage"}[i]
	}})
	v, err := (&modelops.Judge{}).Run(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	recs := h.read(v)
	if !recs[0].GetAttr("score").IsNull() {
		t.Fatalf("unparseable judgements gave score %#v", recs[0].GetAttr("score"))
	}
	if f, _ := recs[1].GetAttr("score").AsBigFloat().Float64(); f != 3.5 {
		t.Fatalf("score %v, want 3.5", f)
	}
	if n := recs[1].GetAttr("judgements").LengthInt(); n != 3 {
		t.Fatalf("%d judgements", n)
	}
	if x.Counts["unparsed_judgements"] != 4 {
		t.Fatalf("counts %v", x.Counts)
	}
}

func TestRefine(t *testing.T) {
	h := newHarness(t)
	in := h.dataset(problems(3))
	x := h.exec("refine", map[string]cty.Value{"model": fakeModel(), "input": in, "iterations": cty.NumberIntVal(3), "stop_when": cty.StringVal("LGTM")},
		map[string]string{
			"prompt":   `"Solve ${item.question}"`,
			"critique": `"Critique: ${draft}"`,
			"revise":   `"Revise: ${draft} | ${feedback}"`,
		})
	f := &fakeLM{answer: func(p string, i int) string {
		switch {
		case strings.HasPrefix(p, "Solve "):
			return "draft(" + strings.TrimPrefix(p, "Solve ") + ")"
		case strings.HasPrefix(p, "Critique: "):
			d := strings.TrimPrefix(p, "Critique: ")
			// 0+0 is fine at once; the others need one revision.
			if strings.Contains(d, "0+0") || strings.Contains(d, "+v") {
				return "LGTM"
			}
			return "fix it"
		case strings.HasPrefix(p, "Revise: "):
			return strings.SplitN(strings.TrimPrefix(p, "Revise: "), " | ", 2)[0] + "+v"
		}
		return fmt.Sprintf("?%s", p)
	}}
	withFake(x, f)
	v, err := (&modelops.Refine{}).Run(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	recs := h.read(v)
	if got := str(recs[0], "refined"); got != "draft(0+0)" || recs[0].GetAttr("history").LengthInt() != 1 {
		t.Fatalf("record 0: %#v", recs[0])
	}
	if got := str(recs[1], "refined"); got != "draft(1+3)+v" || str(recs[1], "draft") != "draft(1+3)" {
		t.Fatalf("record 1 refined %q", got)
	}
	h1 := recs[1].GetAttr("history").AsValueSlice()
	if len(h1) != 2 || str(h1[0], "feedback") != "fix it" || str(h1[1], "draft") != "draft(1+3)+v" || str(h1[1], "feedback") != "LGTM" {
		t.Fatalf("history %#v", h1)
	}
	// draft, critique, revise, critique: four batches, whatever the records.
	if f.calls != 4 {
		t.Fatalf("%d Generate calls, want 4 (batched per round)", f.calls)
	}
}

func TestDPO(t *testing.T) {
	h := newHarness(t)
	base := h.tinyModel(2)
	pairs := preferencePairs(6)
	x := h.exec("dpo", map[string]cty.Value{"base": base, "data": h.dataset(pairs), "steps": cty.NumberIntVal(20), "batch_size": cty.NumberIntVal(6), "learning_rate": cty.NumberFloatVal(5e-3), "warmup": cty.NumberIntVal(0)},
		map[string]string{"prompt": `item.prompt`, "chosen": `item.chosen`, "rejected": `item.rejected`})
	v, err := (&modelops.DPO{}).Run(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	if v.GetAttr("model").RawEquals(base) {
		t.Fatal("model unchanged")
	}
	if n, _ := v.GetAttr("examples").AsBigFloat().Int64(); n != 6 {
		t.Fatalf("examples %d", n)
	}
	// DPO loss starts at log 2 ≈ 0.693 and must fall.
	if l, _ := v.GetAttr("loss").AsBigFloat().Float64(); !(l < 0.69) {
		t.Fatalf("final DPO loss %v", l)
	}
}

func TestTrainRejectsNonBuiltinBase(t *testing.T) {
	h := newHarness(t)
	x := h.exec("sft", map[string]cty.Value{"base": compiler.ModelVal(compiler.ModelRef{Provider: "openai", Digest: "x"}), "data": h.dataset(problems(2))},
		map[string]string{"prompt": `item.question`, "target": `"x"`})
	_, err := (&modelops.SFT{}).Run(ctx, x)
	if err == nil || !strings.Contains(err.Error(), `trainer = "command"`) {
		t.Fatalf("err = %v", err)
	}
}
