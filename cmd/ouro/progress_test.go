package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"

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
	if code := run([]string{"run", "--progress=bars", spec}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "0 running · 0 ran · 12 cached") {
		t.Errorf("--progress=bars: exit %d, stderr %q", code, errb.String())
	}
	if code := run([]string{"run", "--progress=fancy", spec}, &out, &errb); code != exitUsage {
		t.Errorf("--progress=fancy: exit %d, want %d", code, exitUsage)
	}
}

// syncBuffer is a bytes.Buffer mpb may write while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls until out holds every want (mpb draws on its own
// schedule); it gives up after a generous while and reports what it saw.
func waitFor(t *testing.T, out *syncBuffer, wants ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := out.String()
		missing := ""
		for _, w := range wants {
			if !strings.Contains(got, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("progress never showed %q:\n%q", missing, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestProgressBars drives the mpb view into a buffer: a bar per running
// stage (items of the total, items/s, ETA; a stage without a counter shows
// its elapsed time), a summary bar counting cached stages, finished stages'
// lines above the bars, and the summary left on screen at the end.
func TestProgressBars(t *testing.T) {
	var term syncBuffer
	v := newBarsView(&term, false, mpb.WithOutput(&term), mpb.WithAutoRefresh(), mpb.WithRefreshRate(5*time.Millisecond))
	ctr := &runtime.Counter{}
	ctr.SetTotal(1000)
	v.Event(runtime.Event{Address: "stage.gen", Status: "running", Reason: "new", Progress: ctr})
	v.Event(runtime.Event{Address: "stage.other", Status: "running", Reason: "new"})
	v.Event(runtime.Event{Address: "stage.a", Status: "cached"})
	ctr.Add(250)
	waitFor(t, &term, "⠿ stage.gen", "250/1000 items  ", "/s  ETA ", "⠿ stage.other", "2 running · 0 ran · 1 cached · 0 skipped · 0 failed · ")
	ctr.Add(750)
	v.Event(runtime.Event{Address: "stage.gen", Status: "ran", Duration: 6 * time.Second, Progress: ctr})
	v.Event(runtime.Event{Address: "stage.other", Status: "failed"})
	v.Stop()
	v.Stop()
	v.Event(runtime.Event{Address: "stage.late", Status: "cached"}) // ignored after Stop
	got := term.String()
	for _, want := range []string{
		"  ✓ stage.gen                                ran in 6s, 1000 items\n",
		"  ✗ stage.other                              failed\n",
		"0 running · 1 ran · 1 cached · 0 skipped · 1 failed · ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("bars lack %q:\n%q", want, got)
		}
	}
	if strings.Contains(got, "stage.a ") || strings.Contains(got, "stage.late") {
		t.Errorf("a cached stage got a line:\n%q", got)
	}
}

// TestProgressHeartbeat: plain progress says every heartbeat which stages
// still run, with their items and rate, once per heartbeat.
func TestProgressHeartbeat(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := newPlainView(&out, false, func() time.Time { return now }, 0)
	ctr := &runtime.Counter{}
	ctr.SetTotal(1000)
	v.Event(runtime.Event{Address: "stage.sft", Status: "running", Reason: "new", Progress: ctr})
	v.Event(runtime.Event{Address: "stage.quick", Status: "running", Reason: "new"})
	v.Event(runtime.Event{Address: "stage.quick", Status: "ran", Duration: time.Second})
	out.Reset()
	ctr.Add(250)
	now = now.Add(10 * time.Second)
	v.heartbeat(30 * time.Second)
	if out.Len() != 0 {
		t.Fatalf("a heartbeat before 30s: %q", out.String())
	}
	now = now.Add(40 * time.Second)
	v.heartbeat(30 * time.Second)
	v.heartbeat(30 * time.Second)
	want := "  … stage.sft                                still running after 50s (250/1000 items, 5.0/s)\n"
	if out.String() != want {
		t.Fatalf("heartbeat:\n%q\nwant\n%q", out.String(), want)
	}
	v.Event(runtime.Event{Address: "stage.sft", Status: "ran", Duration: time.Minute})
	out.Reset()
	now = now.Add(time.Hour)
	v.heartbeat(30 * time.Second)
	if out.Len() != 0 {
		t.Fatalf("a heartbeat for a finished stage: %q", out.String())
	}
	v.Stop()
}

// TestProgressColour: marks are coloured only when asked (a terminal
// without NO_COLOR); piped progress has no escape codes.
func TestProgressColour(t *testing.T) {
	ev := runtime.Event{Address: "stage.x", Status: "ran", Warnings: []string{"empty input"}}
	var plain, colour bytes.Buffer
	writeEvent(&plain, ev, false)
	writeEvent(&colour, ev, true)
	if strings.Contains(plain.String(), "\x1b[") {
		t.Errorf("uncoloured line has escapes: %q", plain.String())
	}
	if !strings.Contains(colour.String(), "\x1b[32m✓\x1b[0m") || !strings.Contains(colour.String(), "\x1b[33m!\x1b[0m") {
		t.Errorf("coloured line: %q", colour.String())
	}
	var piped bytes.Buffer
	if _, err := newProgressView("plain", &piped); err != nil {
		t.Fatal(err)
	}
	if k := progressKind("auto", &piped); k != "plain" {
		t.Errorf("auto on a pipe = %s, want plain", k)
	}
	if k := progressKind("tty", &piped); k != "bars" {
		t.Errorf("tty = %s, want bars (its old name)", k)
	}
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
