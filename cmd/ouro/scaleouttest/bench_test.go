package scaleouttest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Benchmarks of distributed runs (bench/scaleout/run.sh runs them and
// docs/performance.md records the numbers). Each iteration is a full run
// on a fresh store; use -benchtime 1x.

var specs int // chain specs written by this process

// chainSpec writes a spec of n command stages, each reading the one
// before: the stages cannot overlap, so a run's time over a local run's is
// the dispatch overhead.
func chainSpec(b testing.TB, n int) string {
	var s strings.Builder
	// A new first value each time: no key is the same as an earlier
	// run's, so Temporal has nothing to give back without running it.
	specs++
	fmt.Fprintf(&s, "stage \"command\" \"s0\" {\n  command = [\"sh\", \"-c\", \"echo '{\\\"i\\\":%d}'\"]\n  schema  = object({ i = number })\n}\n", specs)
	for i := 1; i < n; i++ {
		fmt.Fprintf(&s, "\nstage \"command\" \"s%d\" {\n  input   = stage.s%d\n  command = [\"cat\"]\n  schema  = object({ i = number })\n}\n", i, i-1)
	}
	fmt.Fprintf(&s, "\noutput \"last\" {\n  value = stage.s%d\n}\n", n-1)
	return writeSpec(b, s.String())
}

// sleepSpec writes n independent stages that each sleep d.
func sleepSpec(b testing.TB, n int, d time.Duration) string {
	var s strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&s, "stage \"command\" \"sleep%d\" {\n  command = [\"sh\", \"-c\", \"sleep %g; echo '{\\\"i\\\":%d}'\"]\n  schema  = object({ i = number })\n}\n\n", i, d.Seconds(), i)
	}
	return writeSpec(b, s.String())
}

func writeSpec(b testing.TB, src string) string {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bench.loop.hcl"), []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkDispatch reports the time a distributed run adds per stage
// over a local run of the same 40-stage chain, with each stage a
// standalone activity (the default) and a one-activity workflow.
func BenchmarkDispatch(b *testing.B) {
	const n = 40
	c := newCluster(b, "file://"+filepath.ToSlash(b.TempDir()))
	c.startWorker("w1", "--slots", "4")
	c.startWorker("w2", "--slots", "4")
	for _, mode := range []string{"activity", "workflow"} {
		b.Run(mode, func(b *testing.B) {
			var local, dist time.Duration
			for i := 0; i < b.N; i++ {
				spec := chainSpec(b, n)
				t0 := time.Now()
				runOuro(b, c.bin, nil, "run", spec, "--store", filepath.Join(b.TempDir(), "l"))
				local += time.Since(t0)
				t0 = time.Now()
				if r := c.run(spec, filepath.Join(b.TempDir(), "d"), "--temporal-mode", mode); r.Status != "ok" {
					b.Fatalf("status %s", r.Status)
				}
				dist += time.Since(t0)
			}
			per := float64((dist - local).Milliseconds()) / float64(b.N*n)
			b.ReportMetric(float64(local.Milliseconds())/float64(b.N), "local-ms/run")
			b.ReportMetric(float64(dist.Milliseconds())/float64(b.N), "temporal-ms/run")
			b.ReportMetric(per, "overhead-ms/stage")
		})
	}
}

// BenchmarkSleepStages runs 200 stages of `sleep 0.5` on 2 workers × 4
// slots and reports the wall time over the ideal 200 × 0.5 s / 8 = 12.5 s.
func BenchmarkSleepStages(b *testing.B) {
	const n, slots, workers = 200, 4, 2
	c := newCluster(b, "file://"+filepath.ToSlash(b.TempDir()))
	for w := 0; w < workers; w++ {
		c.startWorker(fmt.Sprintf("w%d", w+1), "--slots", fmt.Sprint(slots))
	}
	ideal := time.Duration(n) * 500 * time.Millisecond / (slots * workers)
	var total time.Duration
	for i := 0; i < b.N; i++ {
		spec := sleepSpec(b, n+i, 500*time.Millisecond)
		t0 := time.Now()
		if r := c.run(spec, filepath.Join(b.TempDir(), "d"), "-j", "16"); r.Status != "ok" {
			b.Fatalf("status %s", r.Status)
		}
		total += time.Since(t0)
	}
	wall := total / time.Duration(b.N)
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(wall.Seconds()/ideal.Seconds(), "x-ideal")
}

// genSpec writes four independent generate stages of n prompts each
// against the OpenAI-compatible server at url.
func genSpec(b testing.TB, n int) string {
	var s strings.Builder
	s.WriteString("variable \"url\" {\n  type = string\n}\n\ndataset \"prompts\" {\n  source = \"prompts.jsonl\"\n  schema = object({ id = number, text = string })\n}\n\n")
	s.WriteString("model \"server\" {\n  provider = \"openai\"\n  base_url = var.url\n  name     = \"counting\"\n  api      = \"completions\"\n}\n")
	for i := 0; i < 4; i++ {
		fmt.Fprintf(&s, "\nstage \"generate\" \"g%d\" {\n  model      = model.server\n  input      = dataset.prompts\n  prompt     = \"%d say ${item.text}:\"\n  max_tokens = 8\n}\n", i, i)
	}
	dir := writeSpec(b, s.String())
	var p strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&p, "{\"id\":%d,\"text\":\"item %d\"}\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "prompts.jsonl"), []byte(p.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkGenerateWorkers: four generate stages of 10,000 requests each
// against an instant loopback server, run locally, then on 1 and on 2
// workers (4 slots each); reports requests per second of the whole run.
func BenchmarkGenerateWorkers(b *testing.B) {
	const n = 10000
	srv := newCountingServer(b, 0)
	env := []string{"OPENAI_API_KEY=test"}
	vars := []string{"-var", "url=" + srv.URL + "/v1"}
	rate := func(b *testing.B, run func(spec, store string)) {
		var total time.Duration
		for i := 0; i < b.N; i++ {
			spec := genSpec(b, n+i) // new requests each time
			t0 := time.Now()
			run(spec, filepath.Join(b.TempDir(), "s"))
			total += time.Since(t0)
		}
		b.ReportMetric(float64(4*n*b.N)/total.Seconds(), "requests/s")
	}
	b.Run("local", func(b *testing.B) {
		rate(b, func(spec, store string) {
			if r := runOuro(b, needOuro(b), env, append([]string{"run", spec, "--store", store}, vars...)...); r.Status != "ok" {
				b.Fatalf("status %s", r.Status)
			}
		})
	})
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			c := newCluster(b, "file://"+filepath.ToSlash(b.TempDir()), env...)
			for w := 0; w < workers; w++ {
				c.startWorker(fmt.Sprintf("w%d", w+1), "--slots", "4")
			}
			rate(b, func(spec, store string) {
				if r := c.run(spec, store, vars...); r.Status != "ok" {
					b.Fatalf("status %s", r.Status)
				}
			})
		})
	}
}
