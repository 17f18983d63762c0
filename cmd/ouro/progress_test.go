package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ouroloop/ouro/bench/noop"
	"github.com/ouroloop/ouro/runtime"
)

// TestProgressPlain runs a small spec with --progress=plain: one line per
// stage on stderr, none on stdout, and --json output stays one object.
func TestProgressPlain(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "noop.loop.hcl")
	if err := os.WriteFile(spec, noop.Ouro(12), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"run", "--progress=plain", "--json", spec}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	lines := strings.Split(strings.TrimRight(errb.String(), "\n"), "\n")
	var running, ran int
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "  … ") && strings.Contains(l, "running (new)"):
			running++
		case strings.HasPrefix(l, "  ✓ ") && strings.Contains(l, " ran in "):
			ran++
		default:
			t.Errorf("unexpected progress line %q", l)
		}
	}
	if running != 12 || ran != 12 {
		t.Errorf("running %d, ran %d lines; want 12 each:\n%s", running, ran, errb.String())
	}
	if !strings.HasPrefix(out.String(), "{") || strings.Count(out.String(), "\n") != strings.Count(strings.TrimSpace(out.String()), "\n")+1 {
		t.Errorf("stdout is not just the JSON record:\n%s", out.String())
	}
	// Re-run: every stage cached, one line each.
	errb.Reset()
	out.Reset()
	if code := run([]string{"run", "--progress=plain", spec}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	if got := strings.Count(errb.String(), " cached\n"); got != 12 {
		t.Errorf("%d cached lines, want 12:\n%s", got, errb.String())
	}
	errb.Reset()
	if code := run([]string{"run", "--progress=none", spec}, &out, &errb); code != 0 || errb.Len() != 0 {
		t.Errorf("--progress=none: exit %d, stderr %q", code, errb.String())
	}
	if code := run([]string{"run", "--progress=fancy", spec}, &out, &errb); code != exitUsage {
		t.Errorf("--progress=fancy: exit %d, want %d", code, exitUsage)
	}
}

// TestProgressTTY drives the live view with a fake terminal and clock.
func TestProgressTTY(t *testing.T) {
	var term bytes.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := newTTYView(&term, func() time.Time { return now }, 0)
	ctr := &runtime.Counter{}
	v.Event(runtime.Event{Address: "stage.gen", Status: "running", Reason: "new", Progress: ctr})
	v.Event(runtime.Event{Address: "stage.other", Status: "running", Reason: "new"})
	v.Event(runtime.Event{Address: "stage.a", Status: "cached"})
	ctr.SetTotal(1000)
	ctr.Add(250)
	now = now.Add(5 * time.Second)
	term.Reset()
	v.redraw()
	got := term.String()
	for _, want := range []string{
		"\x1b[3A\x1b[J", // the previous block (2 stages + summary) is erased
		"stage.gen", "[======>                 ] 250/1000 items  50.0/s  ETA 15s",
		"stage.other", "running 5s",
		"2 running · 0 ran · 1 cached · 0 skipped · 0 failed · 5s",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("live view lacks %q:\n%q", want, got)
		}
	}
	ctr.Add(750)
	v.Event(runtime.Event{Address: "stage.gen", Status: "ran", Duration: 6 * time.Second, Progress: ctr})
	v.Event(runtime.Event{Address: "stage.other", Status: "failed"})
	term.Reset()
	v.Stop()
	v.Stop()
	if got := term.String(); !strings.Contains(got, "0 running · 1 ran · 1 cached · 0 skipped · 1 failed") {
		t.Errorf("final summary: %q", got)
	}
	v.Event(runtime.Event{Address: "stage.late", Status: "cached"}) // ignored after Stop
}

// TestProgressRecordCounts: a finished stage's line says how many items it
// processed and, when its value is a dataset, how many records it produced.
func TestProgressRecordCounts(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "counts.loop.hcl")
	src := `dataset "d" {
  rows   = [{ n = 1 }, { n = 2 }, { n = 3 }, { n = 4 }]
  schema = object({ n = number })
}

stage "filter" "big" {
  input = dataset.d
  where = item.n > 2
}
`
	if err := os.WriteFile(spec, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"run", "--progress=plain", spec}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	for _, want := range []string{"dataset.d", "4 records\n", "stage.big", ", 4 → 2 records\n"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, errb.String())
		}
	}
}

func TestItemCounts(t *testing.T) {
	ctr := func(n int64) *runtime.Counter { c := &runtime.Counter{}; c.Add(n); return c }
	for _, tc := range []struct {
		ev   runtime.Event
		want string
	}{
		{runtime.Event{}, ""},
		{runtime.Event{Progress: ctr(0)}, ""},
		{runtime.Event{Progress: ctr(800)}, ", 800 items"},
		{runtime.Event{Progress: ctr(5000), Records: 4434, HasRecords: true}, ", 5000 → 4434 records"},
		{runtime.Event{Records: 0, HasRecords: true}, ", 0 records"},
	} {
		if got := itemCounts(tc.ev); got != tc.want {
			t.Errorf("itemCounts(%+v) = %q, want %q", tc.ev, got, tc.want)
		}
	}
}
