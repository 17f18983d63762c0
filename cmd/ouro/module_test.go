package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A module with a data file of its own, used by two specs in different
// folders under different instance names.
const moduleSpec = `variable "k" {
  type = number
}

dataset "extra" {
  source = "data/extra.jsonl"
}

stage "sample" "few" {
  input = dataset.extra
  n     = var.k
}

output "few" {
  value = stage.few
}
`

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runStatuses runs a spec with a store and returns each node's status.
func runStatuses(t *testing.T, spec, storeDir string) map[string]string {
	t.Helper()
	return runSpec(t, spec, storeDir).status
}

// runResult is what `ouro run --json` said of a run: each node's status
// and key by address, and each output compacted.
type runResult struct {
	status, key, outputs map[string]string
}

// runSpec runs a spec with a store and decodes its --json record.
func runSpec(t *testing.T, spec, storeDir string) runResult {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run([]string{"run", "--json", "--progress=none", "--store", storeDir, spec}, &out, &errb); code != 0 {
		t.Fatalf("ouro run %s: exit %d\n%s%s", spec, code, out.String(), errb.String())
	}
	var r struct {
		Stages  []struct{ Address, Status, Key string }
		Outputs map[string]json.RawMessage
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("--json: %v\n%s%s", err, out.String(), errb.String())
	}
	res := runResult{status: map[string]string{}, key: map[string]string{}, outputs: map[string]string{}}
	for _, s := range r.Stages {
		res.status[s.Address], res.key[s.Address] = s.Status, s.Key
	}
	for name, raw := range r.Outputs {
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			t.Fatal(err)
		}
		res.outputs[name] = b.String()
	}
	return res
}

// TestModuleSharesCacheAcrossSpecs: the same module with the same inputs
// has the same stage keys in two specs of different folders that name the
// instance differently, so the second run takes its stages from the cache;
// the module's `source` is read relative to the module's folder; and an
// edit of the module's file is seen by a spec whose plan was cached.
func TestModuleSharesCacheAcrossSpecs(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"shared/pick/pick.loop.hcl":    moduleSpec,
		"shared/pick/data/extra.jsonl": "{\"x\": 1}\n{\"x\": 2}\n{\"x\": 3}\n",
		"a/spec.loop.hcl":              "module \"pick\" {\n  source = \"../shared/pick\"\n  k      = 2\n}\n",
		"papers/b/spec.loop.hcl":       "module \"choose\" {\n  source = \"../../shared/pick\"\n  k      = 2\n}\n",
	})
	store := filepath.Join(root, "store")
	first := runStatuses(t, filepath.Join(root, "a"), store)
	if first["module.pick.stage.few"] != "ran" || first["module.pick.dataset.extra"] != "ran" {
		t.Fatalf("first run: %v", first)
	}
	second := runStatuses(t, filepath.Join(root, "papers", "b"), store)
	if second["module.choose.stage.few"] != "cached" || second["module.choose.dataset.extra"] != "cached" {
		t.Fatalf("the same module with the same inputs in another spec ran again: %v", second)
	}
	// The plan cache (and the no-op path keyed by it) must see an edit of
	// the module's file, which is not in the spec's folder.
	spec := filepath.Join(root, "a")
	key, ok := planCacheKey(spec, &specFlags{})
	if !ok {
		t.Fatal("no plan-cache key")
	}
	writeFiles(t, root, map[string]string{"shared/pick/pick.loop.hcl": moduleSpec + "\nstage \"sample\" \"one\" {\n  input = dataset.extra\n  n     = 1\n}\n"})
	if k, _ := planCacheKey(spec, &specFlags{}); k == key {
		t.Fatal("editing a module's file left the spec's plan-cache key unchanged")
	}
	after := runStatuses(t, spec, store)
	if after["module.pick.stage.one"] != "ran" || after["module.pick.stage.few"] != "cached" {
		t.Fatalf("after editing the module: %v", after)
	}
}

// TestCountedModule: `count` on a module block makes one instance per
// index, each with its own arguments (count.index), read through an index
// or a splat; an instance has the same stage keys as a single module block
// given the same arguments, so another spec takes it from the cache.
func TestCountedModule(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"shared/pick/pick.loop.hcl":    moduleSpec + "\noutput \"double\" {\n  value = var.k * 2\n}\n",
		"shared/pick/data/extra.jsonl": "{\"x\": 1}\n{\"x\": 2}\n{\"x\": 3}\n",
		"a/spec.loop.hcl": `module "pick" {
  count  = 3
  source = "../shared/pick"
  k      = count.index + 1
}

module "keyed" {
  for_each = { two = 2 }
  source   = "../shared/pick"
  k        = each.value
}

output "doubles" {
  value = module.pick[*].double
}

output "second" {
  value = module.pick[1].double + module.keyed["two"].double
}
`,
		"b/spec.loop.hcl": "module \"one\" {\n  source = \"../shared/pick\"\n  k      = 2\n}\n",
	})
	store := filepath.Join(root, "store")
	r := runSpec(t, filepath.Join(root, "a"), store)
	st, key := r.status, r.key
	for _, a := range []string{"module.pick[0].stage.few", "module.pick[1].stage.few", "module.pick[2].stage.few", `module.keyed["two"].stage.few`} {
		if st[a] != "ran" && st[a] != "cached" {
			t.Errorf("%s: status %q; stages %v", a, st[a], st)
		}
	}
	if got := r.outputs["doubles"]; got != "[2,4,6]" {
		t.Errorf("doubles = %s, want [2,4,6]", got)
	}
	if got := r.outputs["second"]; got != "8" {
		t.Errorf("second = %s, want 8", got)
	}
	// Instances with other arguments have other keys; module.pick[1] and
	// module.keyed["two"] compute the same thing, under the same key, as
	// does a single block with k = 2 in another spec.
	if key["module.pick[0].stage.few"] == key["module.pick[1].stage.few"] {
		t.Errorf("module.pick[0] and [1] (k = 1, 2) share key %s", key["module.pick[0].stage.few"])
	}
	if a, b := key["module.pick[1].stage.few"], key[`module.keyed["two"].stage.few`]; a != b || a == "" {
		t.Errorf("module.pick[1] and module.keyed[\"two\"] (both k = 2): keys %q and %q", a, b)
	}
	// Within the run, the second of the two waits for the first and takes
	// its entry: one ran, the other is cached.
	if got := []string{st["module.pick[1].stage.few"], st[`module.keyed["two"].stage.few`]}; !(got[0] == "ran" && got[1] == "cached") && !(got[0] == "cached" && got[1] == "ran") {
		t.Errorf("two instances with the same key in one run: statuses %v, want one ran and one cached", got)
	}
	if got := runStatuses(t, filepath.Join(root, "b"), store)["module.one.stage.few"]; got != "cached" {
		t.Errorf("module.one.stage.few (k = 2) in another spec: %s, want cached", got)
	}
}

// TestModuleInLoop: a module block inside a loop runs once per round, its
// arguments in the round's scope (state, round, the round's other
// modules); rounds[i].M is its outputs; `until` may read it, and rounds
// after the stop skip its stages; instances with equal arguments share keys
// across rounds; a second run is all cached.
func TestModuleInLoop(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"shared/pick/pick.loop.hcl":    moduleSpec + "\noutput \"double\" {\n  value = var.k * 2\n}\n",
		"shared/pick/data/extra.jsonl": "{\"x\": 1}\n{\"x\": 2}\n{\"x\": 3}\n",
		"a/spec.loop.hcl": `loop "l" {
  rounds = 3
  state  = { k = 1 }

  module "pick" {
    source = "../shared/pick"
    k      = state.k
  }

  module "twice" {
    count  = 2
    source = "../shared/pick"
    k      = module.pick.double + count.index
  }

  next  = { k = state.k + 1 }
  until = module.pick.double >= 4
}

output "doubles" {
  value = [for r in loop.l.rounds : r.pick.double]
}

output "twice" {
  value = [for r in loop.l.rounds : r.twice[*].double]
}
`,
	})
	spec, store := filepath.Join(root, "a"), filepath.Join(root, "store")
	first := runSpec(t, spec, store)
	st, key, outs := first.status, first.key, first.outputs
	if outs["doubles"] != "[2,4]" || outs["twice"] != "[[4,6],[8,10]]" {
		t.Errorf("outputs %v, want doubles [2,4], twice [[4,6],[8,10]]", outs)
	}
	for _, a := range []string{"loop.l[0].module.pick.stage.few", "loop.l[1].module.pick.stage.few", "loop.l[1].module.twice[1].stage.few"} {
		if st[a] != "ran" && st[a] != "cached" {
			t.Errorf("%s: %q", a, st[a])
		}
	}
	if st["loop.l[2].module.pick.stage.few"] != "skipped" {
		t.Errorf("round 2 after the stop: %q, want skipped; stages %v", st["loop.l[2].module.pick.stage.few"], st)
	}
	// Round 1's pick and round 0's twice[0] both have k = 2.
	if a, b := key["loop.l[1].module.pick.stage.few"], key["loop.l[0].module.twice[0].stage.few"]; a != b || a == "" {
		t.Errorf("equal arguments in two rounds: keys %q and %q", a, b)
	}
	if key["loop.l[0].module.pick.stage.few"] == key["loop.l[1].module.pick.stage.few"] {
		t.Error("rounds with k = 1 and k = 2 share a key")
	}
	second := runSpec(t, spec, store)
	again, outs2 := second.status, second.outputs
	for a, s := range again {
		if s == "ran" {
			t.Errorf("second run ran %s", a)
		}
	}
	if outs2["doubles"] != outs["doubles"] || outs2["twice"] != outs["twice"] {
		t.Errorf("second run outputs %v, first %v", outs2, outs)
	}
}

// TestMovedInModule: a moved block inside a module keeps a renamed stage's
// seed, so every instance keeps its key and its cached work; the same
// rename without it runs again under a new key; and the spec's own moved
// blocks do not touch the module's stages of the same name.
func TestMovedInModule(t *testing.T) {
	root := t.TempDir()
	data := map[string]string{"pick/data/extra.jsonl": "{\"x\": 1}\n{\"x\": 2}\n{\"x\": 3}\n{\"x\": 4}\n"}
	spec := `dataset "d" {
  rows = [{ x = 1 }, { x = 2 }, { x = 3 }, { x = 4 }]
}

stage "sample" "few" {
  input = dataset.d
  n     = 2
}

module "m" {
  count  = 2
  source = "./pick"
  k      = count.index + 2
}
`
	renamed := strings.ReplaceAll(moduleSpec, `"few"`, `"picked"`)
	renamed = strings.ReplaceAll(renamed, "stage.few", "stage.picked")
	moved := renamed + "\nmoved {\n  from = stage.few\n  to   = stage.picked\n}\n"
	rootMoved := spec + "\nmoved {\n  from = stage.old\n  to   = stage.few\n}\n"

	files := map[string]string{"spec.loop.hcl": spec, "pick/pick.loop.hcl": moduleSpec}
	maps.Copy(files, data)
	writeFiles(t, root, files)
	store := filepath.Join(root, "store")
	before := runSpec(t, root, store)

	// A moved block in the spec gives the spec's stage.few a new seed, and
	// leaves the module's stage.few alone.
	writeFiles(t, root, map[string]string{"spec.loop.hcl": rootMoved})
	r := runSpec(t, root, store)
	for i := range 2 {
		a := fmt.Sprintf("module.m[%d].stage.few", i)
		if r.key[a] != before.key[a] || r.status[a] != "cached" {
			t.Errorf("after the spec's moved block, %s: key %q (%s), want %q, cached", a, r.key[a], r.status[a], before.key[a])
		}
	}

	// The module's rename with its moved block.
	writeFiles(t, root, map[string]string{"pick/pick.loop.hcl": moved})
	after := runSpec(t, root, store)
	for i := range 2 {
		old, now := fmt.Sprintf("module.m[%d].stage.few", i), fmt.Sprintf("module.m[%d].stage.picked", i)
		if before.key[old] == "" || after.key[now] != before.key[old] || after.status[now] != "cached" {
			t.Errorf("%s: key %q (%s), want %s's %q, cached", now, after.key[now], after.status[now], old, before.key[old])
		}
	}
	if after.key["stage.few"] == before.key["stage.few"] || after.key["stage.few"] != r.key["stage.few"] {
		t.Errorf("the spec's stage.few moved from stage.old: key %q (%s), want a new key", after.key["stage.few"], after.status["stage.few"])
	}

	// The rename alone changes the instances' seeds.
	writeFiles(t, root, map[string]string{"pick/pick.loop.hcl": renamed})
	bare := runSpec(t, root, filepath.Join(root, "store2"))
	if k := bare.key["module.m[0].stage.picked"]; k == "" || k == before.key["module.m[0].stage.few"] {
		t.Errorf("renamed without moved: key %q, want other than %q", k, before.key["module.m[0].stage.few"])
	}
}
