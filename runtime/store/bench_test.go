package store

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// memoFixture fills a store with n memo entries shaped like model calls
// (a ~300-byte canonical request, a ~400-byte response), then reopens it so
// reads come from disk as they do when a run resumes.
func memoFixture(b *testing.B, n int) (*Store, [][]byte) { return memoFixtureT(b, n) }

func memoFixtureT(b testing.TB, n int) (*Store, [][]byte) {
	b.Helper()
	dir := b.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([][]byte, n)
	resp := make([]byte, 400)
	for i := range resp {
		resp[i] = 'a' + byte(i%26)
	}
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf(`{"provider":"builtin","model":"sha256:%064d","request":{"prompt":"Q: what is %d + %d?\nA:","temperature":0.7,"max_tokens":128,"stop":["\n\n"]},"sample":%d,"seed":42}`, i, i, i*7, i%8))
		if err := s.Memo().Put(keys[i], resp); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, keys
}

// BenchmarkMemoHit replays a fully memoised stage: every Get is a hit.
func BenchmarkMemoHit(b *testing.B) {
	s, keys := memoFixture(b, 100_000)
	m := s.Memo()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok, err := m.Get(keys[i%len(keys)]); !ok || err != nil {
			b.Fatal("miss", err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hits/s")
}

// BenchmarkMemoHitParallel is the same with one goroutine per core, as an
// operator with bounded concurrency does.
func BenchmarkMemoHitParallel(b *testing.B) {
	s, keys := memoFixture(b, 100_000)
	m := s.Memo()
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if _, ok, err := m.Get(keys[int(i)%len(keys)]); !ok || err != nil {
				b.Fatal("miss", err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hits/s")
}

// BenchmarkMemoPut measures queued writes including the background flushes.
func BenchmarkMemoPut(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	m := s.Memo()
	resp := make([]byte, 400)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := m.Put([]byte(fmt.Sprint("request-", i)), resp); err != nil {
			b.Fatal(err)
		}
	}
	if err := m.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}

// BenchmarkPutStage stores stage entries from j goroutines at once, as a
// run with parallelism j does: "fresh-blob" commits a new blob for each
// entry first (the first run of a stage that writes a dataset),
// "entry-only" stores the entry alone.
func BenchmarkPutStage(b *testing.B) {
	for _, mode := range []string{"fresh-blob", "entry-only"} {
		for _, j := range []int{1, 2, 8} {
			b.Run(fmt.Sprintf("%s/j=%d", mode, j), func(b *testing.B) {
				s, err := Open(b.TempDir(), Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				var next atomic.Int64
				var wg sync.WaitGroup
				errs := make(chan error, j)
				b.ResetTimer()
				for g := 0; g < j; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							i := next.Add(1)
							if i > int64(b.N) {
								return
							}
							if err := putBenchStage(s, int(i), mode == "fresh-blob"); err != nil {
								errs <- err
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				close(errs)
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "stages/s")
			})
		}
	}
}

func putBenchStage(s *Store, i int, blob bool) error {
	e := &StageEntry{Key: fmt.Sprintf("sha256:%064x", i), Address: fmt.Sprintf("stage.s%d", i), Operator: "map", Version: 1}
	if blob {
		d, err := s.PutBytes([]byte(fmt.Sprintf("{\"ouro_dataset\":1}\n{\"n\":%d}\n", i)))
		if err != nil {
			return err
		}
		e.Blobs = []Digest{d}
		e.Result = []byte(fmt.Sprintf(`{"dataset":%q}`, d))
	} else {
		e.Result = []byte(fmt.Sprintf(`{"n":%d}`, i))
	}
	return s.PutStage(e)
}
