package store

import (
	"crypto/sha256"
	"fmt"
	"os"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// putRunWithStage stores one blob, one stage entry referencing it and a run
// that used that entry.
func putRunWithStage(t *testing.T, s *Store, i int, started time.Time) (runID, key string, blob Digest) {
	t.Helper()
	blob, err := s.PutBytes([]byte(fmt.Sprint("artifact ", i)))
	if err != nil {
		t.Fatal(err)
	}
	key = fmt.Sprint("key-", i)
	if err := s.PutStage(&StageEntry{Key: key, Address: fmt.Sprint("stage.s", i), Blobs: []Digest{blob}, Created: started}); err != nil {
		t.Fatal(err)
	}
	r := &RunRecord{ID: NewRunID(started), Started: started, Stages: []StageRun{{Name: "s", Round: -1, Status: "ran", Key: key}}}
	if err := s.PutRun(r); err != nil {
		t.Fatal(err)
	}
	return r.ID, key, blob
}

func TestGC(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	old := time.Now().Add(-time.Hour)
	var runs, keys []string
	var blobs []Digest
	for i := 0; i < 4; i++ {
		id, k, b := putRunWithStage(t, s, i, old.Add(time.Duration(i)*time.Minute))
		runs, keys, blobs = append(runs, id), append(keys, k), append(blobs, b)
		p, _ := s.blobs.Path(b)
		os.Chtimes(p, old, old) // blobs as old as their run
	}
	// A stage that shares run 3's blob, from no run: too old, goes.
	s.PutStage(&StageEntry{Key: "orphan-shared", Blobs: []Digest{blobs[3]}, Created: old})
	// An orphan blob older than every kept run.
	orphan, _ := s.PutBytes([]byte("orphan"))
	p, _ := s.BlobPath(orphan) // in place (Commit only staged it)
	os.Chtimes(p, old, old)
	s.Memo().Put([]byte("req"), []byte("resp"))
	if err := s.PinRun(runs[0], true); err != nil {
		t.Fatal(err)
	}

	st, err := s.GC(2) // keep runs 3, 2 and pinned 0
	if err != nil {
		t.Fatal(err)
	}
	if st.RunsKept != 3 || st.StagesRemoved != 2 || st.BlobsRemoved != 2 || st.AddressRemoved != 1 {
		t.Fatalf("GC stats %+v", st)
	}
	for i, wantKept := range []bool{true, false, true, true} {
		_, ok, _ := s.GetStage(keys[i])
		has, _ := s.HasBlob(blobs[i])
		if ok != wantKept || has != wantKept {
			t.Errorf("run %d: entry kept=%v blob kept=%v, want %v", i, ok, has, wantKept)
		}
	}
	if _, ok, _ := s.LastForAddress("stage.s1"); ok {
		t.Error("address index of a collected entry still resolves")
	}
	if has, _ := s.HasBlob(orphan); has {
		t.Error("orphan blob kept")
	}
	if _, ok, _ := s.Memo().Get([]byte("req")); !ok {
		t.Error("GC dropped a memo entry")
	}
	if all, _ := s.ListRuns(0); len(all) != 4 {
		t.Errorf("GC dropped run records: %d left", len(all))
	}
	// Work newer than the oldest kept run (a run that died before writing
	// its record) survives.
	fresh, _ := s.PutBytes([]byte("fresh"))
	s.PutStage(&StageEntry{Key: "fresh", Blobs: []Digest{fresh}})
	if _, err := s.GC(2); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.GetStage("fresh"); !ok {
		t.Error("fresh entry collected")
	}
	if has, _ := s.HasBlob(fresh); !has {
		t.Error("fresh blob collected")
	}
}

func TestVerifyAndRepair(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	_, k0, b0 := putRunWithStage(t, s, 0, time.Now())
	_, k1, b1 := putRunWithStage(t, s, 1, time.Now())
	_, k2, b2 := putRunWithStage(t, s, 2, time.Now())
	if dmg, err := s.Verify(); err != nil || len(dmg) != 0 {
		t.Fatalf("Verify on a healthy store: %v %v", dmg, err)
	}
	p0, _ := s.blobs.Path(b0)
	os.Chmod(p0, 0o644) // blobs are read-only
	if err := os.WriteFile(p0, []byte("bit rot"), 0o644); err != nil {
		t.Fatal(err)
	}
	p1, _ := s.blobs.Path(b1)
	os.Remove(p1)
	dmg, err := s.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if len(dmg) != 2 || dmg[0].Digest != b0 || dmg[0].Problem != "corrupt" || dmg[1].Digest != b1 || dmg[1].Problem != "missing" {
		t.Fatalf("Verify = %v", dmg)
	}
	if len(dmg[0].Stages) != 1 || dmg[0].Stages[0] != k0 {
		t.Fatalf("damage references %v", dmg[0].Stages)
	}
	rs, err := s.Repair(dmg)
	if err != nil || rs.StagesRemoved != 2 || rs.BlobsRemoved != 1 {
		t.Fatalf("Repair = %+v %v", rs, err)
	}
	for _, k := range []string{k0, k1} {
		if _, ok, _ := s.GetStage(k); ok {
			t.Errorf("entry %s still cached after repair", k)
		}
	}
	if _, ok, _ := s.GetStage(k2); !ok {
		t.Error("healthy entry removed")
	}
	if has, _ := s.HasBlob(b2); !has {
		t.Error("healthy blob removed")
	}
	if dmg, _ := s.Verify(); len(dmg) != 0 {
		t.Fatalf("Verify after repair: %v", dmg)
	}
	// The recomputed stage can be stored again.
	b0new, _ := s.PutBytes([]byte("artifact 0"))
	if b0new != b0 {
		t.Fatal("digest changed")
	}
	if err := s.PutStage(&StageEntry{Key: k0, Blobs: []Digest{b0}}); err != nil {
		t.Fatal(err)
	}
}

func TestStats(t *testing.T) {
	s := openT(t, t.TempDir(), Options{InMemory: true})
	putRunWithStage(t, s, 0, time.Now())
	putRunWithStage(t, s, 1, time.Now())
	s.Memo().Put([]byte("a"), []byte("b"))
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Stages.Count != 2 || st.Addresses.Count != 2 || st.Runs.Count != 2 || st.Memo.Count != 1 || st.Blobs.Count != 2 || st.Blobs.Bytes != int64(len("artifact 0")*2) {
		t.Fatalf("Stats = %+v", st)
	}
	if st.Stages.Bytes == 0 || st.Memo.Bytes == 0 {
		t.Fatalf("Stats bytes = %+v", st)
	}
}

func TestMemoDropBefore(t *testing.T) {
	s := openT(t, t.TempDir(), Options{InMemory: true})
	m := s.Memo()
	m.Put([]byte("old"), []byte("1"))
	m.Flush()
	// Rewrite "old" with a write time an hour ago.
	h := sha256.Sum256([]byte("old"))
	if err := s.update(func(txn *badger.Txn) error {
		return txn.Set(memoKey(h), encodeMemo([]byte("1"), time.Now().Add(-time.Hour)))
	}); err != nil {
		t.Fatal(err)
	}
	m.Put([]byte("new"), []byte("2"))
	n, err := m.DropBefore(time.Now().Add(-time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("DropBefore = %d, %v", n, err)
	}
	if _, ok, _ := m.Get([]byte("old")); ok {
		t.Error("old entry kept")
	}
	if _, ok, _ := m.Get([]byte("new")); !ok {
		t.Error("new entry dropped")
	}
}

// TestStatsCountsPlansAndSummaries: cached plans and no-op summaries show
// in Stats.
func TestStatsCountsPlansAndSummaries(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.PutPlan("a.loop.hcl", "k1", []byte(`{"plan":1}`)); err != nil {
		t.Fatal(err)
	}
	r := &RunRecord{ID: NewRunID(time.Now()), Started: time.Now(), Status: "ok"}
	if err := s.PutRun(r); err != nil {
		t.Fatal(err)
	}
	if err := s.PutNoopSummary("a.loop.hcl", &NoopSummary{PlanKey: "k1", Run: r.ID}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Plans.Count != 1 || st.Noops.Count != 1 || st.Plans.Bytes == 0 {
		t.Fatalf("stats %+v", st)
	}
}
