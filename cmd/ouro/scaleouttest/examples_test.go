package scaleouttest

import (
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/server/temporaltest"

	"github.com/ouroloop/ouro/cmd/internal/devserver"
)

// smallExamples are examples run both ways, with small variables.
var smallExamples = []struct {
	dir  string
	vars []string
}{
	{"star", []string{"-var", "rounds=1", "-var", "base_steps=30", "-var", "tune_steps=30", "-var", "samples=1"}},
	{"self_consistency", []string{"-var", "pretrain_steps=20", "-var", "doublings=1", "-var", "questions=5"}},
}

// TestExamplesSameAsLocal runs examples locally and on two workers through
// Temporal with file blobs: the same stage keys, byte-identical outputs,
// every operator stage run by a worker; then each store is a cache for
// the other executor.
func TestExamplesSameAsLocal(t *testing.T) {
	c := newCluster(t, "file://"+filepath.ToSlash(t.TempDir()))
	c.startWorker("w1", "--slots", "2")
	c.startWorker("w2", "--slots", "2")
	checkExamples(t, c)
}

// TestWorkflowFallback runs the examples against a server without
// standalone activities: the coordinator notices and runs each stage as a
// workflow, with the same keys and outputs.
func TestWorkflowFallback(t *testing.T) {
	c := newClusterWith(t, []temporaltest.TestServerOption{devserver.WithoutStandaloneActivities()}, "file://"+filepath.ToSlash(t.TempDir()))
	c.startWorker("w1", "--slots", "2")
	c.startWorker("w2", "--slots", "2")
	checkExamples(t, c)
	// Told to use activities, it refuses with the server's reason.
	out := c.runFails(filepath.Join("..", "..", "..", "examples", "star"), filepath.Join(t.TempDir(), "st"), append(smallExamples[0].vars, "--temporal-mode", "activity")...)
	if !strings.Contains(out, "Standalone activity is disabled") {
		t.Errorf("--temporal-mode activity on a server without them:\n%s", out)
	}
}

func checkExamples(t *testing.T, c *cluster) {
	for _, ex := range smallExamples {
		t.Run(ex.dir, func(t *testing.T) {
			dir := filepath.Join("..", "..", "..", "examples", ex.dir)
			localStore, distStore := filepath.Join(t.TempDir(), "local"), filepath.Join(t.TempDir(), "dist")
			local := runOuro(t, c.bin, nil, append([]string{"run", dir, "--store", localStore}, ex.vars...)...)
			dist := c.run(dir, distStore, ex.vars...)
			sameRun(t, local, dist)
			workers := map[string]int{}
			for _, s := range dist.Stages {
				if s.Status != "ran" && s.Status != "skipped" {
					t.Errorf("distributed %s: %s", s.Address, s.Status)
				}
				if s.Worker != "" {
					workers[s.Worker]++
				}
			}
			for w := range workers {
				if w != "w1" && w != "w2" {
					t.Errorf("stage run by %q, not a test worker", w)
				}
			}
			if len(workers) == 0 {
				t.Error("no stage of the distributed run names a worker")
			}
			t.Logf("stages per worker: %v", workers)

			// A store filled locally is a cache for a distributed run, and the other way round.
			for name, r := range map[string]runOut{
				"distributed over the local store": c.run(dir, localStore, ex.vars...),
				"local over the distributed store": runOuro(t, c.bin, nil, append([]string{"run", dir, "--store", distStore}, ex.vars...)...),
			} {
				for _, s := range r.Stages {
					if s.Status != "cached" && s.Status != "skipped" {
						t.Errorf("%s: %s %s, want cached", name, s.Address, s.Status)
					}
				}
				sameRun(t, local, r)
			}
		})
	}
}
