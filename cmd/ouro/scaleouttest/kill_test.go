package scaleouttest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// countingServer is an OpenAI-compatible completions endpoint that answers
// each prompt with a text derived from it, after a delay, and remembers
// when it answered each prompt.
type countingServer struct {
	*httptest.Server
	delay time.Duration

	mu       sync.Mutex
	answered map[string][]time.Time
	total    int
}

func newCountingServer(t testing.TB, delay time.Duration) *countingServer {
	s := &countingServer{delay: delay, answered: map[string][]time.Time{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *countingServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/completions" {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Prompt string `json:"prompt"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	time.Sleep(s.delay)
	sum := sha256.Sum256([]byte(req.Prompt))
	text := "ans" + hex.EncodeToString(sum[:3])
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"c","object":"text_completion","created":0,"model":"counting","choices":[{"index":0,"text":%q,"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`, text)
	s.mu.Lock()
	s.answered[req.Prompt] = append(s.answered[req.Prompt], time.Now())
	s.total++
	s.mu.Unlock()
}

func (s *countingServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

func (s *countingServer) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answered, s.total = map[string][]time.Time{}, 0
}

// repeats returns how many prompts were answered more than once, and
// those of them first answered before t.
func (s *countingServer) repeats(before time.Time) (repeated int, early []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, times := range s.answered {
		if len(times) > 1 {
			repeated++
			if times[0].Before(before) {
				early = append(early, p)
			}
		}
	}
	return repeated, early
}

const killPrompts = 3000

func twoGenSpec(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/twogen.loop.hcl")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "twogen.loop.hcl"), src, 0o644)
	var b bytes.Buffer
	for i := 0; i < killPrompts; i++ {
		fmt.Fprintf(&b, "{\"id\":%d,\"text\":\"item %d\"}\n", i, i)
	}
	os.WriteFile(filepath.Join(dir, "prompts.jsonl"), b.Bytes(), 0o644)
	return dir
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func stageByAddress(r runOut, addr string) stageOut {
	for _, s := range r.Stages {
		if s.Address == addr {
			return s
		}
	}
	return stageOut{}
}

// background is a command started in the background.
type background struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	exited         chan struct{}
	err            error
}

// running reports whether it still runs, failing the test if it ended.
func (b *background) running(t *testing.T) bool {
	select {
	case <-b.exited:
		t.Fatalf("%s ended early: %v\n%s%s", b.cmd.Args[1], b.err, b.stdout.String(), b.stderr.String())
	default:
	}
	return true
}

func (b *background) wait() error { <-b.exited; return b.err }

// startRun starts `ouro run --executor temporal` in the background.
func (c *cluster) startRun(dir, storeDir string, args ...string) *background {
	full := append([]string{"run", dir, "--store", storeDir, "--executor", "temporal", "--json", "--progress=none"}, c.temporalArgs()...)
	cmd := exec.Command(c.bin, append(full, args...)...)
	cmd.Env = append(os.Environ(), c.env...)
	b := &background{cmd: cmd, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &b.stdout, &b.stderr
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() { b.err = cmd.Wait(); close(b.exited) }()
	c.t.Cleanup(func() { cmd.Process.Kill(); <-b.exited })
	return b
}

// TestKills kills a worker in the middle of a generate stage, and the
// coordinator in the middle of a run, against a server that counts the
// requests it answers.
func TestKills(t *testing.T) {
	bin := needOuro(t)
	srv := newCountingServer(t, 15*time.Millisecond)
	env := []string{"OPENAI_API_KEY=test"}
	spec := twoGenSpec(t)
	vars := []string{"-var", "url=" + srv.URL + "/v1"}
	local := runOuro(t, bin, env, append([]string{"run", spec, "--store", filepath.Join(t.TempDir(), "local")}, vars...)...)
	if local.Status != "ok" || srv.count() != 2*killPrompts {
		t.Fatalf("local reference run: %s, %d requests", local.Status, srv.count())
	}

	t.Run("worker", func(t *testing.T) {
		srv.reset()
		c := newCluster(t, "file://"+filepath.ToSlash(t.TempDir()), env...)
		c.startWorker("w1", "--slots", "1")
		run := c.startRun(spec, filepath.Join(t.TempDir(), "dist"), append(vars, "--heartbeat-timeout", "2s")...)
		waitFor(t, "the first stage to be under way on w1", func() bool { return run.running(t) && srv.count() >= 600 })
		c.startWorker("w2", "--slots", "1")
		c.kill("w1")
		killed := time.Now()
		answeredBeforeKill := srv.count()
		if err := run.wait(); err != nil {
			t.Fatalf("run after the kill: %v\n%s", err, run.stderr.String())
		}
		var dist runOut
		if err := json.Unmarshal(run.stdout.Bytes(), &dist); err != nil {
			t.Fatalf("bad --json: %v\n%s", err, run.stdout.String())
		}
		sameRun(t, local, dist)
		first := stageByAddress(dist, "stage.first")
		if first.Worker != "w2" {
			t.Errorf("stage.first finished on %q, want w2 (w1 was killed)", first.Worker)
		}
		if first.Counts["requests_memoised"] == 0 {
			t.Errorf("the retried stage used none of the killed worker's answers: %v", first.Counts)
		}
		// Every answer older than a few memo flushes (50ms each) before
		// the kill was in a flushed chunk: it is never asked again.
		repeated, early := c.repeatsReport(srv, killed.Add(-500*time.Millisecond))
		if len(early) > 0 {
			t.Errorf("%d prompts answered more than 0.5s before the kill were sent again, e.g. %q", len(early), early[0])
		}
		t.Logf("w1 killed after %d answers; %d requests repeated (those in flight or answered in the last memo flush interval); stage.first counts %v",
			answeredBeforeKill, repeated, first.Counts)
		if strings.Contains(run.stderr.String(), "panic") {
			t.Errorf("stderr: %s", run.stderr.String())
		}
	})

	t.Run("coordinator", func(t *testing.T) {
		srv.reset()
		c := newCluster(t, "file://"+filepath.ToSlash(t.TempDir()), env...)
		c.startWorker("w1", "--slots", "2")
		c.startWorker("w2", "--slots", "2")
		storeDir := filepath.Join(t.TempDir(), "dist")
		run := c.startRun(spec, storeDir, vars...)
		waitFor(t, "the second stage to be under way", func() bool { return run.running(t) && srv.count() >= killPrompts+300 })
		run.cmd.Process.Signal(syscall.SIGKILL)
		run.wait()
		again := c.run(spec, storeDir, vars...)
		sameRun(t, local, again)
		if s := stageByAddress(again, "stage.first"); s.Status != "cached" {
			t.Errorf("stage.first after the coordinator's kill: %s, want cached", s.Status)
		}
		if n := srv.count(); n != 2*killPrompts {
			repeated, _ := srv.repeats(time.Now())
			t.Errorf("the server answered %d requests, want %d: %d repeated", n, 2*killPrompts, repeated)
		}
	})
}

func (c *cluster) repeatsReport(srv *countingServer, before time.Time) (int, []string) {
	return srv.repeats(before)
}
