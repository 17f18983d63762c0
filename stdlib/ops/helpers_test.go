package ops_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/runtimetest"
	"github.com/ouroloop/ouro/runtime/store"
	"github.com/ouroloop/ouro/stdlib"
	"github.com/ouroloop/ouro/stdlib/ops"
)

var registry = stdlib.NewRegistry()

// newEnv is a runtimetest environment with the standard function table.
func newEnv(t testing.TB) *runtimetest.Env {
	t.Helper()
	return runtimetest.New(t, stdlib.Functions())
}

func sig(t testing.TB, name string) *compiler.Signature {
	t.Helper()
	s, ok := registry.Operator(name)
	if !ok {
		t.Fatalf("no signature %q", name)
	}
	return s
}

func operator(t testing.TB, name string) runtime.Operator {
	t.Helper()
	for _, op := range ops.Operators() {
		if op.Name() == name {
			return op
		}
	}
	t.Fatalf("no operator %q", name)
	return nil
}

// run runs operator name with c (c.Sig filled in).
func run(t testing.TB, env *runtimetest.Env, name string, c runtimetest.Call) (cty.Value, *runtime.Exec, error) {
	t.Helper()
	c.Sig = sig(t, name)
	x := env.Exec(t, c)
	v, err := operator(t, name).Run(context.Background(), x)
	return v, x, err
}

// mustRun is run that fails the test on error and returns the records.
func mustRun(t testing.TB, env *runtimetest.Env, name string, c runtimetest.Call) ([]cty.Value, *runtime.Exec) {
	t.Helper()
	v, x, err := run(t, env, name, c)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return env.ReadAll(t, v), x
}

func obj(kv ...any) cty.Value {
	m := map[string]cty.Value{}
	for i := 0; i < len(kv); i += 2 {
		var v cty.Value
		switch x := kv[i+1].(type) {
		case string:
			v = cty.StringVal(x)
		case int:
			v = cty.NumberIntVal(int64(x))
		case float64:
			v = cty.NumberFloatVal(x)
		case bool:
			v = cty.BoolVal(x)
		case cty.Value:
			v = x
		default:
			panic("obj: bad value")
		}
		m[kv[i].(string)] = v
	}
	return cty.ObjectVal(m)
}

var qa = cty.Object(map[string]cty.Type{"question": cty.String, "answer": cty.Number})

func qaRec(q string, a any) cty.Value {
	switch x := a.(type) {
	case nil:
		return cty.ObjectVal(map[string]cty.Value{"question": cty.StringVal(q), "answer": cty.NullVal(cty.Number)})
	case int:
		return cty.ObjectVal(map[string]cty.Value{"question": cty.StringVal(q), "answer": cty.NumberIntVal(int64(x))})
	case float64:
		return cty.ObjectVal(map[string]cty.Value{"question": cty.StringVal(q), "answer": cty.NumberFloatVal(x)})
	}
	panic("qaRec")
}

// field returns attribute name of each record, as Go strings for display.
func field(recs []cty.Value, name string) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = show(r.GetAttr(name))
	}
	return out
}

func show(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	switch v.Type() {
	case cty.String:
		return v.AsString()
	case cty.Number:
		return v.AsBigFloat().Text('g', -1)
	case cty.Bool:
		if v.True() {
			return "true"
		}
		return "false"
	}
	return v.GoString()
}

func eq(t testing.TB, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func errContains(t testing.TB, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", subs)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not contain %q", err.Error(), s)
		}
	}
}

// copyFixture copies testdata files into the env's spec directory.
func copyFixture(t testing.TB, env *runtimetest.Env, names ...string) {
	t.Helper()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(env.Dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// blobCount counts the committed blobs, so tests can check that a failed
// stage committed nothing.
func blobCount(t testing.TB, env *runtimetest.Env) int {
	t.Helper()
	n := 0
	err := env.Blobs.(store.BlobAdmin).Walk(func(store.Digest, int64) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writeFile(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
