package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/store"
)

// TestSameKeyRunsOnce: nodes of one run with the same cache key (module
// instances given the same arguments, here four at parallelism 4) run the
// operator once; the others wait and take its entry, as cached.
func TestSameKeyRunsOnce(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"m/m.loop.hcl":  "variable \"n\" {\n  type = number\n}\n\nstage \"numbers\" \"s\" {\n  n = var.n\n}\n\noutput \"o\" {\n  value = stage.s\n}\n",
		"spec.loop.hcl": "module \"a\" {\n  count  = 4\n  source = \"./m\"\n  n      = 3\n}\n\nmodule \"b\" {\n  source = \"./m\"\n  n      = 2\n}\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, diags := lang.NewParser().LoadPath(dir)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	res, diags := compiler.Compile(cfg, compiler.Options{Registry: newReg(), Functions: funcs()})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lib := newLib()
	out, err := runtime.Run(context.Background(), res.Plan, runtime.Options{Store: st, Library: lib, Functions: funcs(), Parallelism: 4, SpecDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if calls := atomic.LoadInt64(&lib.calls); calls != 2 {
		t.Errorf("operator calls = %d, want 2 (one per distinct key: n = 3 and n = 2)", calls)
	}
	count := map[string]int{}
	for _, s := range out.Record.Stages {
		if s.Name == "s" {
			count[s.Status]++
		}
	}
	if count["ran"] != 2 || count["cached"] != 3 {
		t.Errorf("statuses of the five module stages = %v, want 2 ran and 3 cached", count)
	}
}
