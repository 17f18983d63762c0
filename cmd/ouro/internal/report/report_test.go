package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/dataset"
	"github.com/ouroloop/ouro/runtime/store"
)

// fixture is a store holding one run of a two-round loop: a generate
// stage, a filter of it, and an evaluate stage with nested metrics.
type fixture struct {
	st       *store.Store
	run      *store.RunRecord
	filterIn store.Digest
}

var recT = cty.Object(map[string]cty.Type{"prompt": cty.String, "completion": cty.String})

func rec(p, c string) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"prompt": cty.StringVal(p), "completion": cty.StringVal(c)})
}

func datasetResult(d store.Digest, n int64) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"$dataset":{"count":%d,"digest":%q,"schema":[]}}`, n, d))
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), ".ouro"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.run = &store.RunRecord{ID: "20260102T030405Z-abcdef", Started: t0, Finished: t0.Add(90 * time.Second), Status: "ok",
		SpecDigest: "sha256:0123", Variables: map[string]json.RawMessage{"rounds": json.RawMessage("2")},
		Metrics: map[string]json.RawMessage{}, ChangedVariables: []string{"rounds"},
		Provenance: &store.Provenance{Command: []string{"ouro", "run", "."}, Ouro: "0.1.0", Jobs: 2, SpecPath: "l/l.loop.hcl",
			Git: &store.GitState{Commit: "0123456789abcdef", Branch: "main", Dirty: true}}}
	put := func(addr, op string, round int, result json.RawMessage, inputs map[string]string, start time.Duration) {
		key := "sha256:key-" + addr
		if err := st.PutStage(&store.StageEntry{Key: key, Address: addr, Operator: op, Result: result, Inputs: inputs}); err != nil {
			t.Fatal(err)
		}
		f.run.Stages = append(f.run.Stages, store.StageRun{Name: addr, Address: addr, Round: round, Status: "ran", Key: key,
			Started: t0.Add(start), Duration: 2 * time.Second})
	}
	for r := range 2 {
		var recs []cty.Value
		for i := range 5 {
			recs = append(recs, rec(fmt.Sprintf("Q%d", i), strings.Repeat("x", i+r)))
		}
		gen, n, err := dataset.WriteValues(st.Blobs(), recT, recs)
		if err != nil {
			t.Fatal(err)
		}
		kept, kn, err := dataset.WriteValues(st.Blobs(), recT, recs[2:]) // drops Q0, Q1
		if err != nil {
			t.Fatal(err)
		}
		if r == 0 {
			f.filterIn = gen
		}
		loop := fmt.Sprintf("loop.l[%d].", r)
		put(loop+"stage.gen", "generate", r, datasetResult(gen, n), nil, time.Duration(r)*10*time.Second)
		put(loop+"stage.keep", "filter", r, datasetResult(kept, kn), map[string]string{"input": runtime.DatasetInputDigest(string(gen))}, time.Duration(r)*10*time.Second+3*time.Second)
		items, in, err := dataset.WriteValues(st.Blobs(), recT, recs[:1])
		if err != nil {
			t.Fatal(err)
		}
		put(loop+"stage.eval", "evaluate", r, json.RawMessage(fmt.Sprintf(`{"items":{"$dataset":{"count":%d,"digest":%q,"schema":[]}},"metrics":{}}`, in, items)), nil, time.Duration(r)*10*time.Second+6*time.Second)
		f.run.Metrics[loop+"stage.eval"] = json.RawMessage(fmt.Sprintf(`{"accuracy":{"10":%d,"2":0.5},"solved":%d,"name":"x"}`, r, r+3))
	}
	f.run.Metrics["stage.eval0"] = json.RawMessage(`{"solved":1}`)
	if err := st.PutRun(f.run); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestBuildModel(t *testing.T) {
	f := newFixture(t)
	rep, err := Build(f.st, []string{"latest"}, Options{Stages: f.st, Rows: 3, Ouro: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// Metrics: nested values flattened, numeric keys by value, a series
	// per stage across rounds, the stage outside loops at round -1.
	var got []string
	for _, m := range rep.Metrics {
		for _, s := range m.Series {
			got = append(got, fmt.Sprintf("%s %s %v", m.Name, s.Stage, s.Points))
		}
	}
	want := []string{
		"accuracy.10 loop.l.stage.eval [{0 0} {1 1}]",
		"accuracy.2 loop.l.stage.eval [{0 0.5} {1 0.5}]",
		"solved loop.l.stage.eval [{0 3} {1 4}]",
		"solved stage.eval0 [{-1 1}]",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
	if len(rep.Missing) != 0 {
		t.Errorf("missing: %q", rep.Missing)
	}
	r := rep.Runs[0]
	facts := map[string]string{}
	for _, f := range r.Facts {
		facts[f.Name] = f.Value
	}
	for name, want := range map[string]string{"spec": "l/l.loop.hcl", "commit": "0123456789abcdef on main — dirty (uncommitted changes)",
		"ouro": "0.1.0", "command": "ouro run .", "var.rounds": "2   (set on the command line)", "wall time": "1m30s",
		"stages": "6 ran, 0 cached, 0 failed, 0 skipped"} {
		if facts[name] != want {
			t.Errorf("fact %s = %q, want %q", name, facts[name], want)
		}
	}
	if r.Ran != 6 || len(r.Timeline) != 6 || r.Timeline[1].Start != 3 || r.Timeline[1].End != 5 {
		t.Errorf("timeline: ran %d, %+v", r.Ran, r.Timeline)
	}
	// Samples: the filter's input with kept and dropped marked, at most
	// Rows rows, kept and dropped both shown.
	var filter *Samples
	for _, s := range r.Samples {
		if s.Address == "loop.l[0].stage.keep" {
			filter = s
		}
	}
	if filter == nil {
		t.Fatalf("no samples of the filter; have %d tables", len(r.Samples))
	}
	var rows []string
	for _, row := range filter.Rows {
		rows = append(rows, fmt.Sprintf("%d %s %v", row.N, row.Kept, row.Cells))
	}
	wantRows := []string{"1 dropped [Q0 ]", "3 kept [Q2 xx]", "4 kept [Q3 xxx]"}
	if diff := cmp.Diff(wantRows, rows); diff != "" {
		t.Errorf("filter rows (-want +got):\n%s", diff)
	}
	if filter.Input != 5 || filter.Dropped != 2 || filter.Total != 3 || !strings.Contains(filter.Note, "showing 3 of 5") {
		t.Errorf("filter counts: %+v", filter)
	}
	if diff := cmp.Diff([]string{"prompt", "completion"}, filter.Columns); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	if len(r.Samples) != 6 || r.Samples[2].Field != "items" {
		t.Errorf("%d sample tables; third: %+v", len(r.Samples), r.Samples[2])
	}
}

// TestMissingParts: a run whose stage entries and blobs are gone still
// gives a report, which says what is missing.
func TestMissingParts(t *testing.T) {
	f := newFixture(t)
	if err := f.st.DeleteStage("sha256:key-loop.l[1].stage.gen"); err != nil {
		t.Fatal(err)
	}
	p, err := f.st.BlobPath(f.filterIn)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	rep, err := Build(f.st, nil, Options{Stages: f.st})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing) != 2 || !strings.Contains(rep.Missing[0], "1 of 6 stage results are no longer in the store") ||
		!strings.Contains(rep.Missing[1], "2 stages could not be read") || !strings.Contains(rep.Missing[1], "loop.l[0].stage.gen, loop.l[0].stage.keep") {
		t.Errorf("missing: %q", rep.Missing)
	}
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Missing from the store") {
		t.Error("the page does not say what is missing")
	}
	// Without stage access (a store held by a running process).
	rep, err = Build(f.st, nil, Options{Unavailable: "held"})
	if err != nil || len(rep.Missing) != 1 || len(rep.Metrics) != 3 {
		t.Errorf("runs only: %v, %q", err, rep.Missing)
	}
}

func TestUnknownRunAndLabels(t *testing.T) {
	f := newFixture(t)
	if _, err := Build(f.st, []string{"nosuchrun"}, Options{}); err == nil || !strings.Contains(err.Error(), "nosuchrun") {
		t.Errorf("unknown run: %v", err)
	}
	if _, err := Build(f.st, []string{"latest", "latest"}, Options{}); err == nil || !strings.Contains(err.Error(), "--label") {
		t.Errorf("the same run twice without labels: %v", err)
	}
	rep, err := Build(f.st, []string{"latest", f.run.ID[:10]}, Options{Labels: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rep.Metrics[0].Series); n != 2 || rep.Metrics[0].Series[1].Name(2) != "b: loop.l.stage.eval" {
		t.Errorf("overlaid series: %d, %q", n, rep.Metrics[0].Series[1].Name(2))
	}
}

// TestHTML: deterministic bytes, one labelled point per recorded value,
// nothing that loads from elsewhere.
func TestHTML(t *testing.T) {
	f := newFixture(t)
	render := func() string {
		rep, err := Build(f.st, []string{"latest", "latest"}, Options{Stages: f.st, Labels: []string{"one", "two"}})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := rep.WriteHTML(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	a, b := render(), render()
	if a != b {
		t.Fatal("two renderings of the same report differ")
	}
	// 2 runs × (accuracy.10: 2, accuracy.2: 2, solved: 2 + 1) points.
	if n := strings.Count(a, `<path class="pt"`); n != 2*7 {
		t.Errorf("%d labelled points, want 14", n)
	}
	if !strings.Contains(a, "<title>two: loop.l.stage.eval, round 1: 4</title>") {
		t.Error("no title on the point of solved in round 1")
	}
	for _, bad := range []string{"http://", "https://", "src=", "@import", "url("} {
		if i := strings.Index(a, bad); i >= 0 && !strings.Contains(a[max(0, i-40):i+20], "www.w3.org/") {
			t.Errorf("the page refers to something outside itself: …%s…", a[max(0, i-40):min(len(a), i+40)])
		}
	}
	if os.Getenv("OURO_REPORT_OUT") != "" {
		os.WriteFile(os.Getenv("OURO_REPORT_OUT"), []byte(a), 0o644)
	}
}
