package modelops_test

import (
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
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
	sft := func(base cty.Value, data []cty.Value, tmpl string) cty.Value {
		t.Helper()
		p := map[string]cty.Value{"base": base, "data": h.dataset(data), "steps": cty.NumberIntVal(2), "batch_size": cty.NumberIntVal(2)}
		if tmpl != "" {
			p["chat_template"] = cty.StringVal(tmpl)
		}
		v, err := (&modelops.SFT{}).Run(ctx, h.exec("sft", p, map[string]string{"prompt": `"Q: ${item.question}\nA:"`, "target": `" ${item.answer}"`}))
		if err != nil {
			t.Fatal(err)
		}
		return v
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
	v, err := (&modelops.DPO{}).Run(ctx, h.exec("dpo", map[string]cty.Value{"base": first.GetAttr("model"), "data": h.dataset(preferencePairs(4)), "steps": cty.NumberIntVal(2), "batch_size": cty.NumberIntVal(2)},
		map[string]string{"prompt": `item.prompt`, "chosen": `item.chosen`, "rejected": `item.rejected`}))
	if err != nil {
		t.Fatal(err)
	}
	if got := template(v); got != "Q: {user}\nA:" {
		t.Errorf("dpo recorded %q, want the base's", got)
	}
}
