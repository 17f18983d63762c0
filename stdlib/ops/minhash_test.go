package ops_test

import (
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
