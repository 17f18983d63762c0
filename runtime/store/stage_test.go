package store

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// stageFor is the entry TestPutStageGroupCommit and the kill test store
// for i, naming blob d.
func stageFor(i int, d Digest) *StageEntry {
	return &StageEntry{Key: fmt.Sprintf("sha256:%064x", i), Address: fmt.Sprintf("stage.s%d", i), Operator: "map", Version: 1,
		Result: []byte(fmt.Sprintf(`{"d":%q}`, d)), Blobs: []Digest{d}, Created: time.Unix(int64(i), 0).UTC()}
}

func stageContent(i int) []byte {
	return []byte(fmt.Sprintf("stage %d result %s", i, strings.Repeat("x", i%97)))
}

// TestPutStageGroupCommit stores entries from many goroutines at once,
// holding each batch's transaction until more callers have queued: they
// are written in fewer transactions than calls, every call returns, and
// after a reopen every entry, its address and its blob are there.
func TestPutStageGroupCommit(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const callers, each = 16, 20
	var queued sync.WaitGroup
	queued.Add(callers)
	first := make(chan struct{})
	var once sync.Once
	testHookStageBatch = func([]*StageEntry) {
		// The first batch waits until every caller has started, so the
		// others queue behind it.
		once.Do(func() { queued.Wait(); close(first) })
	}
	defer func() { testHookStageBatch = nil }()
	var wg sync.WaitGroup
	errs := make(chan error, callers*each)
	for g := 0; g < callers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < each; k++ {
				i := g*each + k
				d, err := s.PutBytes(stageContent(i))
				if err != nil {
					errs <- err
					return
				}
				if k == 0 {
					queued.Done()
				}
				if err := s.PutStage(stageFor(i, d)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	batches := s.stages.batches.Load()
	if batches >= callers*each {
		t.Fatalf("%d calls written in %d transactions, want fewer", callers*each, batches)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d calls in %d transactions", callers*each, batches)

	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < callers*each; i++ {
		want := stageFor(i, DigestOf(stageContent(i)))
		e, ok, err := s.LastForAddress(want.Address)
		if err != nil || !ok {
			t.Fatalf("entry %d after reopen: %v %v", i, ok, err)
		}
		if e.Key != want.Key || string(e.Result) != string(want.Result) || len(e.Blobs) != 1 || e.Blobs[0] != want.Blobs[0] {
			t.Fatalf("entry %d after reopen = %+v, want %+v", i, e, want)
		}
	}
	if dmg, err := s.Verify(); err != nil || len(dmg) != 0 {
		t.Fatalf("Verify after reopen: %v %v", dmg, err)
	}
}

// TestPutStageSameAddressInOneBatch: entries for one address in one batch
// leave the address at the last of them, as one PutStage after another.
func TestPutStageSameAddressInOneBatch(t *testing.T) {
	s, err := Open(t.TempDir(), Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var batch []*stageWrite
	for i := 0; i < 3; i++ {
		e := &StageEntry{Key: fmt.Sprintf("k%d", i), Address: "stage.a", Created: time.Unix(1, 0)}
		val, err := encodeJSON(e)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, &stageWrite{e: e, val: val})
	}
	for i, err := range s.writeStages(batch, nil) {
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	e, ok, err := s.LastForAddress("stage.a")
	if err != nil || !ok || e.Key != "k2" {
		t.Fatalf("LastForAddress = %+v %v %v, want k2", e, ok, err)
	}
	for i := 0; i < 3; i++ {
		if _, ok, err := s.GetStage(fmt.Sprintf("k%d", i)); err != nil || !ok {
			t.Fatalf("k%d: %v %v", i, ok, err)
		}
	}
}

// TestPutStageSyncsBlobsFirst: Commit only stages a Store's blob; before
// the transaction that writes the entry naming it, its content is synced,
// then it is renamed into place, then the names are synced, by one syncfs
// per step for a batch (Linux) or by fsyncs, each directory once.
func TestPutStageSyncsBlobsFirst(t *testing.T) {
	for _, syncfs := range []bool{true, false} {
		t.Run(fmt.Sprintf("syncfs=%v", syncfs), func(t *testing.T) {
			if syncfs && !useSyncFS {
				t.Skip("no syncfs on this system")
			}
			defer func(u bool) { useSyncFS = u }(useSyncFS)
			useSyncFS = syncfs
			testSyncsBlobsFirst(t, syncfs)
		})
	}
}

func testSyncsBlobsFirst(t *testing.T, syncfs bool) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mu sync.Mutex
	var events []string
	note := func(ev string) { mu.Lock(); events = append(events, ev); mu.Unlock() }
	testHookBlobs = func(event, path string) { note(event + " " + path) }
	testHookStageBatch = func(batch []*StageEntry) {
		for _, e := range batch {
			note("entry " + e.Key)
		}
	}
	defer func() { testHookBlobs, testHookStageBatch = nil, nil }()
	check := func(want ...string) {
		t.Helper()
		if strings.Join(events, "\n") != strings.Join(want, "\n") {
			t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
		}
		events = nil
	}

	// Two blobs in one directory (their digests share the first byte).
	var ds []Digest
	var contents [][]byte
	for i := 0; len(ds) < 2; i++ {
		d := DigestOf(stageContent(i))
		if len(ds) == 1 && d.Hex()[:2] != ds[0].Hex()[:2] {
			continue
		}
		if _, err := s.PutBytes(stageContent(i)); err != nil {
			t.Fatal(err)
		}
		ds, contents = append(ds, d), append(contents, stageContent(i))
	}
	check() // nothing synced or renamed yet
	if ds[1] < ds[0] {
		ds[0], ds[1] = ds[1], ds[0]
		contents[0], contents[1] = contents[1], contents[0]
	}
	tmp0, _ := s.blobs.stagedPath(ds[0])
	tmp1, _ := s.blobs.stagedPath(ds[1])
	// A staged blob is readable under its digest before it is synced.
	for i, d := range ds {
		r, err := s.OpenBlob(d)
		if err != nil {
			t.Fatalf("staged blob %d: %v", i, err)
		}
		got, _ := io.ReadAll(r)
		r.Close()
		if string(got) != string(contents[i]) {
			t.Fatalf("staged blob %d reads %q, want %q", i, got, contents[i])
		}
		if n, err := s.Stat(d); n != int64(len(contents[i])) || err != nil {
			t.Fatalf("Stat(staged) = %d, %v", n, err)
		}
	}
	if err := s.PutStage(&StageEntry{Key: "k", Address: "stage.a", Blobs: ds}); err != nil {
		t.Fatal(err)
	}
	p0, _ := s.blobs.Path(ds[0])
	p1, _ := s.blobs.Path(ds[1])
	dir := filepath.Dir(p0)
	root := s.blobs.root
	if syncfs {
		check("syncfs "+root, "rename "+p0, "rename "+p1, "syncfs "+root, "entry k")
	} else {
		check("sync "+tmp0, "sync "+tmp1, "rename "+p0, "rename "+p1, "syncdir "+filepath.Dir(dir), "syncdir "+dir, "entry k")
	}

	// One blob into an existing directory: an fsync each, no syncfs.
	var one Digest
	for i := 0; ; i++ {
		if d := DigestOf(stageContent(i)); d.Hex()[:2] == ds[0].Hex()[:2] && d != ds[0] && d != ds[1] {
			if one, err = s.PutBytes(stageContent(i)); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	tmp, _ := s.blobs.stagedPath(one)
	if err := s.PutStage(&StageEntry{Key: "k1", Blobs: []Digest{one}}); err != nil {
		t.Fatal(err)
	}
	pOne, _ := s.blobs.Path(one)
	check("sync "+tmp, "rename "+pOne, "syncdir "+dir, "entry k1")

	// A blob already in place, committed again, needs no sync: the
	// SyncBlobs that renamed it has synced its directory.
	if _, err := s.PutBytes(contents[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.PutStage(&StageEntry{Key: "k2", Blobs: ds[:1]}); err != nil {
		t.Fatal(err)
	}
	check("entry k2")
}

// TestDiskBlobsSyncAtCommit: a DiskBlobs of its own (no Store) puts the
// blob in place in Commit and leaves nothing for SyncBlobs.
func TestDiskBlobsSyncAtCommit(t *testing.T) {
	dir := t.TempDir()
	b, err := NewDiskBlobs(filepath.Join(dir, "blobs"), filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PutBytes(b, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if len(b.staged) != 0 || len(b.unsynced) != 0 {
		t.Fatalf("staged blobs %v, unsynced directories %v after Commit", b.staged, b.unsynced)
	}
	p, _ := b.Path(DigestOf([]byte("x")))
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("blob not in place after Commit: %v", err)
	}
}

// TestPutStageSyncOverlapsTransaction: the leader hands the lead on once
// its batch's blobs are synced, so a later caller's blobs sync while the
// earlier batch's transaction is being written (before, the later caller
// waited for that transaction).
func TestPutStageSyncOverlapsTransaction(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dB := DigestOf([]byte("blob b"))
	pB, _ := s.blobs.Path(dB)
	renamedB := make(chan struct{})
	inTxn := make(chan struct{})
	var once sync.Once
	overlapped := false
	testHookBlobs = func(event, path string) {
		if event == "rename" && path == pB {
			close(renamedB)
		}
	}
	testHookStageBatch = func(batch []*StageEntry) {
		if batch[0].Key != "a" {
			return
		}
		once.Do(func() {
			close(inTxn)
			select {
			case <-renamedB:
				overlapped = true
			case <-time.After(10 * time.Second): // the old order never gets there
			}
		})
	}
	defer func() { testHookBlobs, testHookStageBatch = nil, nil }()
	put := func(key, content string) chan error {
		done := make(chan error, 1)
		go func() {
			d, err := s.PutBytes([]byte(content))
			if err == nil {
				err = s.PutStage(&StageEntry{Key: key, Blobs: []Digest{d}})
			}
			done <- err
		}()
		return done
	}
	a := put("a", "blob a")
	<-inTxn
	b := put("b", "blob b")
	if err := <-a; err != nil {
		t.Fatal(err)
	}
	if err := <-b; err != nil {
		t.Fatal(err)
	}
	if !overlapped {
		t.Fatal("the second caller's blob was not synced while the first batch's transaction was written")
	}
}
