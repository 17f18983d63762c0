package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ouroloop/ouro/bench/noop"
	"github.com/ouroloop/ouro/runtime/store"
)

// TestPlanCache: after a run the store holds the compiled plan under a key
// of the binary, the spec files and the variables; the cached plan is the
// plan compiling returns, and any change to the inputs misses.
func TestPlanCache(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "p.loop.hcl")
	src := string(noop.Ouro(5))
	if err := os.WriteFile(spec, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	ranCount := func() int {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run([]string{"run", "--json", "--progress=none", spec}, &out, &errb); code != 0 {
			t.Fatalf("exit %d\n%s", code, errb.String())
		}
		var rec struct {
			Stages []struct{ Status string } `json:"stages"`
		}
		if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, s := range rec.Stages {
			if s.Status == "ran" {
				n++
			}
		}
		return n
	}
	if n := ranCount(); n != 5 {
		t.Fatalf("first run: %d ran", n)
	}
	if n := ranCount(); n != 0 { // compiled (store existed), cached the plan
		t.Fatalf("second run: %d ran", n)
	}
	if n := ranCount(); n != 0 { // from the cached plan
		t.Fatalf("third run: %d ran", n)
	}
	f := &specFlags{}
	key, ok := planCacheKey(spec, f)
	if !ok {
		t.Fatal("no plan-cache key")
	}
	st, err := store.Open(filepath.Join(dir, ".ouro"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := cachedPlan(st, spec, key)
	st.Close()
	if p == nil {
		t.Fatal("no cached plan after a run")
	}
	l := load(spec, f)
	want, _ := json.Marshal(l.result.Plan)
	got, _ := json.Marshal(p)
	if !bytes.Equal(got, want) {
		t.Error("the cached plan differs from the compiled one")
	}
	for name, g := range map[string]*specFlags{"var": {vars: []string{"x=1"}}} {
		if k, _ := planCacheKey(spec, g); k == key {
			t.Errorf("%s: same plan-cache key", name)
		}
	}
	// An edited spec misses: the changed stage runs.
	if err := os.WriteFile(spec, []byte(strings.Replace(src, "item.score + 2", "item.score + 7", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if k, _ := planCacheKey(spec, f); k == key {
		t.Error("edited spec: same plan-cache key")
	}
	if n := ranCount(); n == 0 {
		t.Error("edited spec: nothing ran")
	}
	if n := ranCount(); n != 0 {
		t.Errorf("edited spec again: %d ran", n)
	}
	// Diagnostics are never cached: a broken spec still fails.
	if err := os.WriteFile(spec, []byte(src+"\nstage \"nosuchop\" \"x\" {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"run", "--progress=none", spec}, &out, &errb); code != exitDiags {
		t.Errorf("broken spec: exit %d\n%s", code, errb.String())
	}
}
