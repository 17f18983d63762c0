package scaleouttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestQueues: `resources { queue = "gpu" }` sends the training stage to
// the GPU worker and the generate stage to the default queue's worker;
// `ouro plan` shows the queue; the result is the local run's.
func TestQueues(t *testing.T) {
	c := newCluster(t, "file://"+filepath.ToSlash(t.TempDir()))
	c.startWorker("cpu")
	c.startWorker("gpu", "--queue", "gpu")
	spec := filepath.Join("testdata", "queues.loop.hcl")
	plan, err := exec.Command(c.bin, "plan", spec).CombinedOutput()
	if err != nil || !strings.Contains(string(plan), "sft @gpu") {
		t.Errorf("ouro plan does not show the queue (%v):\n%s", err, plan)
	}
	local := runOuro(t, c.bin, nil, "run", spec, "--store", filepath.Join(t.TempDir(), "local"))
	dist := c.run(spec, filepath.Join(t.TempDir(), "dist"))
	sameRun(t, local, dist)
	for addr, want := range map[string]string{"stage.tune": "gpu", "stage.answers": "cpu"} {
		if got := stageByAddress(dist, addr).Worker; got != want {
			t.Errorf("%s ran on %q, want %q", addr, got, want)
		}
	}
}

// TestNoWorkerForQueue: a stage whose queue no worker of this ouro serves
// fails after --schedule-timeout with a message naming the queue, and the
// run warns at its start. A worker of another ouro version polls other
// task queues (the operator versions are part of the keys), so it does
// not count.
func TestNoWorkerForQueue(t *testing.T) {
	c := newCluster(t, "file://"+filepath.ToSlash(t.TempDir()))
	other := filepath.Join(t.TempDir(), "ouro-other")
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.Version=9.9.9-other", "-o", other, "github.com/ouroloop/ouro/cmd/ouro").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	c.startWorkerBin(other, "other-gpu", "--queue", "gpu")
	c.startWorker("cpu")

	spec := filepath.Join("testdata", "queues.loop.hcl")
	args := append([]string{"run", spec, "--store", filepath.Join(t.TempDir(), "st"), "--executor", "temporal", "--schedule-timeout", "3s"}, c.temporalArgs()...)
	cmd := exec.Command(c.bin, args...)
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the run succeeded without a gpu worker of this version:\n%s", out)
	}
	t.Logf("%s", out)
	for _, want := range []string{
		`Warning: no worker polls queue "gpu"`,
		"stage.tune",
		"no worker took the stage within 3s",
		"ouro worker --queue gpu",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
