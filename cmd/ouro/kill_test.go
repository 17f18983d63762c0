package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ouroloop/ouro/runtime/store"
)

// buildOuro compiles the CLI once per test binary.
func buildOuro(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ouro")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func killSpec(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/kill/gen.loop.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gen.loop.hcl"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for i := 0; i < 4000; i++ {
		fmt.Fprintf(&b, "{\"id\":%d,\"text\":\"item %d\"}\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "prompts.jsonl"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

type runOut struct {
	Status string `json:"status"`
	Stages []struct {
		Address string           `json:"address"`
		Status  string           `json:"status"`
		Counts  map[string]int64 `json:"counts"`
	} `json:"stages"`
	Outputs map[string]json.RawMessage `json:"outputs"`
}

func runJSONCmd(t *testing.T, bin, dir string) runOut {
	t.Helper()
	cmd := exec.Command(bin, "run", dir, "--json", "--progress=none")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ouro run: %v\n%s", err, stderr.String())
	}
	var r runOut
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("bad --json output: %v\n%s", err, out)
	}
	return r
}

// TestKillResume kills `ouro run` with SIGKILL at several points, re-runs,
// and checks that the result is byte-identical to an uninterrupted run,
// that no finished stage runs again and that no memoised request is sent
// again.
func TestKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and runs real subprocesses")
	}
	bin := buildOuro(t)

	ref := runJSONCmd(t, bin, killSpec(t))
	if ref.Status != "ok" {
		t.Fatalf("reference run: %s", ref.Status)
	}
	want := string(ref.Outputs["kept"])

	for _, delay := range []time.Duration{150 * time.Millisecond, 600 * time.Millisecond, 1200 * time.Millisecond, 2500 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			dir := killSpec(t)
			cmd := exec.Command(bin, "run", dir, "--progress=none")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(delay)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()

			st, err := store.Open(filepath.Join(dir, ".ouro"), store.Options{})
			if err != nil {
				t.Fatalf("store after kill: %v", err)
			}
			stats, err := st.Stats()
			if err != nil {
				t.Fatal(err)
			}
			memoised := int(stats.Memo.Count)
			damage, err := st.Verify()
			if err != nil || len(damage) > 0 {
				t.Fatalf("store damaged after kill: %v %v", damage, err)
			}
			st.Close()

			got := runJSONCmd(t, bin, dir)
			if got.Status != "ok" {
				t.Fatalf("resumed run: %s", got.Status)
			}
			if string(got.Outputs["kept"]) != want {
				t.Errorf("resumed output %s, want %s", got.Outputs["kept"], want)
			}
			for _, s := range got.Stages {
				if s.Address != "stage.gen" || s.Status != "ran" {
					continue
				}
				if m := s.Counts["requests_memoised"]; int(m) != memoised {
					t.Errorf("resumed generate answered %d requests from the memo, want the %d memoised before the kill", m, memoised)
				}
				if s.Counts["requests_sent"]+s.Counts["requests_memoised"] != 4000 {
					t.Errorf("counts %v do not add up to 4000", s.Counts)
				}
				t.Logf("killed after %s: %d requests memoised, %d sent on resume", delay, s.Counts["requests_memoised"], s.Counts["requests_sent"])
			}
			// A third run does nothing.
			again := runJSONCmd(t, bin, dir)
			for _, s := range again.Stages {
				if s.Status != "cached" {
					t.Errorf("third run: %s %s", s.Address, s.Status)
				}
			}
		})
	}
}

// TestSecondProcessRefused holds the store with one process and checks a
// second `ouro run` fails at once with a clear message.
func TestSecondProcessRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	bin := buildOuro(t)
	dir := killSpec(t)
	st, err := store.Open(filepath.Join(dir, ".ouro"), store.Options{Command: "test holder"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cmd := exec.Command(bin, "run", dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("second process was not refused:\n%s", out)
	}
	if !strings.Contains(string(out), "is in use by pid") {
		t.Errorf("message does not say who holds the store:\n%s", out)
	}
}

// TestKilledRunIsInterrupted kills `ouro run` with SIGKILL after some of
// its stages finished: `ouro runs` and `ouro show` then say the run was
// interrupted and list the stages it finished (the record is kept current
// while the run goes on), and the next run takes them from the cache.
func TestKilledRunIsInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and runs real subprocesses")
	}
	bin := buildOuro(t)
	const n = 40
	dir := chainDir(t, n)
	cmd := startUntilRan(t, bin, dir, 5)
	// Wait for the record to be stored (it is brought up to date every
	// second), then kill.
	time.Sleep(2500 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()

	out, err := exec.Command(bin, "runs", dir, "--json").Output()
	if err != nil {
		t.Fatalf("ouro runs: %v: %s", err, stderrOf(err))
	}
	var runs []struct {
		ID     string `json:"run_id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out, &runs); err != nil {
		t.Fatalf("ouro runs --json: %v\n%s", err, out)
	}
	if len(runs) != 1 || runs[0].Status != "interrupted" {
		t.Fatalf("ouro runs after kill: %s, want one interrupted run", out)
	}
	text, err := exec.Command(bin, "runs", dir).Output()
	if err != nil || !strings.Contains(string(text), "interrupted") {
		t.Errorf("ouro runs (text) does not say interrupted: %v\n%s", err, text)
	}

	out, err = exec.Command(bin, "show", runs[0].ID, "--spec", dir, "--json").Output()
	if err != nil {
		t.Fatalf("ouro show: %v: %s", err, stderrOf(err))
	}
	var rec runOut
	if err := json.Unmarshal(out, &rec); err != nil {
		t.Fatalf("ouro show --json: %v\n%s", err, out)
	}
	ran := 0
	for _, s := range rec.Stages {
		if s.Status == "ran" {
			ran++
		}
	}
	if rec.Status != "interrupted" || ran < 5 || ran >= n {
		t.Fatalf("ouro show after kill: status %s with %d stages ran, want interrupted with 5 to %d\n%s", rec.Status, ran, n-1, out)
	}

	again := runJSONCmd(t, bin, dir)
	cached := 0
	for _, s := range again.Stages {
		if s.Status == "cached" {
			cached++
		}
	}
	if again.Status != "ok" || cached < ran {
		t.Errorf("run after kill: %s with %d stages cached, want ok with at least the %d the killed run finished", again.Status, cached, ran)
	}
	t.Logf("killed run recorded %d of %d stages ran; the next run took %d from the cache", ran, n, cached)
}

// stderrOf is what a failed exec.Cmd.Output wrote on stderr.
func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// chainDir writes a spec of n chained command stages, each (but the
// first) sleeping 0.2 s.
func chainDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	var spec strings.Builder
	spec.WriteString("stage \"command\" \"s0\" {\n  command = [\"sh\", \"-c\", \"echo '{\\\"i\\\":0}'\"]\n  schema  = object({ i = number })\n}\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&spec, "\nstage \"command\" \"s%d\" {\n  input   = stage.s%d\n  command = [\"sh\", \"-c\", \"sleep 0.2; cat\"]\n  schema  = object({ i = number })\n}\n", i, i-1)
	}
	if err := os.WriteFile(filepath.Join(dir, "chain.loop.hcl"), []byte(spec.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startUntilRan starts `ouro run dir` and returns once k stages ran (its
// progress lines say so); the rest of its stderr is drained.
func startUntilRan(t *testing.T, bin, dir string, k int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "run", dir, "--progress=plain")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	buf := make([]byte, 4096)
	var seen strings.Builder
	for strings.Count(seen.String(), " ran in ") < k {
		n, err := stderr.Read(buf)
		if err != nil {
			t.Fatalf("ouro run ended before %d stages ran: %v\n%s", k, err, seen.String())
		}
		seen.Write(buf[:n])
	}
	go io.Copy(io.Discard, stderr)
	return cmd
}

// TestQueriesDuringRun: while `ouro run` holds the store, `ouro runs`,
// `show`, `cache stats` and `cache verify` are answered by the running
// process; commands that write are refused, and under --json the refusal
// is a JSON object on stdout.
func TestQueriesDuringRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and runs real subprocesses")
	}
	bin := buildOuro(t)
	dir := chainDir(t, 30)
	run := startUntilRan(t, bin, dir, 3)
	time.Sleep(1500 * time.Millisecond) // the record is brought up to date every second

	out, err := exec.Command(bin, "runs", dir, "--json").Output()
	if err != nil {
		t.Fatalf("ouro runs during a run: %v: %s", err, stderrOf(err))
	}
	var runs []runOut
	if err := json.Unmarshal(out, &runs); err != nil || len(runs) != 1 {
		t.Fatalf("ouro runs --json during a run: %v\n%s", err, out)
	}
	if runs[0].Status != "running" || len(runs[0].Stages) < 3 {
		t.Fatalf("ouro runs during a run: status %s with %d stages, want running with at least 3", runs[0].Status, len(runs[0].Stages))
	}
	var ids []struct {
		ID string `json:"run_id"`
	}
	json.Unmarshal(out, &ids)
	text, err := exec.Command(bin, "show", ids[0].ID[:12], "--spec", dir).Output()
	if err != nil || !strings.Contains(string(text), "(running)") || !strings.Contains(string(text), "stage.s2") {
		t.Errorf("ouro show during a run: %v %s\n%s", err, stderrOf(err), text)
	}
	if _, err := exec.Command(bin, "show", "nosuchrun", "--spec", dir).Output(); err == nil || !strings.Contains(stderrOf(err), `run "nosuchrun": not found`) {
		t.Errorf("ouro show of a missing run during a run: %v %s", err, stderrOf(err))
	}
	text, err = exec.Command(bin, "cache", "verify", "--spec", dir).Output()
	if err != nil || !strings.Contains(string(text), "All blobs verified.") {
		t.Errorf("ouro cache verify during a run: %v %s\n%s", err, stderrOf(err), text)
	}
	if out, err := exec.Command(bin, "cache", "stats", "--json", "--spec", dir).Output(); err != nil || !strings.Contains(string(out), `"stages"`) {
		t.Errorf("ouro cache stats during a run: %v %s\n%s", err, stderrOf(err), out)
	}

	// What writes is refused; with --json the refusal is JSON on stdout.
	out, err = exec.Command(bin, "pin", ids[0].ID, "--spec", dir).Output()
	if err == nil || len(out) > 0 || !strings.Contains(stderrOf(err), fmt.Sprintf("is in use by pid %d", run.Process.Pid)) {
		t.Errorf("ouro pin during a run: %v, stdout %q, stderr %q; want a refusal naming pid %d", err, out, stderrOf(err), run.Process.Pid)
	}
	for _, args := range [][]string{{"run", dir, "--json"}, {"run", dir, "-json", "--progress=none"}} {
		out, err := exec.Command(bin, args...).Output()
		if err == nil {
			t.Fatalf("ouro %v during a run was not refused", args)
		}
		var refusal struct {
			Error struct {
				Kind   string `json:"kind"`
				Holder struct {
					PID int `json:"pid"`
				} `json:"holder"`
			} `json:"error"`
		}
		if err := json.Unmarshal(out, &refusal); err != nil || refusal.Error.Kind != "store_locked" || refusal.Error.Holder.PID != run.Process.Pid {
			t.Errorf("ouro %v during a run: stdout %q, want a store_locked refusal naming pid %d", args, out, run.Process.Pid)
		}
	}
}

// TestMetricsDuringRun: the record kept while a run goes on carries the
// metrics of the stages finished so far, so `ouro show` during a long run
// shows an evaluation that is done.
func TestMetricsDuringRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and runs real subprocesses")
	}
	bin := buildOuro(t)
	dir := t.TempDir()
	spec := `model "m" {
  provider = "builtin"
  layers   = 1
  dim      = 16
  heads    = 2
}

dataset "d" {
  rows   = [{ q = "a" }, { q = "b" }]
  schema = object({ q = string })
}

stage "evaluate" "e" {
  model      = model.m
  input      = dataset.d
  prompt     = item.q
  max_tokens = 1
  score      = item.q == "a"
  metrics    = { share = fraction(scores) }
}

stage "command" "slow" {
  input   = stage.e.items
  command = ["sh", "-c", "sleep 60; echo '{\"q\":\"x\"}'"]
  schema  = object({ q = string })
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.loop.hcl"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	startUntilRan(t, bin, dir, 3) // model, dataset, the evaluation
	deadline := time.Now().Add(30 * time.Second)
	var out []byte
	for time.Now().Before(deadline) {
		var err error
		out, err = exec.Command(bin, "show", "latest", "--spec", dir, "--json").Output()
		if err == nil {
			var rec struct {
				Status  string                        `json:"status"`
				Metrics map[string]map[string]float64 `json:"metrics"`
			}
			if json.Unmarshal(out, &rec) == nil && rec.Status == "running" && rec.Metrics["stage.e"]["share"] == 0.5 {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no metrics of stage.e in the running record within 30 s; last show:\n%s", out)
}
