// Package runtimetest builds runtime.Exec values for operator tests without
// the executor: a temporary blob store, datasets from Go values, per-item
// expressions and patterns from source text, parameter defaults from a
// signature and the output type from the signature's Result.
//
// It depends only on runtime, compiler, store, dataset and lang/pattern, so
// stdlib packages can use it in their tests. Like the compiler, it takes the
// function table of expressions as an argument (New) rather than importing
// stdlib/funcs, so no import runs up the layers.
package runtimetest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang/pattern"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/dataset"
	"github.com/ouroloop/ouro/runtime/store"
)

// Env is a test environment: a blob store in a temporary directory, a
// spec directory (Dir) that relative paths resolve against, and the
// functions per-item expressions may call.
type Env struct {
	Blobs     store.BlobStore
	Dir       string
	Functions map[string]function.Function
}

// New returns an Env whose directories are removed when the test ends.
// functions is the function table of per-item expressions (stdlib.Functions()
// in stdlib's tests); nil gives them none.
func New(t testing.TB, functions map[string]function.Function) *Env {
	t.Helper()
	root := t.TempDir()
	bs, err := store.NewDiskBlobs(filepath.Join(root, "blobs"), filepath.Join(root, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Blobs: bs, Dir: t.TempDir(), Functions: functions}
}

// Dataset stores records as a dataset whose schema is the first record's
// type. Use DatasetOf for empty datasets or an explicit schema.
func (e *Env) Dataset(t testing.TB, recs []cty.Value) cty.Value {
	t.Helper()
	if len(recs) == 0 {
		t.Fatal("runtimetest.Dataset: no records; use DatasetOf with a schema")
	}
	return e.DatasetOf(t, recs[0].Type(), recs)
}

// DatasetOf stores records as a dataset of the given schema.
func (e *Env) DatasetOf(t testing.TB, schema cty.Type, recs []cty.Value) cty.Value {
	t.Helper()
	d, n, err := dataset.WriteValues(e.Blobs, schema, recs)
	if err != nil {
		t.Fatalf("runtimetest.DatasetOf: %v", err)
	}
	return compiler.DatasetVal(compiler.DatasetRef{Digest: string(d), Count: n, Schema: schema})
}

// ReadAll reads every record of a dataset value.
func (e *Env) ReadAll(t testing.TB, v cty.Value) []cty.Value {
	t.Helper()
	recs, err := e.Records(v)
	if err != nil {
		t.Fatalf("runtimetest.ReadAll: %v", err)
	}
	return recs
}

// Records reads every record of a dataset value.
func (e *Env) Records(v cty.Value) ([]cty.Value, error) {
	ref := v.EncapsulatedValue().(*compiler.DatasetRef)
	r, c, err := dataset.OpenBlob(e.Blobs, store.Digest(ref.Digest))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return r.ReadAll()
}

// Call describes one stage for Exec.
type Call struct {
	Sig *compiler.Signature
	// Params are value parameters; missing ones get the signature's default.
	Params map[string]cty.Value
	// Items are per-item parameters as HCL expression source, e.g. "item.x > 1".
	Items map[string]string
	// Patterns are pattern parameters as pattern source (no HCL quoting).
	Patterns map[string]string
	// Schemas are type parameters.
	Schemas map[string]cty.Type
	// Address defaults to "stage.test".
	Address string
	Seed    uint64
}

// Exec builds the Exec a runtime would pass to the operator of c.Sig. The
// node's type is computed with the signature's Result, as the compiler does.
func (e *Env) Exec(t testing.TB, c Call) *runtime.Exec {
	t.Helper()
	x, err := e.Build(c)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// Build is Exec returning errors instead of failing the test.
func (e *Env) Build(c Call) (*runtime.Exec, error) {
	addr := c.Address
	if addr == "" {
		addr = "stage.test"
	}
	x := &runtime.Exec{
		Node:     &compiler.Node{Address: addr, Kind: compiler.KindStage, Name: "test", Operator: c.Sig.Name, Round: -1},
		Sig:      c.Sig,
		Params:   map[string]cty.Value{},
		Items:    map[string]*runtime.ItemExpr{},
		Patterns: map[string]*pattern.Pattern{},
		Schemas:  map[string]cty.Type{},
		Seed:     c.Seed,
		Blobs:    e.Blobs,
		Env:      &runtime.Env{Blobs: e.Blobs, SpecDir: e.Dir, Scratch: e.Dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Counts:   map[string]int64{},
	}
	x.Log = x.Env.Log
	ck := &compiler.Check{Stage: addr, Types: map[string]cty.Type{}, Values: map[string]cty.Value{}, ItemTypes: map[string]cty.Type{}, Patterns: x.Patterns, Schemas: x.Schemas, Ranges: map[string]hcl.Range{}}
	scope := &hcl.EvalContext{Functions: e.Functions}
	for name := range c.Params {
		if c.Sig.Param(name) == nil {
			return nil, errorf("runtimetest: %s has no parameter %q", c.Sig.Name, name)
		}
	}
	for _, p := range c.Sig.Params {
		switch p.Mode {
		case compiler.ModeValue:
			v, ok := c.Params[p.Name]
			if !ok {
				if p.Default != cty.NilVal {
					v = p.Default
				} else {
					t := p.Type
					if t == cty.NilType {
						t = cty.DynamicPseudoType
					}
					v = cty.NullVal(t)
				}
			}
			x.Params[p.Name] = v
			if ok || p.Default != cty.NilVal {
				ck.Types[p.Name], ck.Values[p.Name] = v.Type(), v
			}
		case compiler.ModePattern:
			if src, ok := c.Patterns[p.Name]; ok {
				pat, err := pattern.Parse(src)
				if err != nil {
					return nil, err
				}
				x.Patterns[p.Name] = pat
			}
		case compiler.ModeType:
			if ty, ok := c.Schemas[p.Name]; ok {
				x.Schemas[p.Name] = ty
			}
		}
	}
	for _, p := range c.Sig.Params {
		if p.Mode != compiler.ModePerItem {
			continue
		}
		src, ok := c.Items[p.Name]
		if !ok {
			continue
		}
		expr, diags := hclsyntax.ParseExpression([]byte(src), p.Name+".hcl", hcl.InitialPos)
		if diags.HasErrors() {
			return nil, runtime.DiagnosticsError{Diags: diags}
		}
		x.Items[p.Name] = &runtime.ItemExpr{Name: p.Name, Expr: expr, Scope: scope}
		vars := map[string]cty.Type{"item": ck.Elem(p.ItemOf)}
		if p.Vars != nil {
			vars = p.Vars(ck)
		}
		uv := map[string]cty.Value{}
		for k, t := range vars {
			uv[k] = cty.UnknownVal(t)
		}
		v, err := x.Items[p.Name].Eval(uv)
		if err != nil {
			return nil, err
		}
		ck.ItemTypes[p.Name] = v.Type()
		if p.Type != cty.DynamicPseudoType && p.Type != cty.NilType {
			ck.ItemTypes[p.Name] = p.Type
		}
	}
	for name := range c.Items {
		if _, ok := x.Items[name]; !ok {
			return nil, errorf("runtimetest: %s has no per-item parameter %q", c.Sig.Name, name)
		}
	}
	var out cty.Type
	if c.Sig.Result == nil {
		out = compiler.DatasetType(ck.Elem("input"))
	} else {
		ty, diags := c.Sig.Result(ck)
		if diags.HasErrors() {
			return nil, runtime.DiagnosticsError{Diags: diags}
		}
		out = ty
	}
	if out != cty.NilType {
		b, err := compiler.MarshalType(out)
		if err == nil {
			x.Node.Type = b
		}
	}
	return x, nil
}

// Run builds the Exec and runs op on it.
func (e *Env) Run(t testing.TB, op runtime.Operator, c Call) (cty.Value, *runtime.Exec, error) {
	t.Helper()
	x := e.Exec(t, c)
	v, err := op.Run(context.Background(), x)
	return v, x, err
}
