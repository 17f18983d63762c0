package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// countRunSpec is a small spec whose stage `seeded` is repeated with count
// (var.seeds), read one by one and through a splat.
const countRunSpec = `
variable "seeds" {
  type    = number
  default = 3
}

dataset "d" {
  rows   = [{ x = 1 }, { x = 2 }, { x = 3 }]
  schema = object({ x = number })
}

stage "map" "seeded" {
  count  = var.seeds
  input  = dataset.d
  fields = { y = item.x * (count.index + 1) }
}

stage "filter" "first" {
  input = stage.seeded[0]
  where = item.y > 1
}

stage "filter" "keyed" {
  for_each = toset(["a", "bb"])
  input    = dataset.d
  where    = item.x > strlen(each.key)
}

output "n" {
  value = length(stage.seeded[*])
}
`

// ranStages runs the spec and returns the addresses of the stages that ran.
func ranStages(t *testing.T, spec string, args ...string) []string {
	t.Helper()
	r := runNoop(t, spec, args...)
	var ran []string
	for _, s := range r.json["stages"].([]any) {
		m := s.(map[string]any)
		if m["status"] == "ran" {
			ran = append(ran, m["address"].(string))
		}
	}
	sort.Strings(ran)
	return ran
}

// TestCountAddsOnlyTheNewInstance: raising count from 3 to 4 runs only the
// fourth instance and what reads all of them (here nothing but an output);
// --force and --from take one instance's address.
func TestCountAddsOnlyTheNewInstance(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "c.loop.hcl")
	if err := os.WriteFile(spec, []byte(countRunSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	got := ranStages(t, spec)
	want := `dataset.d stage.first stage.keyed["a"] stage.keyed["bb"] stage.seeded[0] stage.seeded[1] stage.seeded[2]`
	if strings.Join(got, " ") != want {
		t.Fatalf("first run ran %v, want %s", got, want)
	}
	if got := ranStages(t, spec, "-var", "seeds=4"); strings.Join(got, " ") != "stage.seeded[3]" {
		t.Fatalf("count 3 → 4 ran %v, want only stage.seeded[3]", got)
	}
	if got := ranStages(t, spec, "-var", "seeds=4", "--force", "stage.seeded[2]"); strings.Join(got, " ") != "stage.seeded[2]" {
		t.Fatalf("--force stage.seeded[2] ran %v", got)
	}
	if got := ranStages(t, spec, "-var", "seeds=4", "--force", `stage.keyed["bb"]`); strings.Join(got, " ") != `stage.keyed["bb"]` {
		t.Fatalf(`--force stage.keyed["bb"] ran %v`, got)
	}
	if got := ranStages(t, spec, "-var", "seeds=4", "--force", "seeded"); len(got) != 4 {
		t.Fatalf("--force seeded ran %v, want the 4 instances", got)
	}
	// --from an instance re-runs what reads its block (through the group).
	if got := ranStages(t, spec, "-var", "seeds=4", "--from", "stage.seeded[0]"); strings.Join(got, " ") != "stage.first stage.seeded[0]" {
		t.Fatalf("--from stage.seeded[0] ran %v", got)
	}
	// Back to 3: all cached.
	if got := ranStages(t, spec); len(got) != 0 {
		t.Fatalf("count 4 → 3 ran %v", got)
	}
}

// movedSpelledOut samples twice from one dataset with two spelled-out
// stages; movedCounted is the same written with count. A sample's draw
// depends on its stage's seed, which derives from its address.
const movedSpelledOut = `
dataset "d" {
  rows   = [for i in range(40) : { x = i }]
  schema = object({ x = number })
}

stage "sample" "pick" {
  input = dataset.d
  n     = 5
}

stage "sample" "pick2" {
  input = dataset.d
  n     = 5
}

stage "concat" "both" {
  inputs = [stage.pick, stage.pick2]
}

output "xs" {
  value = stage.both
}
`

const movedCounted = `
dataset "d" {
  rows   = [for i in range(40) : { x = i }]
  schema = object({ x = number })
}

stage "sample" "pick" {
  count = 2
  input = dataset.d
  n     = 5
}

stage "concat" "both" {
  inputs = stage.pick[*]
}

output "xs" {
  value = stage.both
}
`

const movedBlocks = `
moved {
  from = stage.pick
  to   = stage.pick[0]
}

moved {
  from = stage.pick2
  to   = stage.pick[1]
}
`

// TestMovedKeepsResultsAndCache: rewriting two spelled-out stages with
// count changes their addresses and so their draws, unless moved blocks
// give each instance its old address: then the counted spec's first run
// finds everything cached and its output is the spelled-out spec's.
func TestMovedKeepsResultsAndCache(t *testing.T) {
	write := func(dir, src string) string {
		spec := filepath.Join(dir, "m.loop.hcl")
		if err := os.WriteFile(spec, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return spec
	}
	outputs := func(r noopRun) string {
		b, _ := json.Marshal(r.json["outputs"])
		return string(b)
	}

	withMoved := t.TempDir()
	spec := write(withMoved, movedSpelledOut)
	before := outputs(runNoop(t, spec))
	write(withMoved, movedCounted+movedBlocks)
	if got := ranStages(t, spec); len(got) != 0 {
		t.Errorf("with moved blocks the counted spec ran %v, want everything cached", got)
	}
	if after := outputs(runNoop(t, spec)); after != before {
		t.Errorf("with moved blocks the outputs changed:\n before %s\n after  %s", before, after)
	}

	// The same rewrite without the moved blocks: new addresses, new draws.
	without := t.TempDir()
	spec = write(without, movedSpelledOut)
	runNoop(t, spec)
	write(without, movedCounted)
	got := ranStages(t, spec)
	if want := "stage.both stage.pick[0] stage.pick[1]"; strings.Join(got, " ") != want {
		t.Errorf("without moved blocks ran %v, want %s", got, want)
	}
	if after := outputs(runNoop(t, spec)); after == before {
		t.Errorf("without moved blocks the outputs stayed %s: the test cannot tell a kept seed from a new one", before)
	}
}
