package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/dataset"
	"github.com/ouroloop/ouro/runtime/store"
)

// A tiny operator library, so the executor is tested on its own.

var numRec = cty.Object(map[string]cty.Type{"n": cty.Number})

type testLib struct {
	mu    sync.Mutex
	runs  map[string]*int64
	fail  map[string]bool
	sigs  *testReg
	calls int64
}

type testReg struct {
	ops map[string]*compiler.Signature
}

func (r *testReg) Operator(n string) (*compiler.Signature, bool) { s, ok := r.ops[n]; return s, ok }
func (r *testReg) OperatorNames() []string {
	var out []string
	for k := range r.ops {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
func (r *testReg) Provider(string) (*compiler.Signature, bool) { return nil, false }
func (r *testReg) ProviderNames() []string                     { return nil }

func newReg() *testReg {
	anyDS := compiler.DatasetType(cty.DynamicPseudoType)
	return &testReg{ops: map[string]*compiler.Signature{
		"numbers": {Name: "numbers", Params: []*compiler.Param{{Name: "n", Type: cty.Number, Required: true}, {Name: "salt", Type: cty.Number, Default: cty.NumberIntVal(0)}},
			Result: func(*compiler.Check) (cty.Type, hcl.Diagnostics) { return compiler.DatasetType(numRec), nil }},
		"scale": {Name: "scale", Params: []*compiler.Param{{Name: "input", Type: anyDS, Required: true},
			{Name: "by", Type: cty.Number, Mode: compiler.ModePerItem, ItemOf: "input", Required: true}},
			Result: func(*compiler.Check) (cty.Type, hcl.Diagnostics) { return compiler.DatasetType(numRec), nil }},
		"total": {Name: "total", Params: []*compiler.Param{{Name: "input", Type: anyDS, Required: true}},
			Result: func(*compiler.Check) (cty.Type, hcl.Diagnostics) {
				return cty.Object(map[string]cty.Type{"metrics": cty.Object(map[string]cty.Type{"sum": cty.Number})}), nil
			}},
	}}
}

type op struct {
	name string
	lib  *testLib
	run  func(ctx context.Context, x *runtime.Exec) (cty.Value, error)
}

func (o *op) Name() string { return o.name }
func (o *op) Version() int { return 1 }
func (o *op) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	atomic.AddInt64(&o.lib.calls, 1)
	o.lib.mu.Lock()
	fail := o.lib.fail[x.Node.Name]
	o.lib.mu.Unlock()
	if fail {
		return cty.NilVal, errors.New("boom")
	}
	return o.run(ctx, x)
}

func (l *testLib) Operator(name string) (runtime.Operator, bool) {
	switch name {
	case "numbers":
		return &op{name: name, lib: l, run: func(_ context.Context, x *runtime.Exec) (cty.Value, error) {
			n, _ := x.Param("n").AsBigFloat().Int64()
			salt := x.Param("salt")
			return x.WriteDataset(numRec, func(write func(cty.Value) error) error {
				for i := int64(0); i < n; i++ {
					if err := write(cty.ObjectVal(map[string]cty.Value{"n": cty.NumberIntVal(i).Add(salt)})); err != nil {
						return err
					}
				}
				return nil
			})
		}}, true
	case "scale":
		return &op{name: name, lib: l, run: func(_ context.Context, x *runtime.Exec) (cty.Value, error) {
			rd, c, err := x.Open("input")
			if err != nil {
				return cty.NilVal, err
			}
			defer c.Close()
			return x.WriteDataset(numRec, func(write func(cty.Value) error) error {
				for {
					rec, err := rd.Next()
					if err != nil {
						return nil
					}
					k, err := x.Items["by"].EvalItem(rec)
					if err != nil {
						return err
					}
					if err := write(cty.ObjectVal(map[string]cty.Value{"n": rec.GetAttr("n").Multiply(k)})); err != nil {
						return err
					}
				}
			})
		}}, true
	case "total":
		return &op{name: name, lib: l, run: func(_ context.Context, x *runtime.Exec) (cty.Value, error) {
			rd, c, err := x.Open("input")
			if err != nil {
				return cty.NilVal, err
			}
			defer c.Close()
			recs, err := rd.ReadAll()
			if err != nil {
				return cty.NilVal, err
			}
			sum := cty.NumberIntVal(0)
			for _, r := range recs {
				sum = sum.Add(r.GetAttr("n"))
			}
			return cty.ObjectVal(map[string]cty.Value{"metrics": cty.ObjectVal(map[string]cty.Value{"sum": sum})}), nil
		}}, true
	}
	return nil, false
}
func (l *testLib) Provider(string) (runtime.Provider, bool) { return nil, false }
func (l *testLib) Signatures() compiler.Registry            { return l.sigs }

var _ = dataset.NewReader

const spec = `
variable "k" {
  type = number
  default = 2
}
stage "numbers" "src" {
  n     = 5
}
stage "scale" "scaled" {
  input = stage.src
  by    = item.n * 0 + var.k
}
stage "total" "t0" {
  input = stage.scaled
}
stage "numbers" "other" {
  n     = 3
  salt  = 100
}
stage "total" "t_other" {
  input = stage.other
}
loop "grow" {
  rounds = 4
  state  = { k = 1 }
  stage "scale" "s" {
    input = stage.src
    by    = state.k
  }
  stage "total" "t" {
    input = stage.s
  }
  next  = { k = state.k + 1 }
  until = stage.t.metrics.sum >= 20
}
output "sums" {
  value = loop.grow.rounds[*].t.metrics.sum
}
output "final_k" {
  value = loop.grow.state.k
}
`

func compile(t *testing.T, src string, vars ...compiler.VarInput) *compiler.Plan {
	t.Helper()
	cfg, diags := lang.NewParser().LoadSource([]byte(src), "test.loop.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	res, diags := compiler.Compile(cfg, compiler.Options{Registry: newReg(), Functions: funcs(), Vars: vars})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return res.Plan
}

func funcs() map[string]function.Function {
	return map[string]function.Function{"max": stdlib.MaxFunc}
}

func runPlan(t *testing.T, st *store.Store, lib *testLib, p *compiler.Plan, opts runtime.Options) (*runtime.Result, error) {
	t.Helper()
	opts.Store, opts.Library, opts.Functions = st, lib, funcs()
	return runtime.Run(context.Background(), p, opts)
}

func statuses(r *runtime.Result) map[string]string {
	m := map[string]string{}
	for _, s := range r.Record.Stages {
		m[s.Address] = s.Status
	}
	return m
}

func newLib() *testLib {
	return &testLib{runs: map[string]*int64{}, fail: map[string]bool{}, sigs: newReg()}
}

func TestRunCachesAndStopsLoop(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := compile(t, spec)
	lib := newLib()
	res, err := runPlan(t, st, lib, p, runtime.Options{Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	// sum(0..4) = 10; k=1 → 10, k=2 → 20 stops after round 1.
	if got := string(res.Record.Outputs["sums"]); got != "[10,20]" {
		t.Errorf("sums = %s, want [10,20]", got)
	}
	if got := string(res.Record.Outputs["final_k"]); got != "3" {
		t.Errorf("final_k = %s, want 3", got)
	}
	s := statuses(res)
	if s["loop.grow[2].stage.s"] != "skipped" || s["loop.grow[1].stage.t"] != "ran" {
		t.Errorf("statuses: %v", s)
	}
	if string(res.Record.Metrics["stage.t0"]) != `{"sum":20}` {
		t.Errorf("metrics t0 = %s", res.Record.Metrics["stage.t0"])
	}

	// Unchanged re-run: nothing runs.
	lib2 := newLib()
	res2, err := runPlan(t, st, lib2, p, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if lib2.calls != 0 {
		t.Errorf("re-run called operators %d times, want 0", lib2.calls)
	}
	for a, s := range statuses(res2) {
		if s != "cached" && s != "skipped" {
			t.Errorf("%s: %s on re-run", a, s)
		}
	}
	if string(res2.Record.Outputs["sums"]) != "[10,20]" {
		t.Errorf("cached outputs differ: %s", res2.Record.Outputs["sums"])
	}

	// Change one variable: exactly scaled and its descendants re-run, and
	// plan says why.
	p3 := compile(t, spec, compiler.VarInput{Name: "k", Raw: "3", IsRaw: true})
	dry, err := runPlan(t, st, newLib(), p3, runtime.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	why := map[string]string{}
	for _, e := range dry.Explain {
		why[e.Address] = e.Status + ": " + e.Reason
	}
	if why["stage.scaled"] != "will-run: params changed: by" {
		t.Errorf("explain scaled = %q", why["stage.scaled"])
	}
	if why["stage.t0"] != "will-run: upstream stage.scaled will run" {
		t.Errorf("explain t0 = %q", why["stage.t0"])
	}
	if why["stage.src"] != "cached: " {
		t.Errorf("explain src = %q", why["stage.src"])
	}
	lib3 := newLib()
	res3, err := runPlan(t, st, lib3, p3, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ran []string
	for a, s := range statuses(res3) {
		if s == "ran" {
			ran = append(ran, a)
		}
	}
	sort.Strings(ran)
	if fmt.Sprint(ran) != "[stage.scaled stage.t0]" {
		t.Errorf("ran %v, want [stage.scaled stage.t0]", ran)
	}
	if string(res3.Record.Metrics["stage.t0"]) != `{"sum":30}` {
		t.Errorf("metrics t0 = %s", res3.Record.Metrics["stage.t0"])
	}
}

func TestFailureSkipsDownstreamOnly(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lib := newLib()
	lib.fail["scaled"] = true
	res, err := runPlan(t, st, lib, compile(t, spec), runtime.Options{})
	var fe *runtime.FailedError
	if !errors.As(err, &fe) || len(fe.Stages) != 1 || fe.Stages[0].Address != "stage.scaled" {
		t.Fatalf("err = %v", err)
	}
	s := statuses(res)
	if s["stage.t0"] != "skipped" || s["stage.t_other"] != "ran" || s["loop.grow[0].stage.t"] != "ran" {
		t.Errorf("statuses: %v", s)
	}
	if res.Record.Status != "failed" {
		t.Errorf("status %s", res.Record.Status)
	}
	// The failure is not cached: fixing it re-runs only what did not finish.
	lib2 := newLib()
	res2, err := runPlan(t, st, lib2, compile(t, spec), runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s2 := statuses(res2)
	if s2["stage.scaled"] != "ran" || s2["stage.t0"] != "ran" || s2["stage.t_other"] != "cached" {
		t.Errorf("statuses after fix: %v", s2)
	}
}

func TestForceAndFrom(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := compile(t, spec)
	if _, err := runPlan(t, st, newLib(), p, runtime.Options{}); err != nil {
		t.Fatal(err)
	}
	lib := newLib()
	res, err := runPlan(t, st, lib, p, runtime.Options{Force: []string{"t_other"}})
	if err != nil {
		t.Fatal(err)
	}
	if s := statuses(res); s["stage.t_other"] != "ran" || s["stage.other"] != "cached" {
		t.Errorf("force: %v", s)
	}
	lib = newLib()
	res, err = runPlan(t, st, lib, p, runtime.Options{From: "stage.src"})
	if err != nil {
		t.Fatal(err)
	}
	s := statuses(res)
	if s["stage.src"] != "ran" || s["stage.t0"] != "ran" || s["loop.grow[0].stage.s"] != "ran" || s["stage.other"] != "cached" {
		t.Errorf("from: %v", s)
	}
}

func TestUnusedDatasetIsNotLoaded(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := newReg()
	reg.ops["dataset"] = &compiler.Signature{Name: "dataset", Params: []*compiler.Param{{Name: "n", Type: cty.Number, Required: true}},
		Result: func(*compiler.Check) (cty.Type, hcl.Diagnostics) { return compiler.DatasetType(numRec), nil }}
	cfg, diags := lang.NewParser().LoadSource([]byte(`
dataset "unused" {
  n     = 3
}
stage "numbers" "src" {
  n     = 2
}
`), "unused.loop.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	res, diags := compiler.Compile(cfg, compiler.Options{Registry: reg, Functions: funcs()})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	lib := newLib()
	lib.sigs = reg
	// The library has no "dataset" implementation: loading it would fail.
	out, err := runPlan(t, st, lib, res.Plan, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := statuses(out); s["dataset.unused"] != "skipped" || s["stage.src"] != "ran" {
		t.Errorf("statuses: %v", s)
	}
}
