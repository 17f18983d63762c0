package modelops_test

import (
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/store"
	"github.com/ouroloop/ouro/stdlib/modelops"
	"github.com/ouroloop/ouro/stdlib/providers"
)

// A training stage records its chat_template in the checkpoint; a model
// trained from it (sft or dpo) keeps the template unless the stage gives
// another.
func TestChatTemplateRecorded(t *testing.T) {
	h := newHarness(t)
	template := func(v cty.Value) string {
		t.Helper()
		ref := v.GetAttr("model").EncapsulatedValue().(*compiler.ModelRef)
		m, err := providers.LoadModel(h.blobs, store.Digest(ref.Digest))
		if err != nil {
			t.Fatal(err)
		}
		return m.ChatTemplate()
	}
	sftOn := func(base, data cty.Value, tmpl string) cty.Value {
		t.Helper()
		p := map[string]cty.Value{"base": base, "data": data, "steps": cty.NumberIntVal(2), "batch_size": cty.NumberIntVal(2)}
		if tmpl != "" {
			p["chat_template"] = cty.StringVal(tmpl)
		}
		v, err := (&modelops.SFT{}).Run(ctx, h.exec("sft", p, map[string]string{"prompt": `"Q: ${item.question}\nA:"`, "target": `" ${item.answer}"`}))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	sft := func(base cty.Value, data []cty.Value, tmpl string) cty.Value {
		t.Helper()
		return sftOn(base, h.dataset(data), tmpl)
	}
	// A filter that kept nothing: an empty dataset of the problems' schema.
	emptyRef := *h.dataset(problems(1)).EncapsulatedValue().(*compiler.DatasetRef)
	none, err := (&runtime.Exec{Blobs: h.blobs}).WriteDataset(emptyRef.Schema, func(func(cty.Value) error) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	base := h.tinyModel(4)
	first := sft(base, problems(4), "Q: {user}\nA:")
	if got := template(first); got != "Q: {user}\nA:" {
		t.Fatalf("sft with chat_template recorded %q", got)
	}
	if got := template(sft(first.GetAttr("model"), problems(4), "")); got != "Q: {user}\nA:" {
		t.Errorf("sft from it without chat_template recorded %q, want the base's", got)
	}
	if got := template(sft(first.GetAttr("model"), problems(4), "{user} =")); got != "{user} =" {
		t.Errorf("sft with another chat_template recorded %q", got)
	}
	if got := template(sft(base, problems(4), "")); got != "" {
		t.Errorf("sft of a base without one recorded %q", got)
	}
	// No data: the base itself, unless the stage gives a template the
	// base lacks; then a copy of the base that records it.
	digest := func(v cty.Value) string {
		return v.GetAttr("model").EncapsulatedValue().(*compiler.ModelRef).Digest
	}
	baseDigest := base.EncapsulatedValue().(*compiler.ModelRef).Digest
	if got := sftOn(base, none, ""); digest(got) != baseDigest {
		t.Errorf("sft on no data gave %s, want the base %s", digest(got), baseDigest)
	}
	if got := sftOn(first.GetAttr("model"), none, "Q: {user}\nA:"); digest(got) != digest(first) {
		t.Errorf("sft on no data with the base's own template gave a new model")
	}
	tagged := sftOn(base, none, "{user} ->")
	if digest(tagged) == baseDigest || template(tagged) != "{user} ->" {
		t.Errorf("sft on no data with a new template: digest %s (base %s), template %q", digest(tagged), baseDigest, template(tagged))
	}
	v, err := (&modelops.DPO{}).Run(ctx, h.exec("dpo", map[string]cty.Value{"base": first.GetAttr("model"), "data": h.dataset(preferencePairs(4)), "steps": cty.NumberIntVal(2), "batch_size": cty.NumberIntVal(2)},
		map[string]string{"prompt": `item.prompt`, "chosen": `item.chosen`, "rejected": `item.rejected`}))
	if err != nil {
		t.Fatal(err)
	}
	if got := template(v); got != "Q: {user}\nA:" {
		t.Errorf("dpo recorded %q, want the base's", got)
	}
}
