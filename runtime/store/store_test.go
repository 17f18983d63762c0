package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openT(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestBlobs(t *testing.T) {
	s := openT(t, t.TempDir(), Options{InMemory: true})
	d, err := s.PutBytes([]byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if want := DigestOf([]byte("hello")); d != want {
		t.Fatalf("digest %s, want %s", d, want)
	}
	if ok, _ := s.HasBlob(d); !ok {
		t.Fatal("HasBlob = false")
	}
	if n, err := s.Stat(d); err != nil || n != 5 {
		t.Fatalf("Stat = %d, %v", n, err)
	}
	r, err := s.OpenBlob(d)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "hello" {
		t.Fatalf("read %q", b)
	}
	p, err := s.BlobPath(d)
	if err != nil || !strings.HasSuffix(p, filepath.Join("blobs", "sha256", d.Hex()[:2], d.Hex())) {
		t.Fatalf("BlobPath = %q, %v", p, err)
	}
	// BlobPath put the staged blob in place, read-only.
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o444 {
		t.Fatalf("blob file at BlobPath: %v, %v; want mode 0444", fi, err)
	}
	if _, ok := s.blobs.stagedPath(d); ok {
		t.Fatal("blob still staged after BlobPath")
	}
	// Same content again: same digest, file untouched.
	fi1, _ := os.Stat(p)
	if d2, err := s.PutBytes([]byte("hello")); err != nil || d2 != d {
		t.Fatalf("second put: %s %v", d2, err)
	}
	fi2, _ := os.Stat(p)
	if !os.SameFile(fi1, fi2) {
		t.Fatal("committed blob was replaced")
	}
	// Streaming writer and abort.
	w, err := s.Create()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(w, "line %d\n", i)
	}
	d3, n3, err := w.Commit()
	if err != nil || n3 == 0 {
		t.Fatal(err)
	}
	if _, _, err := w.Commit(); err == nil {
		t.Fatal("second Commit succeeded")
	}
	w, _ = s.Create()
	w.Write([]byte("discard me"))
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	// tmp holds the staged blob d3 and empty spare files, not the aborted one.
	ents, _ := os.ReadDir(filepath.Join(s.Dir(), "tmp"))
	staged := 0
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(s.Dir(), "tmp", e.Name()))
		switch {
		case filepath.Join(s.Dir(), "tmp", e.Name()) == s.blobs.staged[d3]:
			staged++
		case len(b) != 0:
			t.Fatalf("tmp after abort holds %s: %q", e.Name(), b)
		}
	}
	if staged != 1 {
		t.Fatalf("tmp after abort: %d files, staged blob d3 not among them", len(ents))
	}
	if ok, _ := s.HasBlob(DigestOf([]byte("discard me"))); ok {
		t.Fatal("aborted blob exists")
	}
	missing := DigestOf([]byte("nope"))
	if _, err := s.OpenBlob(missing); !errors.Is(err, ErrNotFound) {
		t.Fatalf("OpenBlob missing: %v", err)
	}
	if _, err := s.BlobPath(missing); !errors.Is(err, ErrNotFound) {
		t.Fatalf("BlobPath missing: %v", err)
	}
	if _, err := s.Stat("sha256:xyz"); err == nil {
		t.Fatal("malformed digest accepted")
	}
	var seen []Digest
	s.blobs.Walk(func(d Digest, _ int64) error { seen = append(seen, d); return nil })
	if len(seen) != 2 || (seen[0] != d && seen[1] != d) || (seen[0] != d3 && seen[1] != d3) {
		t.Fatalf("Walk = %v", seen)
	}
}

func TestStageEntries(t *testing.T) {
	s := openT(t, t.TempDir(), Options{InMemory: true})
	if _, ok, err := s.GetStage("k1"); ok || err != nil {
		t.Fatalf("GetStage on empty store: %v %v", ok, err)
	}
	blob, _ := s.PutBytes([]byte("data"))
	e := &StageEntry{
		Key: "k1", Address: "loop.star[0].stage.tune", Operator: "sft", Version: 2,
		Params: map[string]string{"lr": "sha256:aa"}, Inputs: map[string]string{"data": string(blob)},
		Result: json.RawMessage(`{"model":"x"}`), Blobs: []Digest{blob}, Duration: time.Second,
	}
	if err := s.PutStage(e); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.GetStage("k1")
	if err != nil || !ok {
		t.Fatalf("GetStage: %v %v", ok, err)
	}
	if got.Operator != "sft" || got.Version != 2 || string(got.Result) != `{"model":"x"}` || got.Blobs[0] != blob || got.Duration != time.Second || got.Created.IsZero() {
		t.Fatalf("GetStage = %+v", got)
	}
	e2 := *e
	e2.Key, e2.Version = "k2", 3
	if err := s.PutStage(&e2); err != nil {
		t.Fatal(err)
	}
	last, ok, err := s.LastForAddress("loop.star[0].stage.tune")
	if err != nil || !ok || last.Key != "k2" {
		t.Fatalf("LastForAddress = %+v %v %v", last, ok, err)
	}
	if _, ok, _ := s.LastForAddress("nowhere"); ok {
		t.Fatal("LastForAddress found an unknown address")
	}
	bad := &StageEntry{Key: "k3", Blobs: []Digest{DigestOf([]byte("absent"))}}
	var mb *MissingBlobError
	if err := s.PutStage(bad); !errors.As(err, &mb) {
		t.Fatalf("PutStage with missing blob: %v", err)
	}
	if _, ok, _ := s.GetStage("k3"); ok {
		t.Fatal("entry with missing blob was stored")
	}
	if err := s.DeleteStage("k2"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.LastForAddress("loop.star[0].stage.tune"); ok {
		t.Fatal("LastForAddress returned a deleted entry")
	}
}

func TestMemo(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := s.Memo()
	if _, ok, err := m.Get([]byte("a")); ok || err != nil {
		t.Fatalf("Get on empty memo: %v %v", ok, err)
	}
	if err := m.Put([]byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := m.Get([]byte("a")); !ok || string(v) != "1" {
		t.Fatalf("Get queued = %q %v", v, ok)
	}
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := m.Get([]byte("a")); !ok || string(v) != "1" {
		t.Fatalf("Get flushed = %q %v", v, ok)
	}
	m.Put([]byte("a"), []byte("2"))
	m.Put([]byte("empty"), nil)
	big := bytes.Repeat([]byte("0123456789"), 10_000) // goes to the value log
	m.Put([]byte("big"), big)
	if v, ok, _ := m.Get([]byte("a")); !ok || string(v) != "2" {
		t.Fatalf("Get overwritten = %q %v", v, ok)
	}
	// Queued, unflushed: Close must flush.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Put([]byte("late"), []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
	s = openT(t, dir, Options{})
	m = s.Memo()
	if v, ok, _ := m.Get([]byte("a")); !ok || string(v) != "2" {
		t.Fatalf("Get after reopen = %q %v", v, ok)
	}
	if v, ok, _ := m.Get([]byte("empty")); !ok || len(v) != 0 {
		t.Fatalf("Get empty after reopen = %q %v", v, ok)
	}
	if v, ok, _ := m.Get([]byte("big")); !ok || !bytes.Equal(v, big) {
		t.Fatalf("Get big after reopen: %d bytes, %v", len(v), ok)
	}
}

func TestMemoConcurrent(t *testing.T) {
	s := openT(t, t.TempDir(), Options{InMemory: true, MemoFlushInterval: time.Millisecond})
	m := s.Memo()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				k := []byte(fmt.Sprintf("g%d-%d", g, i))
				if err := m.Put(k, k); err != nil {
					t.Error(err)
					return
				}
				if v, ok, err := m.Get(k); err != nil || !ok || !bytes.Equal(v, k) {
					t.Errorf("Get(%s) = %q %v %v", k, v, ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2000; i += 97 {
		k := []byte(fmt.Sprintf("g3-%d", i))
		if v, ok, _ := m.Get(k); !ok || !bytes.Equal(v, k) {
			t.Fatalf("Get(%s) after flush = %q %v", k, v, ok)
		}
	}
}

func TestMemoBackpressure(t *testing.T) {
	s := openT(t, t.TempDir(), Options{InMemory: true, MemoFlushInterval: time.Hour})
	m := s.Memo()
	for i := 0; i < memoMaxEntries+10; i++ {
		if err := m.Put([]byte(fmt.Sprint(i)), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	m.mu.Lock()
	n := len(m.pending)
	m.mu.Unlock()
	if n >= memoMaxEntries {
		t.Fatalf("queue grew to %d entries", n)
	}
}

func TestRuns(t *testing.T) {
	s := openT(t, t.TempDir(), Options{InMemory: true})
	base := time.Date(2026, 11, 24, 15, 1, 2, 0, time.UTC)
	var ids []string
	for i := 0; i < 5; i++ {
		st := base.Add(time.Duration(i) * time.Minute)
		r := &RunRecord{ID: NewRunID(st), Started: st, Status: "ok",
			Stages:    []StageRun{{Name: "gen", Round: -1, Status: "ran", Key: fmt.Sprint("k", i)}},
			Variables: map[string]json.RawMessage{"rounds": json.RawMessage("4")}}
		if err := s.PutRun(r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if !strings.HasPrefix(ids[0], "20261124T150102Z-") || len(ids[0]) != len("20261124T150102Z-")+6 {
		t.Fatalf("run id %q", ids[0])
	}
	runs, err := s.ListRuns(3)
	if err != nil || len(runs) != 3 {
		t.Fatalf("ListRuns(3) = %d runs, %v", len(runs), err)
	}
	for i, r := range runs {
		if r.ID != ids[4-i] {
			t.Fatalf("ListRuns[%d] = %s, want %s", i, r.ID, ids[4-i])
		}
	}
	if all, _ := s.ListRuns(0); len(all) != 5 {
		t.Fatalf("ListRuns(0) = %d", len(all))
	}
	r, err := s.GetRun(ids[2])
	if err != nil || r.Stages[0].Key != "k2" || string(r.Variables["rounds"]) != "4" {
		t.Fatalf("GetRun = %+v %v", r, err)
	}
	r, err = s.GetRun(ids[2][:len(ids[2])-2])
	if err != nil && !errors.As(err, new(*AmbiguousRunError)) || err == nil && r.ID != ids[2] {
		t.Fatalf("GetRun(prefix) = %v %v", r, err)
	}
	var amb *AmbiguousRunError
	if _, err := s.GetRun("2026"); !errors.As(err, &amb) || len(amb.Matches) < 2 {
		t.Fatalf("GetRun(ambiguous) = %v", err)
	}
	if _, err := s.GetRun("1999"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetRun(missing) = %v", err)
	}
	for ref, want := range map[string]string{"latest": ids[4], "latest~0": ids[4], "latest~1": ids[3], "latest~4": ids[0]} {
		if r, err := s.GetRun(ref); err != nil || r.ID != want {
			t.Fatalf("GetRun(%s) = %v, %v; want %s", ref, r, err, want)
		}
	}
	if _, err := s.GetRun("latest~5"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "holds 5 runs") {
		t.Fatalf("GetRun(latest~5) = %v", err)
	}
	if _, err := s.GetRun("latest~x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetRun(latest~x) = %v, want not found (it is no id prefix either)", err)
	}
	if err := s.PinRun(ids[1], true); err != nil {
		t.Fatal(err)
	}
	r, _ = s.GetRun(ids[1])
	if !r.Pinned {
		t.Fatal("not pinned")
	}
	// Re-putting the record (as the executor does) keeps the pin; a new start time moves it in the list.
	r.Pinned = false
	r.Started = base.Add(time.Hour)
	if err := s.PutRun(r); err != nil {
		t.Fatal(err)
	}
	runs, _ = s.ListRuns(0)
	if len(runs) != 5 || runs[0].ID != ids[1] || !runs[0].Pinned {
		t.Fatalf("after re-put: %d runs, first %s pinned=%v", len(runs), runs[0].ID, runs[0].Pinned)
	}
	s.PinRun(ids[1], false)
	if r, _ := s.GetRun(ids[1]); r.Pinned {
		t.Fatal("still pinned")
	}
}

// TestRunningRecordOfAGoneProcess: a record stored as running by another
// process reads as interrupted (that process would hold the lock this
// Store holds); one this process is writing stays running; finished
// records keep their status.
func TestRunningRecordOfAGoneProcess(t *testing.T) {
	s := openT(t, t.TempDir(), Options{InMemory: true})
	host, _ := os.Hostname()
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		rec  RunRecord
		want string
	}{
		{RunRecord{Status: "running", PID: os.Getpid() + 1, Host: host}, StatusInterrupted},
		{RunRecord{Status: "running", PID: os.Getpid(), Host: host + "-elsewhere"}, StatusInterrupted},
		{RunRecord{Status: "running"}, StatusInterrupted}, // written before records named their process
		{RunRecord{Status: "running", PID: os.Getpid(), Host: host}, "running"},
		{RunRecord{Status: "ok", PID: os.Getpid() + 1, Host: host}, "ok"},
		{RunRecord{Status: "failed"}, "failed"},
	}
	for i, c := range cases {
		r := c.rec
		r.Started = start.Add(time.Duration(i) * time.Minute)
		r.ID = NewRunID(r.Started)
		if err := s.PutRun(&r); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetRun(r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != c.want {
			t.Errorf("case %d: GetRun status %s, want %s", i, got.Status, c.want)
		}
	}
	runs, err := s.ListRuns(0)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range runs {
		if want := cases[len(cases)-1-i].want; r.Status != want {
			t.Errorf("ListRuns[%d] status %s, want %s", i, r.Status, want)
		}
	}
}

func TestFormatVersion(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.putJSON(metaFormatKey, metaFormat{Format: FormatVersion + 1}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(dir, Options{})
	if !errors.Is(err, ErrNewerFormat) || !strings.Contains(err.Error(), "upgrade ouro") {
		t.Fatalf("Open newer store: %v", err)
	}
	// The failed Open released the lock.
	s, err = Open(dir, Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestLockRefused(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{Command: "ouro run"})
	_, err := Open(dir, Options{})
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Open: %v", err)
	}
	if le.PID != os.Getpid() || le.Command != "ouro run" || le.Started.IsZero() {
		t.Fatalf("LockedError = %+v", le)
	}
	msg := err.Error()
	want := fmt.Sprintf("store %s is in use by pid %d (ouro run, started ", s.Dir(), os.Getpid())
	if !strings.HasPrefix(msg, want) || !strings.HasSuffix(msg, "; wait with --wait") {
		t.Fatalf("message %q, want prefix %q", msg, want)
	}
	_, err = Open(dir, Options{Wait: true, WaitTimeout: 50 * time.Millisecond})
	if !errors.As(err, &le) || le.Waited == 0 || !strings.Contains(err.Error(), "gave up after waiting") {
		t.Fatalf("Open with wait timeout: %v", err)
	}
	// A waiter gets the store once the holder closes it.
	done := make(chan error, 1)
	go func() {
		s2, err := Open(dir, Options{Wait: true})
		if err == nil {
			err = s2.Close()
		}
		done <- err
	}()
	time.Sleep(30 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("waiting Open: %v", err)
	}
}

// TestCloseEmptiesTmp: after blobs are written and the store closed, tmp
// holds nothing: staged blobs are in place, spare temp files removed.
func TestCloseEmptiesTmp(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ds []Digest
	for i := 0; i < 5; i++ {
		d, err := s.PutBytes([]byte(fmt.Sprint("blob ", i)))
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Fatalf("tmp after Close: %d files", len(ents))
	}
	s = openT(t, dir, Options{})
	for _, d := range ds {
		p, _ := s.blobs.Path(d)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("blob %s not in place after Close: %v", d, err)
		}
	}
}
