package modelops_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/modelops"
	"github.com/ouroloop/ouro/stdlib/providers"
)

var ctx = context.Background()

func digestOf(v cty.Value) string { return v.EncapsulatedValue().(*compiler.DatasetRef).Digest }

func runGenerate(t *testing.T, h *harness, model, input cty.Value, extra map[string]cty.Value, seed uint64) cty.Value {
	t.Helper()
	p := map[string]cty.Value{"model": model, "input": input, "samples": cty.NumberIntVal(3), "max_tokens": cty.NumberIntVal(8), "temperature": cty.NumberFloatVal(1.0)}
	for k, v := range extra {
		p[k] = v
	}
	x := h.exec("generate", p, map[string]string{"prompt": `"Q: ${item.question}\nA:"`})
	x.Seed = seed
	v, err := (&modelops.Generate{}).Run(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestGenerateRecordsAndDeterminism(t *testing.T) {
	h := newHarness(t)
	m := h.tinyModel(1)
	in := h.dataset(problems(5))
	v1 := runGenerate(t, h, m, in, nil, 42)
	recs := h.read(v1)
	if len(recs) != 15 {
		t.Fatalf("got %d records, want 15", len(recs))
	}
	for i, r := range recs {
		item, sample := i/3, i%3
		if got := str(r, "question"); got != str(problems(5)[item], "question") {
			t.Fatalf("record %d: question %q out of order", i, got)
		}
		if s, _ := r.GetAttr("sample").AsBigFloat().Int64(); int(s) != sample {
			t.Fatalf("record %d: sample %d, want %d", i, s, sample)
		}
		if fr := str(r, "finish_reason"); fr != "stop" && fr != "length" {
			t.Fatalf("finish_reason %q", fr)
		}
		if str(r, "prompt") != "Q: "+str(r, "question")+"\nA:" {
			t.Fatalf("prompt %q", str(r, "prompt"))
		}
		if r.Type().HasAttribute("logprob") {
			t.Fatal("logprob without logprobs = true")
		}
	}
	// Same seed, same bytes.
	if d := digestOf(runGenerate(t, h, m, in, nil, 42)); d != digestOf(v1) {
		t.Fatal("same seed gave different records")
	}
	// Different stage seed or parameter seed: different samples.
	if d := digestOf(runGenerate(t, h, m, in, nil, 43)); d == digestOf(v1) {
		t.Fatal("different stage seed gave the same records")
	}
	if d := digestOf(runGenerate(t, h, m, in, map[string]cty.Value{"seed": cty.NumberIntVal(9)}, 42)); d == digestOf(v1) {
		t.Fatal("different seed parameter gave the same records")
	}
	// logprobs adds the field.
	lp := h.read(runGenerate(t, h, m, in, map[string]cty.Value{"logprobs": cty.True}, 42))
	if !lp[0].Type().HasAttribute("logprob") || lp[0].GetAttr("logprob").IsNull() {
		t.Fatal("no logprob")
	}
	if str(lp[4], "completion") != str(recs[4], "completion") {
		t.Fatal("logprobs changed the samples")
	}
}

func TestGenerateMessages(t *testing.T) {
	h := newHarness(t)
	m := h.tinyModel(1)
	in := h.dataset(problems(2))
	x := h.exec("generate", map[string]cty.Value{"model": m, "input": in, "max_tokens": cty.NumberIntVal(4)},
		map[string]string{"messages": `[{role = "user", content = item.question}]`})
	v, err := (&modelops.Generate{}).Run(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	recs := h.read(v)
	if len(recs) != 2 || str(recs[0], "prompt") != "user: 0+0\nassistant:" {
		t.Fatalf("got %#v", recs)
	}
}

func TestEvaluateMetrics(t *testing.T) {
	h := newHarness(t)
	m := h.tinyModel(1)
	in := h.dataset(problems(4))
	x := h.exec("evaluate", map[string]cty.Value{"model": m, "input": in, "samples": cty.NumberIntVal(2), "max_tokens": cty.NumberIntVal(4), "temperature": cty.NumberIntVal(0)},
		map[string]string{
			"prompt":  `"Q: ${item.question}\nA:"`,
			"score":   `item.sample == 0`,
			"metrics": `{ accuracy = fraction(scores), n = length(items), first = items[0].question }`,
		})
	v, err := (&modelops.Evaluate{}).Run(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	mt := v.GetAttr("metrics")
	acc, _ := mt.GetAttr("accuracy").AsBigFloat().Float64()
	n, _ := mt.GetAttr("n").AsBigFloat().Int64()
	if acc != 0.5 || n != 8 || mt.GetAttr("first").AsString() != "0+0" {
		t.Fatalf("metrics %#v", mt)
	}
	items := h.read(v.GetAttr("items"))
	if len(items) != 8 || !items[0].GetAttr("score").True() || items[1].GetAttr("score").True() {
		t.Fatalf("items %#v", items)
	}
	// Greedy: both samples of an item agree.
	if str(items[0], "completion") != str(items[1], "completion") {
		t.Fatal("greedy samples differ")
	}
}

func meanNLL(t *testing.T, h *harness, model cty.Value, data []cty.Value) float64 {
	t.Helper()
	ref := model.EncapsulatedValue().(*compiler.ModelRef)
	lm, err := (&providers.Builtin{}).Open(ctx, *ref, h.env)
	if err != nil {
		t.Fatal(err)
	}
	var s float64
	for _, r := range data {
		lp, err := lm.(runtime.Scorer).LogProb(ctx, "Q: "+str(r, "question")+"\nA:", " "+itoa(answer(r)))
		if err != nil {
			t.Fatal(err)
		}
		s -= lp
	}
	return s / float64(len(data))
}

func answer(r cty.Value) int {
	i, _ := r.GetAttr("answer").AsBigFloat().Int64()
	return int(i)
}

func TestSFTLowersLoss(t *testing.T) {
	h := newHarness(t)
	base := h.tinyModel(1)
	data := problems(8)
	x := h.exec("sft", map[string]cty.Value{"base": base, "data": h.dataset(data), "steps": cty.NumberIntVal(40), "batch_size": cty.NumberIntVal(8), "learning_rate": cty.NumberFloatVal(1e-2), "warmup": cty.NumberIntVal(2)},
		map[string]string{"prompt": `"Q: ${item.question}\nA:"`, "target": `" ${item.answer}"`})
	var p progress
	x.Progress = &p
	v, err := (&modelops.SFT{}).Run(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	tuned := v.GetAttr("model")
	if tuned.EncapsulatedValue().(*compiler.ModelRef).Digest == base.EncapsulatedValue().(*compiler.ModelRef).Digest {
		t.Fatal("digest unchanged")
	}
	if n, _ := v.GetAttr("examples").AsBigFloat().Int64(); n != 8 {
		t.Fatalf("examples %d", n)
	}
	loss, _ := v.GetAttr("loss").AsBigFloat().Float64()
	if math.IsNaN(loss) || loss <= 0 {
		t.Fatalf("loss %v", loss)
	}
	before, after := meanNLL(t, h, base, data), meanNLL(t, h, tuned, data)
	if !(after < before*0.7) {
		t.Fatalf("NLL %v -> %v: did not learn", before, after)
	}
	if p.total != 40 || p.done != 40 {
		t.Fatalf("progress %d/%d", p.done, p.total)
	}
	// Deterministic: same inputs, same model.
	v2, err := (&modelops.SFT{}).Run(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	if !v2.GetAttr("model").RawEquals(tuned) {
		t.Fatal("sft not deterministic")
	}
}

func TestSFTEmptyData(t *testing.T) {
	h := newHarness(t)
	base := h.tinyModel(1)
	empty := h.dataset(problems(1))
	// A filter that kept nothing: write an empty dataset of the same schema.
	emptyRef := *empty.EncapsulatedValue().(*compiler.DatasetRef)
	d, err := (&runtime.Exec{Blobs: h.blobs}).WriteDataset(emptyRef.Schema, func(func(cty.Value) error) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	x := h.exec("sft", map[string]cty.Value{"base": base, "data": d}, map[string]string{"prompt": `item.question`, "target": `"x"`})
	v, err := (&modelops.SFT{}).Run(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	if !v.GetAttr("model").RawEquals(base) || !v.GetAttr("examples").RawEquals(cty.NumberIntVal(0)) || !v.GetAttr("loss").IsNull() {
		t.Fatalf("got %#v", v)
	}
}

type progress struct{ total, done int64 }

func (p *progress) SetTotal(n int64) { p.total = n }
func (p *progress) Add(n int64)      { p.done += n }

// echoLM answers each prompt with itself, reversed.
type echoLM struct{ calls int }

func (e *echoLM) Identity() string { return "echo" }
func (e *echoLM) Generate(_ context.Context, reqs []runtime.GenRequest) ([][]runtime.Completion, error) {
	e.calls++
	out := make([][]runtime.Completion, len(reqs))
	for i, r := range reqs {
		b := []rune(r.Prompt)
		for x, y := 0, len(b)-1; x < y; x, y = x+1, y-1 {
			b[x], b[y] = b[y], b[x]
		}
		for range r.N {
			out[i] = append(out[i], runtime.Completion{Text: string(b), FinishReason: "stop"})
		}
	}
	return out, nil
}

// TestGenerateStreamsBlocks: an input larger than one block of records
// comes out whole and in order, and a bad record far into it is named by
// its own number.
func TestGenerateStreamsBlocks(t *testing.T) {
	h := newHarness(t)
	const n = 9000 // more than two blocks
	var recs []cty.Value
	for i := range n {
		q := cty.StringVal(fmt.Sprintf("q%d", i))
		if i == 8765 {
			q = cty.NullVal(cty.String)
		}
		recs = append(recs, cty.ObjectVal(map[string]cty.Value{"q": q}))
	}
	run := func(recs []cty.Value) (cty.Value, *echoLM, error) {
		x := h.exec("generate", map[string]cty.Value{"input": h.dataset(recs), "samples": cty.NumberIntVal(2)},
			map[string]string{"prompt": `"${item.q}"`})
		lm := &echoLM{}
		x.OpenModel = func(context.Context, cty.Value) (runtime.LM, error) { return lm, nil }
		x.Params["model"] = h.tinyModel(1)
		v, err := (&modelops.Generate{}).Run(ctx, x)
		return v, lm, err
	}
	if _, _, err := run(recs); err == nil || !strings.Contains(err.Error(), "record 8766") {
		t.Fatalf("err = %v, want one naming record 8766", err)
	}
	recs = recs[:8765]
	v, lm, err := run(recs)
	if err != nil {
		t.Fatal(err)
	}
	out := h.read(v)
	if len(out) != 2*len(recs) || lm.calls < 3 {
		t.Fatalf("%d records from %d calls", len(out), lm.calls)
	}
	for i, r := range out {
		q := fmt.Sprintf("q%d", i/2)
		want := []rune(q)
		for x, y := 0, len(want)-1; x < y; x, y = x+1, y-1 {
			want[x], want[y] = want[y], want[x]
		}
		if r.GetAttr("q").AsString() != q || r.GetAttr("completion").AsString() != string(want) {
			t.Fatalf("record %d: %#v", i, r)
		}
	}
}
