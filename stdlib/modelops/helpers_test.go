package modelops_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang/pattern"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/dataset"
	"github.com/ouroloop/ouro/runtime/store"
	"github.com/ouroloop/ouro/stdlib"
	"github.com/ouroloop/ouro/stdlib/funcs"
	"github.com/ouroloop/ouro/stdlib/providers"
)

// harness is a temp blob store plus what an Exec needs.
type harness struct {
	t     *testing.T
	blobs *store.DiskBlobs
	env   *runtime.Env
	reg   *stdlib.Registry
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	bs, err := store.NewDiskBlobs(filepath.Join(dir, "blobs"), filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, blobs: bs, env: &runtime.Env{Blobs: bs, SpecDir: dir, Scratch: filepath.Join(dir, "scratch")}, reg: stdlib.NewRegistry()}
}

// exec builds an Exec for operator op: params are filled with the
// signature's defaults, items are per-item expressions in HCL source.
func (h *harness) exec(op string, params map[string]cty.Value, items map[string]string) *runtime.Exec {
	h.t.Helper()
	sig, ok := h.reg.Operator(op)
	if !ok {
		h.t.Fatalf("no operator %s", op)
	}
	x := &runtime.Exec{
		Node:     &compiler.Node{Address: "stage." + op, Operator: op},
		Sig:      sig,
		Params:   map[string]cty.Value{},
		Items:    map[string]*runtime.ItemExpr{},
		Patterns: map[string]*pattern.Pattern{},
		Seed:     42,
		Blobs:    h.blobs,
		Env:      h.env,
		OpenModel: func(ctx context.Context, m cty.Value) (runtime.LM, error) {
			ref := m.EncapsulatedValue().(*compiler.ModelRef)
			return (&providers.Builtin{}).Open(ctx, *ref, h.env)
		},
	}
	for _, p := range sig.Params {
		if p.Mode == compiler.ModeValue {
			if p.Default != cty.NilVal {
				x.Params[p.Name] = p.Default
			} else if p.Type != cty.NilType {
				x.Params[p.Name] = cty.NullVal(p.Type)
			}
		}
	}
	for k, v := range params {
		x.Params[k] = v
	}
	for k, src := range items {
		expr, diags := hclsyntax.ParseExpression([]byte(src), k+".hcl", hcl.InitialPos)
		if diags.HasErrors() {
			h.t.Fatalf("%s: %s", k, diags)
		}
		x.Items[k] = &runtime.ItemExpr{Name: k, Expr: expr, Scope: &hcl.EvalContext{Functions: funcs.Table()}}
	}
	return x
}

func (h *harness) dataset(recs []cty.Value) cty.Value {
	h.t.Helper()
	schema := recs[0].Type()
	d, n, err := dataset.WriteValues(h.blobs, schema, recs)
	if err != nil {
		h.t.Fatal(err)
	}
	return compiler.DatasetVal(compiler.DatasetRef{Digest: string(d), Count: n, Schema: schema})
}

func (h *harness) read(v cty.Value) []cty.Value {
	h.t.Helper()
	ref := v.EncapsulatedValue().(*compiler.DatasetRef)
	r, c, err := dataset.OpenBlob(h.blobs, store.Digest(ref.Digest))
	if err != nil {
		h.t.Fatal(err)
	}
	defer c.Close()
	recs, err := r.ReadAll()
	if err != nil {
		h.t.Fatal(err)
	}
	return recs
}

// tinyModel resolves a tiny builtin model.
func (h *harness) tinyModel(seed int64) cty.Value {
	h.t.Helper()
	sig, _ := h.reg.Provider("builtin")
	x := &runtime.Exec{Node: &compiler.Node{Address: "model.tiny"}, Sig: sig, Blobs: h.blobs, Env: h.env, Params: map[string]cty.Value{
		"layers": cty.NumberIntVal(1), "dim": cty.NumberIntVal(16), "heads": cty.NumberIntVal(2),
		"max_seq": cty.NumberIntVal(48), "seed": cty.NumberIntVal(seed), "positions": cty.StringVal("rope"),
		"vocab": cty.StringVal("0123456789+=QA: \nabcdefghijklmnopqrstuvwxyz"), "hidden": cty.NumberIntVal(32),
	}}
	ref, err := (&providers.Builtin{}).Resolve(context.Background(), x)
	if err != nil {
		h.t.Fatal(err)
	}
	return compiler.ModelVal(ref)
}

func problems(n int) []cty.Value {
	var out []cty.Value
	for i := 0; i < n; i++ {
		a, b := i%7, (i*3)%5
		out = append(out, cty.ObjectVal(map[string]cty.Value{
			"question": cty.StringVal(itoa(a) + "+" + itoa(b)),
			"answer":   cty.NumberIntVal(int64(a + b)),
		}))
	}
	return out
}

func itoa(i int) string { return cty.NumberIntVal(int64(i)).AsBigFloat().Text('f', 0) }

func str(v cty.Value, attr string) string { return v.GetAttr(attr).AsString() }

// preferencePairs are DPO pairs over problems(n): the right answer chosen,
// the answer plus one rejected.
func preferencePairs(n int) []cty.Value {
	var pairs []cty.Value
	for _, p := range problems(n) {
		pairs = append(pairs, cty.ObjectVal(map[string]cty.Value{
			"prompt":   cty.StringVal("Q: " + str(p, "question") + "\nA:"),
			"chosen":   cty.StringVal(" " + itoa(answer(p))),
			"rejected": cty.StringVal(" " + itoa(answer(p)+1)),
		}))
	}
	return pairs
}
