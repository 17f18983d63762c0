// Command store benchmarks ouro's store: memo replay (the per-request memo of
// a fully memoised stage), memo writes, stage-entry lookups as a no-op re-run
// does them, and blob commits.
//
//	go run ./bench/store [-n 200000] [-stages 1000] [-j 2] [-dir DIR]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ouroloop/ouro/runtime/store"
)

func main() {
	n := flag.Int("n", 200_000, "memo entries (model requests) in the memoised stage")
	stages := flag.Int("stages", 1000, "stage entries to look up")
	j := flag.Int("j", runtime.NumCPU(), "goroutines replaying the memo")
	dir := flag.String("dir", "", "store directory (default: a temp dir, removed after)")
	flag.Parse()
	if *dir == "" {
		d, err := os.MkdirTemp("", "ouro-bench-store-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}

	keys := make([][]byte, *n)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf(`{"provider":"builtin","model":"sha256:%064d","request":{"prompt":"Q: what is %d + %d?\nA:","temperature":0.7,"max_tokens":128},"sample":%d,"seed":42}`, i, i, i*7, i%8))
	}
	resp := make([]byte, 400)
	for i := range resp {
		resp[i] = 'a' + byte(i%26)
	}

	// 1. Memo writes (queued, flushed in the background, synced).
	s := open(*dir)
	m := s.Memo()
	t0 := time.Now()
	for _, k := range keys {
		if err := m.Put(k, resp); err != nil {
			log.Fatal(err)
		}
	}
	if err := m.Flush(); err != nil {
		log.Fatal(err)
	}
	putDur := time.Since(t0)

	// Stage entries, each referencing a small blob.
	t0 = time.Now()
	for i := 0; i < *stages; i++ {
		d, err := s.PutBytes([]byte(fmt.Sprint("artifact ", i)))
		if err != nil {
			log.Fatal(err)
		}
		e := &store.StageEntry{Key: fmt.Sprintf("%064x", i), Address: fmt.Sprint("stage.s", i), Operator: "map", Version: 1,
			Result: json.RawMessage(`{"data":"` + string(d) + `"}`), Blobs: []store.Digest{d}}
		if err := s.PutStage(e); err != nil {
			log.Fatal(err)
		}
	}
	stagePutDur := time.Since(t0)
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}

	// 2. Resume: reopen and replay every request (all hits), single goroutine.
	t0 = time.Now()
	s = open(*dir)
	openDur := time.Since(t0)
	m = s.Memo()
	t0 = time.Now()
	for _, k := range keys {
		if _, ok, err := m.Get(k); !ok || err != nil {
			log.Fatalf("memo miss: %v", err)
		}
	}
	hit1 := time.Since(t0)

	// 3. The same with -j goroutines.
	var next atomic.Int64
	var wg sync.WaitGroup
	t0 = time.Now()
	for g := 0; g < *j; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(keys)) {
					return
				}
				if _, ok, err := m.Get(keys[i]); !ok || err != nil {
					log.Fatalf("memo miss: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	hitJ := time.Since(t0)

	// 4. Stage lookups, as a no-op re-run of the whole DAG does them.
	t0 = time.Now()
	for i := 0; i < *stages; i++ {
		if _, ok, err := s.GetStage(fmt.Sprintf("%064x", i)); !ok || err != nil {
			log.Fatalf("stage miss: %v", err)
		}
	}
	stageGetDur := time.Since(t0)
	st, err := s.Stats()
	if err != nil {
		log.Fatal(err)
	}
	s.Close()

	rate := func(k int, d time.Duration) string { return fmt.Sprintf("%.0f/s", float64(k)/d.Seconds()) }
	fmt.Printf("memo entries          %d (request ~%d B, response %d B)\n", *n, len(keys[0]), len(resp))
	fmt.Printf("memo put+flush        %v  %s\n", putDur.Round(time.Millisecond), rate(*n, putDur))
	fmt.Printf("store open            %v\n", openDur.Round(time.Microsecond))
	fmt.Printf("memo replay, 1 gor.   %v  %s hits\n", hit1.Round(time.Millisecond), rate(*n, hit1))
	fmt.Printf("memo replay, %d gor.   %v  %s hits\n", *j, hitJ.Round(time.Millisecond), rate(*n, hitJ))
	fmt.Printf("stage put (+blob)     %d in %v  %s\n", *stages, stagePutDur.Round(time.Millisecond), rate(*stages, stagePutDur))
	fmt.Printf("stage get             %d in %v  (%v each)\n", *stages, stageGetDur.Round(time.Microsecond), (stageGetDur / time.Duration(*stages)).Round(time.Nanosecond))
	fmt.Printf("index on disk         lsm %d B, vlog %d B; memo %d entries %d B\n", st.IndexLSM, st.IndexVLog, st.Memo.Count, st.Memo.Bytes)
}

func open(dir string) *store.Store {
	s, err := store.Open(dir, store.Options{Command: "bench/store"})
	if err != nil {
		log.Fatal(err)
	}
	return s
}
