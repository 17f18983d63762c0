package store

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// TestNoopSummaryGeneration: a no-op summary is returned until something
// that can change a cache lookup happens: PutStage, DeleteStage, GC,
// Repair, PinRun.
func TestNoopSummaryGeneration(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	blob, _ := s.PutBytes([]byte("data"))
	if err := s.PutStage(&StageEntry{Key: "k1", Address: "stage.a", Result: json.RawMessage(`1`), Blobs: []Digest{blob}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	run := &RunRecord{ID: NewRunID(now), Started: now, Status: "ok", Stages: []StageRun{{Name: "a", Address: "stage.a", Round: -1, Status: "cached", Key: "k1"}}}
	if err := s.PutRun(run); err != nil {
		t.Fatal(err)
	}
	put := func() {
		t.Helper()
		if err := s.PutNoopSummary("spec", &NoopSummary{PlanKey: "p", Run: run.ID, Blobs: []Digest{blob}}); err != nil {
			t.Fatal(err)
		}
		if sum, ok, err := s.NoopSummary("spec"); err != nil || !ok || sum.PlanKey != "p" || sum.Run != run.ID {
			t.Fatalf("NoopSummary = %+v, %v, %v", sum, ok, err)
		}
	}
	if err := s.PutNoopSummary("spec", &NoopSummary{PlanKey: "p", Run: "no-such-run"}); err == nil {
		t.Fatal("summary of a missing run stored")
	}
	changes := map[string]func() error{
		"PutStage": func() error {
			return s.PutStage(&StageEntry{Key: "k2", Address: "stage.b", Result: json.RawMessage(`2`)})
		},
		"DeleteStage": func() error { return s.DeleteStage("k2") },
		"GC":          func() error { _, err := s.GC(5); return err },
		"Repair":      func() error { _, err := s.Repair(nil); return err },
		"PinRun":      func() error { return s.PinRun(run.ID, true) },
		"unpin":       func() error { return s.PinRun(run.ID, false) },
	}
	for _, name := range []string{"PutStage", "DeleteStage", "GC", "Repair", "PinRun", "unpin"} {
		put()
		// Things that do not change a lookup keep it.
		if err := s.PutRun(&RunRecord{ID: NewRunID(time.Now()), Started: time.Now()}); err != nil {
			t.Fatal(err)
		}
		s.Memo().Put([]byte("req"), []byte("resp"))
		if err := s.Memo().Flush(); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.NoopSummary("spec"); !ok {
			t.Fatalf("before %s: summary lost", name)
		}
		if err := changes[name](); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if sum, ok, err := s.NoopSummary("spec"); ok || err != nil {
			t.Fatalf("after %s: NoopSummary = %+v, %v", name, sum, err)
		}
	}
}

// TestPutRunSameAs: a run stored as the same as another reads back whole.
func TestPutRunSameAs(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	t0 := time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)
	base := &RunRecord{ID: NewRunID(t0), Started: t0, Finished: t0.Add(time.Second), SpecDigest: "sha256:spec", Status: "ok",
		Variables: map[string]json.RawMessage{"n": json.RawMessage(`3`)},
		Stages:    []StageRun{{Name: "a", Address: "stage.a", Round: -1, Status: "cached", Key: "k1"}},
		Metrics:   map[string]json.RawMessage{"stage.e": json.RawMessage(`{"acc":0.5}`)},
		Outputs:   map[string]json.RawMessage{"o": json.RawMessage(`[1,2]`)}}
	if err := s.PutRun(base); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(time.Minute)
	rep := *base
	rep.ID, rep.Started, rep.Finished = NewRunID(t1), t1, t1.Add(time.Millisecond)
	if err := s.PutRunSameAs(&rep, base.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRunSameAs(&rep, base.ID); err == nil {
		t.Fatal("PutRunSameAs replaced a run")
	}
	if err := s.PutRunSameAs(&RunRecord{ID: NewRunID(t1), Started: t1}, "no-such-run"); err == nil {
		t.Fatal("PutRunSameAs of a missing run")
	}
	got, err := s.GetRun(rep.ID[:len(rep.ID)-2])
	if err != nil || !reflect.DeepEqual(got, &rep) {
		t.Fatalf("GetRun = %+v, %v; want %+v", got, err, rep)
	}
	runs, err := s.ListRuns(0)
	if err != nil || len(runs) != 2 || !reflect.DeepEqual(runs[0], &rep) || !reflect.DeepEqual(runs[1], base) {
		t.Fatalf("ListRuns = %+v, %v", runs, err)
	}
	// A record the same as one stored as the same as another is refused
	// when read.
	t2 := t1.Add(time.Minute)
	nested := &RunRecord{ID: NewRunID(t2), Started: t2}
	if err := s.PutRunSameAs(nested, rep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRun(nested.ID); err == nil || !strings.Contains(err.Error(), "stored as the same as") {
		t.Fatalf("GetRun of a nested record: %v", err)
	}
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(key(prefixRun, nested.ID)) }); err != nil {
		t.Fatal(err)
	}
	// Pinning rewrites it whole.
	if err := s.PinRun(rep.ID, true); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetRun(rep.ID)
	rep.Pinned = true
	if !reflect.DeepEqual(got, &rep) {
		t.Fatalf("pinned: %+v", got)
	}
}

// TestFormatUpgrade: Open marks a format-1 store as format 2.
func TestFormatUpgrade(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	if err := s.putJSON(metaFormatKey, metaFormat{Format: 1}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openT(t, dir, Options{})
	var m metaFormat
	if _, err := s.getJSON(metaFormatKey, &m); err != nil || m.Format != FormatVersion || FormatVersion != 2 {
		t.Fatalf("format %d, %v", m.Format, err)
	}
}

// TestLevel0Bounded: short commands that each write a little (a no-op run
// writes its record) do not pile up level-0 tables.
func TestLevel0Bounded(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 3*compactL0At; i++ {
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if err := s.PutRun(&RunRecord{ID: NewRunID(now), Started: now}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s := openT(t, dir, Options{})
	if n := level0Tables(s.db); n > compactL0At {
		t.Fatalf("%d level-0 tables after %d commands", n, 3*compactL0At)
	}
	if runs, err := s.ListRuns(0); err != nil || len(runs) != 3*compactL0At {
		t.Fatalf("%d runs, %v", len(runs), err)
	}
}

// TestReadOnlyPendingRuns: a store opened ReadOnly writes nothing to the
// index; its PutRunSameAs records reach the index at the next writable
// Open, and a torn last line is dropped.
func TestReadOnlyPendingRuns(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir, Options{ReadOnly: true}); !errors.Is(err, ErrNeedsWrite) {
		t.Fatalf("read-only Open of a new store: %v", err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)
	base := &RunRecord{ID: NewRunID(t0), Started: t0, Status: "ok", Stages: []StageRun{{Name: "a", Round: -1, Status: "cached", Key: "k"}}}
	if err := s.PutRun(base); err != nil {
		t.Fatal(err)
	}
	s.Close()

	ro, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 1; i <= 3; i++ {
		ti := t0.Add(time.Duration(i) * time.Minute)
		r := &RunRecord{ID: NewRunID(ti), Started: ti, Finished: ti.Add(time.Millisecond), Status: "ok"}
		if err := ro.PutRunSameAs(r, base.ID); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if err := ro.PutRunSameAs(&RunRecord{ID: "x", Started: t0}, "no-such-run"); err == nil {
		t.Fatal("read-only PutRunSameAs of a missing base")
	}
	if err := ro.PutRun(&RunRecord{ID: "y", Started: t0}); err == nil {
		t.Fatal("PutRun on a read-only store")
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash in the middle of an append leaves a line without its newline.
	f, err := os.OpenFile(filepath.Join(dir, pendingFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":"20261124T160000Z-torn","started":"2026-11-24T16:00:00Z","same_as":"` + base.ID)
	f.Close()

	s = openT(t, dir, Options{})
	runs, err := s.ListRuns(0)
	if err != nil || len(runs) != 4 {
		t.Fatalf("ListRuns: %d runs, %v", len(runs), err)
	}
	for i, id := range ids {
		r := runs[len(ids)-1-i]
		if r.ID != id || len(r.Stages) != 1 || r.Stages[0].Key != "k" || r.Status != "ok" {
			t.Fatalf("run %d = %+v", i, r)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, pendingFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pending file left after import: %v", err)
	}
}

// TestKill9KeepsPendingRuns: a run recorded by a read-only store survives
// kill -9 of its process as soon as PutRunSameAs returned.
func TestKill9KeepsPendingRuns(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	base := &RunRecord{ID: NewRunID(now), Started: now, Status: "ok", Stages: []StageRun{{Name: "a", Round: -1, Status: "cached", Key: "k"}}}
	if err := s.PutRun(base); err != nil {
		t.Fatal(err)
	}
	s.Close()
	cmd, out := startHelper(t, "pending", dir, "OURO_STORE_BASE="+base.ID)
	var put []string
	for len(put) < 20 {
		line, err := out.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "put ") {
			t.Fatalf("child said %q, %v", line, err)
		}
		put = append(put, strings.TrimSpace(strings.TrimPrefix(line, "put ")))
	}
	kill9(t, cmd)
	s = openT(t, dir, Options{})
	for _, id := range put {
		r, err := s.GetRun(id)
		if err != nil || len(r.Stages) != 1 {
			t.Fatalf("run %s recorded before the kill: %+v, %v", id, r, err)
		}
	}
}
