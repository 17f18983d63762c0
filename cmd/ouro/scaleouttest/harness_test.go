package scaleouttest

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/server/temporaltest"

	"github.com/ouroloop/ouro/cmd/internal/devserver"
)

var (
	ouroBin  string
	buildErr error
	tmpRoot  string
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if testing.Short() {
			return m.Run()
		}
		var err error
		tmpRoot, err = os.MkdirTemp("", "ouro-scaleout-")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(tmpRoot)
		ouroBin = filepath.Join(tmpRoot, "ouro")
		out, err := exec.Command("go", "build", "-o", ouroBin, "github.com/ouroloop/ouro/cmd/ouro").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
		return m.Run()
	}()
	os.Exit(code)
}

func needOuro(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Temporal server and ouro worker subprocesses")
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return ouroBin
}

// cluster is one Temporal server and the workers a test started.
type cluster struct {
	t       testing.TB
	bin     string
	ts      *temporaltest.TestServer
	blobs   string
	env     []string // extra environment of workers and coordinators
	mu      sync.Mutex
	workers map[string]*worker
	logs    map[string]string
}

// worker is a running `ouro worker` subprocess.
type worker struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

func (w *worker) stop() {
	w.cmd.Process.Kill()
	<-w.exited
}

func newCluster(t testing.TB, blobs string, env ...string) *cluster {
	return newClusterWith(t, nil, blobs, env...)
}

// newClusterWith is newCluster with options for the Temporal server.
func newClusterWith(t testing.TB, server []temporaltest.TestServerOption, blobs string, env ...string) *cluster {
	bin := needOuro(t)
	var ts *temporaltest.TestServer
	if tt, ok := t.(*testing.T); ok {
		ts = devserver.New(append(server, temporaltest.WithT(tt))...)
	} else {
		ts = devserver.New(server...)
		t.Cleanup(ts.Stop)
	}
	c := &cluster{t: t, bin: bin, ts: ts, blobs: blobs, env: env, workers: map[string]*worker{}, logs: map[string]string{}}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, w := range c.workers {
			w.stop()
		}
		if t.Failed() {
			for id, path := range c.logs {
				b, _ := os.ReadFile(path)
				t.Logf("worker %s log:\n%s", id, b)
			}
		}
	})
	return c
}

func (c *cluster) temporalArgs() []string {
	return []string{"--temporal", c.ts.GetFrontendHostPort(), "--namespace", c.ts.GetDefaultNamespace(), "--blobs", c.blobs}
}

// startWorker starts `ouro worker` and waits until it is connected.
func (c *cluster) startWorker(id string, args ...string) {
	c.t.Helper()
	c.startWorkerBin(c.bin, id, args...)
}

// startWorkerBin starts a worker from another ouro binary.
func (c *cluster) startWorkerBin(bin, id string, args ...string) {
	c.t.Helper()
	logPath := filepath.Join(c.t.TempDir(), id+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		c.t.Fatal(err)
	}
	full := append([]string{"worker", "--identity", id, "-v"}, c.temporalArgs()...)
	cmd := exec.Command(bin, append(full, args...)...)
	cmd.Env = append(os.Environ(), c.env...)
	var stdout lineWaiter
	stdout.want = "ouro worker " + id
	stdout.ready = make(chan struct{})
	cmd.Stdout = &stdout
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	w := &worker{cmd: cmd, exited: make(chan struct{})}
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(w.exited) }()
	c.mu.Lock()
	c.workers[id] = w
	c.logs[id] = logPath
	c.mu.Unlock()
	select {
	case <-stdout.ready:
	case <-w.exited:
		b, _ := os.ReadFile(logPath)
		c.t.Fatalf("worker %s exited: %v\n%s", id, waitErr, b)
	case <-time.After(60 * time.Second):
		c.t.Fatalf("worker %s did not start", id)
	}
}

// kill sends SIGKILL to a worker.
func (c *cluster) kill(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w, ok := c.workers[id]; ok {
		w.stop()
		delete(c.workers, id)
	}
}

// lineWaiter closes ready once a line containing want was written.
type lineWaiter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	want  string
	ready chan struct{}
	done  bool
}

func (w *lineWaiter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.done && strings.Contains(w.buf.String(), w.want) {
		w.done = true
		close(w.ready)
	}
	return len(p), nil
}

type stageOut struct {
	Address string           `json:"address"`
	Status  string           `json:"status"`
	Key     string           `json:"key"`
	Worker  string           `json:"worker"`
	Counts  map[string]int64 `json:"counts"`
}

type runOut struct {
	Status  string                     `json:"status"`
	Stages  []stageOut                 `json:"stages"`
	Outputs map[string]json.RawMessage `json:"outputs"`
	stderr  string
}

// ouro runs the CLI with --json and decodes its result.
func runOuro(t testing.TB, bin string, env []string, args ...string) runOut {
	t.Helper()
	cmd := exec.Command(bin, append(args, "--json", "--progress=none")...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ouro %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	var r runOut
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("bad --json output: %v\n%s", err, out)
	}
	r.stderr = stderr.String()
	return r
}

// runDistributed runs a spec with --executor temporal on the cluster.
func (c *cluster) run(dir, storeDir string, args ...string) runOut {
	c.t.Helper()
	full := append([]string{"run", dir, "--store", storeDir, "--executor", "temporal"}, c.temporalArgs()...)
	return runOuro(c.t, c.bin, c.env, append(full, args...)...)
}

// keys maps each stage address to its cache key.
func keys(r runOut) map[string]string {
	m := map[string]string{}
	for _, s := range r.Stages {
		m[s.Address] = s.Key
	}
	return m
}

// sameRun fails unless two runs have the same stages, keys and outputs.
func sameRun(t *testing.T, local, dist runOut) {
	t.Helper()
	if local.Status != "ok" || dist.Status != "ok" {
		t.Fatalf("status: local %s, distributed %s", local.Status, dist.Status)
	}
	lk, dk := keys(local), keys(dist)
	if len(lk) != len(dk) {
		t.Errorf("local run has %d stages, distributed %d", len(lk), len(dk))
	}
	for addr, k := range lk {
		if dk[addr] != k {
			t.Errorf("%s: local key %s, distributed %s", addr, k, dk[addr])
		}
	}
	names := make([]string, 0, len(local.Outputs))
	for n := range local.Outputs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !bytes.Equal(local.Outputs[n], dist.Outputs[n]) {
			t.Errorf("output %s: local %s, distributed %s", n, local.Outputs[n], dist.Outputs[n])
		}
	}
	if len(dist.Outputs) != len(local.Outputs) {
		t.Errorf("outputs: local %d, distributed %d", len(local.Outputs), len(dist.Outputs))
	}
}

// runFails runs a distributed run that must fail and returns its output.
func (c *cluster) runFails(dir, storeDir string, args ...string) string {
	c.t.Helper()
	full := append([]string{"run", dir, "--store", storeDir, "--executor", "temporal", "--progress=none"}, c.temporalArgs()...)
	cmd := exec.Command(c.bin, append(full, args...)...)
	cmd.Env = append(os.Environ(), c.env...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		c.t.Fatalf("ouro %s succeeded, want a failure:\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}
