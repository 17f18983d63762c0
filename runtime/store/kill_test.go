package store

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestHelperProcess is the child of the subprocess tests: it is re-executed
// from the test binary with OURO_STORE_HELPER set and never returns normally.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("OURO_STORE_HELPER")
	if mode == "" {
		return
	}
	dir := os.Getenv("OURO_STORE_DIR")
	s, err := Open(dir, Options{Command: "ouro run", ReadOnly: mode == "pending"})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	switch mode {
	case "pending":
		// Record runs the same as the base run until killed.
		base := os.Getenv("OURO_STORE_BASE")
		for {
			now := time.Now()
			id := NewRunID(now)
			if err := s.PutRunSameAs(&RunRecord{ID: id, Started: now, Finished: now, Status: "ok"}, base); err != nil {
				fmt.Println("error:", err)
				os.Exit(2)
			}
			fmt.Println("put", id)
		}
	case "hold":
		fmt.Println("locked")
		select {}
	case "stages":
		// Store stage entries with fresh blobs from 8 goroutines until
		// killed, saying which PutStage calls returned.
		from, _ := strconv.Atoi(os.Getenv("OURO_STORE_FROM"))
		var next atomic.Int64
		next.Store(int64(from))
		var mu sync.Mutex
		fmt.Println("storing")
		for g := 0; g < 8; g++ {
			go func() {
				for {
					i := int(next.Add(1))
					d, err := s.PutBytes(stageContent(i))
					if err == nil {
						err = s.PutStage(stageFor(i, d))
					}
					mu.Lock()
					if err != nil {
						fmt.Println("error:", err)
						os.Exit(2)
					}
					fmt.Println("stored", i)
					mu.Unlock()
				}
			}()
		}
		select {}
	case "gc":
		fmt.Println("collecting")
		if _, err := s.GC(1); err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		fmt.Println("collected")
		s.Close()
		os.Exit(0)
	case "write":
		m := s.Memo()
		const durable = 5000
		for i := 0; i < durable; i++ {
			m.Put([]byte(fmt.Sprint("req-", i)), []byte(fmt.Sprint("resp-", i)))
		}
		// The blob's name is made durable by the next index write: the
		// flush.
		d, err := s.PutBytes([]byte("committed blob"))
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		if err := m.Flush(); err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		fmt.Println("flushed", durable, d)
		// Keep writing memo entries and large blobs until killed.
		chunk := make([]byte, 1<<16)
		for i := durable; ; i++ {
			m.Put([]byte(fmt.Sprint("req-", i)), []byte(fmt.Sprint("resp-", i)))
			if i%50 == 0 {
				w, _ := s.Create()
				for j := 0; j < 64; j++ {
					chunk[0], chunk[1] = byte(i), byte(j)
					w.Write(chunk)
				}
				w.Commit()
			}
		}
	}
	os.Exit(3)
}

func startHelper(t *testing.T, mode, dir string, env ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(append(os.Environ(), "OURO_STORE_HELPER="+mode, "OURO_STORE_DIR="+dir), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewReader(out)
}

func kill9(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
}

func TestLockHeldBySubprocessAndRecovered(t *testing.T) {
	dir := t.TempDir()
	cmd, out := startHelper(t, "hold", dir)
	line, err := out.ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("child said %q, %v", line, err)
	}
	_, err = Open(dir, Options{})
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Open while child holds the store: %v", err)
	}
	if le.PID != cmd.Process.Pid || le.Command != "ouro run" {
		t.Fatalf("LockedError = %+v", le)
	}
	if want := fmt.Sprintf("is in use by pid %d (ouro run, started ", cmd.Process.Pid); !strings.Contains(err.Error(), want) {
		t.Fatalf("message %q lacks %q", err, want)
	}
	kill9(t, cmd)
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after the holder was killed: %v", err)
	}
	s.Close()
}

func TestKill9KeepsFlushedWork(t *testing.T) {
	dir := t.TempDir()
	for round := 0; round < 2; round++ {
		before := countBlobs(dir)
		cmd, out := startHelper(t, "write", dir)
		line, err := out.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "flushed ") {
			t.Fatalf("child said %q, %v", line, err)
		}
		f := strings.Fields(line)
		n, _ := strconv.Atoi(f[1])
		committed := Digest(f[2])
		// Let the child write some more, mid-flight, then kill it.
		for countBlobs(dir) < before+3 {
			time.Sleep(5 * time.Millisecond)
		}
		kill9(t, cmd)

		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("reopen after kill -9: %v", err)
		}
		m := s.Memo()
		for i := 0; i < n; i++ {
			v, ok, err := m.Get([]byte(fmt.Sprint("req-", i)))
			if err != nil || !ok || string(v) != fmt.Sprint("resp-", i) {
				t.Fatalf("round %d: flushed memo entry %d lost: %q %v %v", round, i, v, ok, err)
			}
		}
		if ok, _ := s.HasBlob(committed); !ok {
			t.Fatalf("committed blob %s lost", committed)
		}
		// Every blob present has the content its name says.
		blobs := 0
		err = s.blobs.Walk(func(d Digest, _ int64) error {
			blobs++
			r, err := s.OpenBlob(d)
			if err != nil {
				return err
			}
			defer r.Close()
			h := sha256.New()
			io.Copy(h, r)
			if got := hex.EncodeToString(h.Sum(nil)); got != d.Hex() {
				return fmt.Errorf("blob %s has content hashing to %s", d, got)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
			t.Fatalf("tmp not cleaned at open: %d files", len(ents))
		}
		if dmg, err := s.Verify(); err != nil || len(dmg) != 0 {
			t.Fatalf("Verify after kill: %v %v", dmg, err)
		}
		s.Close()
		t.Logf("round %d: %d memo entries checked, %d blobs intact", round, n, blobs)
	}
}

func countBlobs(dir string) int {
	n := 0
	filepath.WalkDir(filepath.Join(dir, "blobs"), func(_ string, de os.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// TestKill9DuringGC kills `cache gc` at several points of a collection of
// a thousand entries and blobs — while it drops keys, and after it has
// removed the first blob and half of them — and checks that afterwards the
// store verifies clean, everything the kept run uses is there with the same
// bytes, and a second GC finishes the job.
func TestKill9DuringGC(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocesses")
	}
	const old, kept = 1000, 50
	template := t.TempDir()
	s, err := Open(template, Options{})
	if err != nil {
		t.Fatal(err)
	}
	content := func(i int) []byte { return []byte(fmt.Sprintf("stage %d result %s", i, strings.Repeat("x", i%97))) }
	keep := map[string]Digest{}
	for i := 0; i < old+kept; i++ {
		d, err := s.PutBytes(content(i))
		if err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("sha256:%064x", i)
		if err := s.PutStage(&StageEntry{Key: key, Address: fmt.Sprintf("stage.s%d", i), Operator: "map", Version: 1,
			Result: []byte(fmt.Sprintf(`{"d":%q}`, d)), Blobs: []Digest{d}, Created: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
		if i >= old {
			keep[key] = d
		}
	}
	var stages []StageRun
	for key := range keep {
		stages = append(stages, StageRun{Name: "s", Round: -1, Status: "ran", Key: key})
	}
	later := time.Now().Add(time.Hour).UTC()
	if err := s.PutRun(&RunRecord{ID: NewRunID(later), Started: later, Status: "ok", Stages: stages}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	before := countBlobs(template)

	// removed is how many blobs the GC must have removed before the kill
	// (0: kill as soon as it starts, while it deletes keys).
	for _, removed := range []int{0, 1, old / 2} {
		t.Run(fmt.Sprint("after ", removed, " blobs"), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			if out, err := exec.Command("cp", "-a", template, dir).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v %s", err, out)
			}
			cmd, out := startHelper(t, "gc", dir)
			if line, err := out.ReadString('\n'); err != nil || line != "collecting\n" {
				t.Fatalf("child said %q, %v", line, err)
			}
			for removed > 0 && countBlobs(dir) > before-removed {
				time.Sleep(time.Millisecond)
			}
			kill9(t, cmd)
			mid := countBlobs(dir)

			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatalf("reopen after kill -9: %v", err)
			}
			defer s.Close()
			if dmg, err := s.Verify(); err != nil || len(dmg) != 0 {
				t.Fatalf("Verify after a kill during GC: %v %v", dmg, err)
			}
			check := func() {
				for key, d := range keep {
					if _, ok, err := s.StageResult(key); err != nil || !ok {
						t.Fatalf("kept stage %s lost: %v", key, err)
					}
					r, err := s.OpenBlob(d)
					if err != nil {
						t.Fatalf("kept blob %s: %v", d, err)
					}
					b, _ := io.ReadAll(r)
					r.Close()
					i, _ := strconv.ParseInt(key[len("sha256:"):], 16, 64)
					if string(b) != string(content(int(i))) {
						t.Fatalf("kept blob %s changed", d)
					}
				}
			}
			check()
			if _, err := s.GC(1); err != nil {
				t.Fatalf("GC after the kill: %v", err)
			}
			if dmg, err := s.Verify(); err != nil || len(dmg) != 0 {
				t.Fatalf("Verify after the second GC: %v %v", dmg, err)
			}
			check()
			if n := countBlobs(dir); n != kept {
				t.Fatalf("%d blobs after the second GC, want the %d kept", n, kept)
			}
			t.Logf("%d blobs before, %d at the kill, %d after the second GC", before, mid, kept)
		})
	}
}

// TestOpenAfterEmptyLogs: a kill -9 just after Badger created a memtable
// or value-log file leaves it 0 bytes long, and Badger alone then refuses
// to open the directory (dgraph-io/badger#2207; seen in TestKill9DuringGC).
// The store opens it, read-only too, with what it held.
func TestOpenAfterEmptyLogs(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutRun(&RunRecord{ID: "r1", Started: time.Now(), Status: "ok"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"00099.mem", "000099.vlog"} {
		if err := os.WriteFile(filepath.Join(dir, "index", name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, ro := range []bool{true, false} {
		s, err := Open(dir, Options{ReadOnly: ro})
		if err != nil && !(ro && errors.Is(err, ErrNeedsWrite)) {
			t.Fatalf("Open(read-only %v) after empty log files: %v", ro, err)
		}
		if err != nil {
			continue
		}
		if r, err := s.GetRun("r1"); err != nil || r.ID != "r1" {
			t.Fatalf("GetRun after reopen: %v, %v", r, err)
		}
		s.Close()
	}
}

// TestKill9DuringGroupCommit kills a process storing stage entries with
// fresh blobs from 8 goroutines (so PutStage commits them in groups) at
// random points, and checks after each kill that every PutStage that
// returned is there with its blob intact, and that nothing is half
// stored: every entry's blobs are present and hash to their names.
func TestKill9DuringGroupCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocesses")
	}
	dir := t.TempDir()
	for round := 0; round < 4; round++ {
		from := round * 1_000_000
		cmd, out := startHelper(t, "stages", dir, fmt.Sprint("OURO_STORE_FROM=", from))
		if line, err := out.ReadString('\n'); err != nil || line != "storing\n" {
			t.Fatalf("child said %q, %v", line, err)
		}
		killAt := rand.IntN(300) // returned calls to wait for before the kill
		stored := map[int]bool{}
		readLine := func() bool {
			line, err := out.ReadString('\n')
			if err != nil {
				return false
			}
			var i int
			if _, err := fmt.Sscanf(line, "stored %d", &i); err != nil {
				t.Fatalf("child said %q", line)
			}
			stored[i] = true
			return true
		}
		for len(stored) < killAt && readLine() {
		}
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		kill9(t, cmd)
		for readLine() { // lines written before the kill
		}

		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		for i := range stored {
			want := stageFor(i, DigestOf(stageContent(i)))
			e, ok, err := s.GetStage(want.Key)
			if err != nil || !ok {
				t.Fatalf("round %d: stage %d returned from PutStage but is lost: %v %v", round, i, ok, err)
			}
			if string(e.Result) != string(want.Result) {
				t.Fatalf("round %d: stage %d = %s, want %s", round, i, e.Result, want.Result)
			}
			r, err := s.OpenBlob(want.Blobs[0])
			if err != nil {
				t.Fatalf("round %d: blob of stage %d: %v", round, i, err)
			}
			b, _ := io.ReadAll(r)
			r.Close()
			if string(b) != string(stageContent(i)) {
				t.Fatalf("round %d: blob of stage %d changed", round, i)
			}
		}
		if dmg, err := s.Verify(); err != nil || len(dmg) != 0 {
			t.Fatalf("round %d: Verify after kill -9: %v %v", round, dmg, err)
		}
		st, err := s.Stats()
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		t.Logf("round %d: killed after %d returned calls (aimed at %d); %d stage entries in the store", round, len(stored), killAt, st.Stages.Count)
	}
}
