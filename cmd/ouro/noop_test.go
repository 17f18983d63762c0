package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ouroloop/ouro/bench/noop"
	"github.com/ouroloop/ouro/runtime/store"
)

// noopSpec is a small generated workflow (bench/noop) whose dataset comes
// from a file and one of whose stages reads a variable.
func noopSpec(t *testing.T) (dir, spec string) {
	t.Helper()
	dir = t.TempDir()
	src := string(noop.Ouro(30))
	i := strings.Index(src, "dataset \"d\" {")
	j := strings.Index(src[i:], "\n}\n") + i + 3
	src = src[:i] + `variable "bump" {
  type    = number
  default = 2
}

dataset "d" {
  source = "rows.jsonl"
  schema = object({ id = number, text = string, score = number })
}
` + src[j:]
	if !strings.Contains(src, "item.score + 2") {
		t.Fatalf("unexpected generated spec:\n%s", src)
	}
	src = strings.Replace(src, "item.score + 2", "item.score + var.bump", 1)
	spec = filepath.Join(dir, "n.loop.hcl")
	if err := os.WriteFile(spec, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	writeRows(t, dir, 5)
	return dir, spec
}

func writeRows(t *testing.T, dir string, n int) {
	t.Helper()
	var b strings.Builder
	for r := 0; r < n; r++ {
		b.WriteString(`{"id": ` + string(rune('0'+r)) + `, "text": "row", "score": ` + string(rune('0'+r)) + "}\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "rows.jsonl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

type noopRun struct {
	json     map[string]any // --json output without run_id, started, finished
	statuses map[string]int
	replayed bool // the no-op fast path answered
	stderr   string
}

// runNoop runs `ouro run --json` (plus args) on spec, in process.
func runNoop(t *testing.T, spec string, args ...string) noopRun {
	t.Helper()
	var out, errb bytes.Buffer
	before := noopReplays
	all := append([]string{"run", "--json", "--progress=plain", spec}, args...)
	if code := run(all, &out, &errb); code != 0 {
		t.Fatalf("ouro %s: exit %d\n%s%s", strings.Join(all, " "), code, out.String(), errb.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("bad --json: %v\n%s", err, out.String())
	}
	for _, k := range []string{"run_id", "started", "finished"} {
		if m[k] == nil || m[k] == "" {
			t.Fatalf("--json has no %s", k)
		}
		delete(m, k)
	}
	r := noopRun{json: m, statuses: map[string]int{}, replayed: noopReplays > before, stderr: errb.String()}
	for _, s := range m["stages"].([]any) {
		r.statuses[s.(map[string]any)["status"].(string)]++
	}
	return r
}

// TestNoopFastPath: the second run of an unchanged spec finds everything
// cached and leaves a summary; the third takes the fast path and reports
// the same record, --json output and progress lines (up to order) as the
// second.
func TestNoopFastPath(t *testing.T) {
	_, spec := noopSpec(t)
	first := runNoop(t, spec)
	if first.statuses["ran"] != 30 || first.replayed {
		t.Fatalf("first run: %v replayed=%v", first.statuses, first.replayed)
	}
	slow := runNoop(t, spec)
	if slow.statuses["cached"] != 30 || slow.replayed {
		t.Fatalf("second run: %v replayed=%v", slow.statuses, slow.replayed)
	}
	fast := runNoop(t, spec)
	if !fast.replayed {
		t.Fatal("third run did not take the no-op fast path")
	}
	if !reflect.DeepEqual(slow.json, fast.json) {
		a, _ := json.MarshalIndent(slow.json, "", " ")
		b, _ := json.MarshalIndent(fast.json, "", " ")
		t.Fatalf("fast path --json differs:\nslow: %s\nfast: %s", a, b)
	}
	if sortedLines(slow.stderr) != sortedLines(fast.stderr) {
		t.Fatalf("progress differs:\nslow:\n%s\nfast:\n%s", slow.stderr, fast.stderr)
	}

	// The stored records are the same too (minus id, times and the process
	// that wrote them), and the
	// text summary the same but for the id and duration.
	st, err := store.Open(filepath.Join(filepath.Dir(spec), ".ouro"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := st.ListRuns(2)
	st.Close()
	if err != nil || len(runs) != 2 {
		t.Fatalf("ListRuns: %v, %d runs", err, len(runs))
	}
	a, b := *runs[1], *runs[0]
	for _, r := range []*store.RunRecord{&a, &b} {
		r.ID, r.Started, r.Finished, r.PID, r.Host = "", time.Time{}, time.Time{}, 0, ""
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("stored records differ:\n%+v\n%+v", a, b)
	}
	var text bytes.Buffer
	before := noopReplays
	if code := run([]string{"run", "--progress=none", spec}, &text, &text); code != 0 || noopReplays != before+1 {
		t.Fatalf("exit %d, replayed %v:\n%s", code, noopReplays != before, text.String())
	}
	if !strings.Contains(text.String(), "0 ran, 30 cached, 0 skipped, 0 failed") || !strings.Contains(text.String(), "final = {\"$dataset\"") {
		t.Fatalf("text summary:\n%s", text.String())
	}
}

func sortedLines(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	for i := range l {
		for j := i + 1; j < len(l); j++ {
			if l[j] < l[i] {
				l[i], l[j] = l[j], l[i]
			}
		}
	}
	return strings.Join(l, "\n")
}

// TestNoopFastPathMisses: every change that could make the summarised
// record wrong makes the fast path miss, and the run that follows reports
// what really happens.
func TestNoopFastPathMisses(t *testing.T) {
	dir, spec := noopSpec(t)
	runNoop(t, spec)
	runNoop(t, spec)
	if r := runNoop(t, spec); !r.replayed {
		t.Fatal("no fast path to begin with")
	}
	gc := func() {
		var out bytes.Buffer
		if code := run([]string{"cache", "gc", "--keep", "0", "--spec", spec}, &out, &out); code != 0 {
			t.Fatalf("gc: %s", out.String())
		}
	}
	steps := []struct {
		name   string
		change func()
		args   []string
		ran    int    // stages that must run
		after  func() // then, before the fast path must be back
	}{
		{"changed variable", nil, []string{"-var", "bump=7"}, 29 - 1, nil},
		{"back to the default", nil, nil, 0, nil},
		{"changed source file", func() { writeRows(t, dir, 4) }, nil, 30, nil},
		{"--force", nil, []string{"--force", "s5"}, 1, nil},
		{"--from", nil, []string{"--from", "s25"}, 5, nil},
		{"an edited spec file (a comment: nothing runs)", func() {
			b, err := os.ReadFile(spec)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(spec, append(b, "# edited\n"...), 0o644); err != nil {
				t.Fatal(err)
			}
		}, nil, 0, nil},
		{"cache gc --keep 0", gc, nil, 30, nil},
		{"pin", func() { cliOK(t, "pin", lastRun(t, dir), "--spec", spec) }, nil, 0, nil},
		{"unpin", func() { cliOK(t, "unpin", lastRun(t, dir), "--spec", spec) }, nil, 0, nil},
		{"an output blob removed", func() {
			st, err := store.Open(filepath.Join(dir, ".ouro"), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			runs, _ := st.ListRuns(1)
			var out map[string]map[string]any
			json.Unmarshal(runs[0].Outputs["final"], &out)
			p, err := st.BlobPath(store.Digest(out["$dataset"]["digest"].(string)))
			st.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}, nil, 0, func() {
			// Still no fast path while the blob is missing; repair it.
			if r := runNoop(t, spec); r.replayed {
				t.Fatal("fast path with a missing output blob")
			}
			var out bytes.Buffer
			run([]string{"cache", "verify", "--spec", spec}, &out, &out)
			if !strings.Contains(out.String(), "Repaired") {
				t.Fatalf("verify:\n%s", out.String())
			}
		}},
	}
	for _, s := range steps {
		if s.change != nil {
			s.change()
		}
		r := runNoop(t, spec, s.args...)
		if r.replayed {
			t.Fatalf("%s: the fast path answered", s.name)
		}
		if r.statuses["ran"] != s.ran {
			t.Fatalf("%s: %v, want %d ran", s.name, r.statuses, s.ran)
		}
		if s.after != nil {
			s.after()
		}
		if len(s.args) > 0 && (s.args[0] == "--force" || s.args[0] == "--from") {
			s.args = nil // --force and --from never leave a summary
		}
		// Once a run found everything cached again, the fast path is back.
		for i := 0; ; i++ {
			r := runNoop(t, spec, s.args...)
			if r.replayed {
				break
			}
			if i == 2 {
				t.Fatalf("after %s: no fast path (%v)", s.name, r.statuses)
			}
		}
	}
}

func cliOK(t *testing.T, args ...string) {
	t.Helper()
	var out bytes.Buffer
	if code := run(args, &out, &out); code != 0 {
		t.Fatalf("ouro %s: exit %d\n%s", strings.Join(args, " "), code, out.String())
	}
}

func lastRun(t *testing.T, dir string) string {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, ".ouro"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.ListRuns(1)
	if err != nil || len(runs) != 1 {
		t.Fatalf("ListRuns: %v", err)
	}
	return runs[0].ID
}

// TestNoopFastPathLoopStopped: a loop stopped by its `until` skips its later
// rounds; the fast path repeats that too, with the same --json, summary and
// progress lines (reasons included).
func TestNoopFastPathLoopStopped(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "l.loop.hcl")
	src := `dataset "d" {
  rows   = [{ id = 1, score = 1 }, { id = 2, score = 2 }]
  schema = object({ id = number, score = number })
}

loop "l" {
  rounds = 4
  state  = { n = 0 }

  stage "map" "m" {
    input  = dataset.d
    fields = { score = item.score + state.n }
  }

  next  = { n = state.n + 1 }
  until = state.n >= 1
}

output "final" {
  value = loop.l.state
}
`
	if err := os.WriteFile(spec, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	runNoop(t, spec)
	slow := runNoop(t, spec)
	if slow.statuses["cached"] != 3 || slow.statuses["skipped"] != 2 || slow.replayed {
		t.Fatalf("second run: %v replayed=%v", slow.statuses, slow.replayed)
	}
	fast := runNoop(t, spec)
	if !fast.replayed {
		t.Fatal("no fast path")
	}
	if !reflect.DeepEqual(slow.json, fast.json) {
		t.Fatalf("--json differs:\n%v\n%v", slow.json, fast.json)
	}
	if sortedLines(slow.stderr) != sortedLines(fast.stderr) || !strings.Contains(fast.stderr, "loop.l[3].stage.m") {
		t.Fatalf("progress differs:\nslow:\n%s\nfast:\n%s", slow.stderr, fast.stderr)
	}
	var text bytes.Buffer
	before := noopReplays
	if code := run([]string{"run", "--progress=none", spec}, &text, &text); code != 0 || noopReplays != before+1 {
		t.Fatalf("exit %d:\n%s", code, text.String())
	}
	if !strings.Contains(text.String(), "0 ran, 3 cached, 2 skipped, 0 failed") || !strings.Contains(text.String(), `final = {"n":2}`) {
		t.Fatalf("text summary:\n%s", text.String())
	}
}

// TestNoopFastPathNotWithWarnings: a spec with a warning never takes the
// fast path, which would not print it.
func TestNoopFastPathNotWithWarnings(t *testing.T) {
	dir := t.TempDir()
	writeRows(t, dir, 3)
	spec := filepath.Join(dir, "w.loop.hcl")
	src := "dataset \"d\" {\n  source = \"rows.jsonl\"\n}\n\noutput \"n\" {\n  value = 1\n}\n"
	if err := os.WriteFile(spec, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		var out, errb bytes.Buffer
		before := noopReplays
		if code := run([]string{"run", "--progress=none", spec}, &out, &errb); code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
		}
		if noopReplays != before {
			t.Fatalf("run %d took the fast path", i+1)
		}
		if all := out.String() + errb.String(); !strings.Contains(all, "Dataset without a schema") {
			t.Fatalf("run %d: no warning:\n%s", i+1, all)
		}
	}
}

// TestExportedFileRestored: a cached export whose file was deleted writes
// it again — on the full path (plan says why) and past the fast path —
// and the file is readable by others (0644).
func TestExportedFileRestored(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "e.loop.hcl")
	if err := os.WriteFile(spec, []byte(`dataset "d" {
  rows = [{ a = 1 }, { a = 2 }]
}
stage "export" "out" {
  input = dataset.d
  path  = "out/d.jsonl"
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "out", "d.jsonl")
	want := "{\"a\":1}\n{\"a\":2}\n"
	check := func(when string) {
		t.Helper()
		b, err := os.ReadFile(file)
		if err != nil || string(b) != want {
			t.Fatalf("%s: %q, %v", when, b, err)
		}
		if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o644 {
			t.Fatalf("%s: mode %v", when, fi.Mode())
		}
	}
	runNoop(t, spec)
	check("first run")
	if r := runNoop(t, spec); r.statuses["cached"] != 2 {
		t.Fatalf("second run: %v", r.statuses)
	}
	if r := runNoop(t, spec); !r.replayed {
		t.Fatal("the third run did not take the fast path")
	}
	os.Remove(file)
	var out bytes.Buffer
	if code := run([]string{"plan", spec}, &out, &out); code != 0 || !strings.Contains(out.String(), "output file out/d.jsonl is missing") {
		t.Fatalf("plan (exit %d):\n%s", code, out.String())
	}
	r := runNoop(t, spec)
	if r.replayed || r.statuses["ran"] != 1 || r.statuses["cached"] != 1 {
		t.Fatalf("after deleting the file: %v replayed=%v", r.statuses, r.replayed)
	}
	check("after deleting it")
	// The fast path checks the file too.
	runNoop(t, spec)
	os.Remove(file)
	if r := runNoop(t, spec); r.replayed || r.statuses["ran"] != 1 {
		t.Fatalf("fast path after deleting the file: %v replayed=%v", r.statuses, r.replayed)
	}
	check("after deleting it again")
}
