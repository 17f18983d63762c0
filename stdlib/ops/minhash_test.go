package ops_test

import (
	"fmt"
	"hash/fnv"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime/runtimetest"
	"github.com/ouroloop/ouro/stdlib/ops/opstest"
)

// TestDedupeMinhashPlanted runs MinHash dedupe over a small
// planted-duplicates set (opstest.NewPlanted) at two thresholds and fails
// when recall or precision against the planted truth falls below what the
// implementation of 2026-12-07 reached (the floors are its values rounded
// down). A change of the hashing or of the LSH must keep these.
func TestDedupeMinhashPlanted(t *testing.T) {
	p := opstest.NewPlanted(4000, 3, 2)
	recs := make([]cty.Value, len(p.Texts))
	for i, s := range p.Texts {
		recs[i] = cty.ObjectVal(map[string]cty.Value{"id": cty.NumberIntVal(int64(i)), "text": cty.StringVal(s)})
	}
	env := newEnv(t)
	in := env.Dataset(t, recs)
	for _, c := range []struct {
		threshold, recall, precision float64
	}{
		{0.7, 0.92, 0.95}, // measured: recall 0.9277, precision 0.9567
		{0.5, 0.93, 0.96}, // measured: recall 0.9304, precision 0.9633
	} {
		out, _ := mustRun(t, env, "dedupe", runtimetest.Call{Params: map[string]cty.Value{"input": in, "method": cty.StringVal("minhash"), "threshold": cty.NumberFloatVal(c.threshold)}, Items: map[string]string{"text": "item.text"}})
		kept := make([]bool, len(recs))
		for _, r := range out {
			id, _ := r.GetAttr("id").AsBigFloat().Int64()
			kept[id] = true
		}
		recall, precision, dups, removed, hits := p.Score(kept, c.threshold)
		t.Logf("threshold %.2f: %d documents, %d planted duplicates, %d removed, %d of them planted: recall %.4f, precision %.4f", c.threshold, len(recs), dups, removed, hits, recall, precision)
		if recall < c.recall || precision < c.precision {
			t.Errorf("threshold %.2f: recall %.4f, precision %.4f; want at least %.4f and %.4f", c.threshold, recall, precision, c.recall, c.precision)
		}
	}
}

// TestDedupeMinhashKeptSet pins which records MinHash dedupe keeps on a
// planted set for several thresholds, shingle sizes and permutation counts
// (the number kept and an FNV-1a hash of their ids), as computed by the
// implementation before the speed-up of 2026-12-07. A change here changes
// results: bump Dedupe's Version, and show with TestDedupeMinhashPlanted
// and BenchmarkDedupeMinhashPlanted that quality held.
func TestDedupeMinhashKeptSet(t *testing.T) {
	p := opstest.NewPlanted(3000, 3, 3)
	recs := make([]cty.Value, len(p.Texts))
	for i, s := range p.Texts {
		recs[i] = cty.ObjectVal(map[string]cty.Value{"id": cty.NumberIntVal(int64(i)), "text": cty.StringVal(s)})
	}
	env := newEnv(t)
	in := env.Dataset(t, recs)
	for _, c := range []struct {
		threshold     float64
		shingle, perm int64
		kept          int
		ids           uint64
	}{
		{0.7, 3, 128, 4196, 0xe5a770a90f0c3081},
		{0.5, 2, 100, 3729, 0x88a2e5cc9bb31ac0},
		{0.9, 1, 64, 3986, 0x7ea5aba9916a8cb4},
		{0.3, 5, 20, 3900, 0x59e3279f7584a75f},
	} {
		out, _ := mustRun(t, env, "dedupe", runtimetest.Call{Params: map[string]cty.Value{"input": in, "method": cty.StringVal("minhash"), "threshold": cty.NumberFloatVal(c.threshold), "shingle": cty.NumberIntVal(c.shingle), "permutations": cty.NumberIntVal(c.perm)}, Items: map[string]string{"text": "item.text"}})
		h := fnv.New64a()
		for _, r := range out {
			id, _ := r.GetAttr("id").AsBigFloat().Int64()
			fmt.Fprintf(h, "%d,", id)
		}
		if len(out) != c.kept || h.Sum64() != c.ids {
			t.Errorf("threshold %v, shingle %d, %d permutations: kept %d records (ids %#x), want %d (%#x)", c.threshold, c.shingle, c.perm, len(out), h.Sum64(), c.kept, c.ids)
		}
	}
}
