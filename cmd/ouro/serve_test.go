package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime/dataset"
	"github.com/ouroloop/ouro/runtime/store"
	"github.com/ouroloop/ouro/stdlib/models/gpt"
	"github.com/ouroloop/ouro/stdlib/serve"
)

// serveFixture is a tiny untrained checkpoint, saved to a file, and
// `ouro serve`'s handler for it on a real loopback listener.
type serveFixture struct {
	ckpt string // .safetensors path
	url  string // base URL, …/v1
}

func newServeFixture(t *testing.T, wrap func(http.Handler) http.Handler) serveFixture {
	t.Helper()
	m, err := gpt.New(gpt.Config{Layers: 1, Dim: 32, Heads: 2, MaxSeq: 64, Positions: "rope"}, 11)
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(t.TempDir(), "tiny.safetensors")
	var b bytes.Buffer
	if err := m.Save(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ckpt, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ms, err := loadServeModels([]string{"tiny=" + ckpt}, "")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serve.New(ms, serve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(h)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return serveFixture{ckpt: ckpt, url: "http://" + ln.Addr().String() + "/v1"}
}

const serveSpecTmpl = `settings {
  seed = 7
}

dataset "prompts" {
  source = "prompts.jsonl"
  schema = object({ id = number, text = string })
}

%s

stage "generate" "gen" {
  model       = model.p
  input       = dataset.prompts
  prompt      = "say ${item.text}:"
  samples     = 3
  temperature = 0.9
  top_p       = 0.95
  top_k       = 20
  max_tokens  = 16
  stop        = ["q"]
  logprobs    = true
}

stage "generate" "chat" {
  model       = model.c
  input       = dataset.prompts
  messages    = [{ role = "system", content = "be brief" }, { role = "user", content = item.text }]
  samples     = 2
  temperature = 1.1
  max_tokens  = 12
  logprobs    = true
}

stage "generate" "greedy" {
  model       = model.p
  input       = dataset.prompts
  prompt      = "${item.text}="
  temperature = 0
  max_tokens  = 10
}

output "gen" {
  value = stage.gen
}

output "chat" {
  value = stage.chat
}

output "greedy" {
  value = stage.greedy
}
`

func builtinModels(ckpt string) string {
	return fmt.Sprintf(`model "p" {
  provider   = "builtin"
  checkpoint = %q
}

model "c" {
  provider   = "builtin"
  checkpoint = %q
}`, ckpt, ckpt)
}

func openaiModels(url, extra string) string {
	return fmt.Sprintf(`model "p" {
  provider = "openai"
  base_url = %q
  name     = "tiny"
  api      = "completions"
  %s
}

model "c" {
  provider = "openai"
  base_url = %q
  name     = "tiny"
  api      = "chat"
  %s
}`, url, extra, url, extra)
}

// writeServeSpec writes serveSpecTmpl with the given model blocks and
// nPrompts prompts into a fresh directory.
func writeServeSpec(t *testing.T, models string, nPrompts int) string {
	t.Helper()
	return writeSpecWithPrompts(t, serveSpecTmpl, models, nPrompts)
}

// writeSpecWithPrompts writes the spec tmpl (its one %s: the model
// blocks) and prompts.jsonl of nPrompts records {id, text} into a fresh
// directory.
func writeSpecWithPrompts(t *testing.T, tmpl, models string, nPrompts int) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.loop.hcl"), []byte(fmt.Sprintf(tmpl, models)), 0o644); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for i := 0; i < nPrompts; i++ {
		fmt.Fprintf(&b, "{\"id\":%d,\"text\":\"item %d\"}\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "prompts.jsonl"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// readOutput reads the dataset of a run output from the spec's store.
func readOutput(t *testing.T, dir string, raw json.RawMessage) []cty.Value {
	t.Helper()
	var v struct {
		D struct {
			Digest string `json:"digest"`
		} `json:"$dataset"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, ".ouro"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, c, err := dataset.OpenBlob(st.Blobs(), store.Digest(v.D.Digest))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func runInProcess(t *testing.T, dir string) map[string]json.RawMessage {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run([]string{"run", dir, "--json", "--progress=none"}, &out, &errb); code != 0 {
		t.Fatalf("ouro run: exit %d\n%s\n%s", code, errb.String(), out.String())
	}
	var r runOut
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("bad --json output: %v\n%s", err, out.String())
	}
	if r.Status != "ok" {
		t.Fatalf("run status %s\n%s", r.Status, out.String())
	}
	return r.Outputs
}

// TestServeMatchesBuiltin is the acceptance test of `ouro serve`: the same
// spec on the openai provider against `ouro serve` and on the builtin
// provider with the same checkpoint and seed gives the same datasets
// (digests and records) — prompts through /v1/completions, messages through
// /v1/chat/completions, several samples, top-p, top-k, stop and logprobs.
func TestServeMatchesBuiltin(t *testing.T) {
	fx := newServeFixture(t, nil)
	want := runInProcess(t, writeServeSpec(t, builtinModels(fx.ckpt), 12))
	odir := writeServeSpec(t, openaiModels(fx.url, ""), 12)
	got := runInProcess(t, odir)
	if len(want) != 3 {
		t.Fatalf("builtin outputs: %v", want)
	}
	for name, w := range want {
		if g := got[name]; !bytes.Equal(g, w) {
			t.Errorf("output %s differs:\nbuiltin %s\nopenai  %s", name, w, g)
		}
	}
	// The records are not trivially equal: samples differ, logprobs are
	// there, and some completions stopped early.
	recs := readOutput(t, odir, got["gen"])
	texts := map[string]bool{}
	stops := 0
	for _, r := range recs {
		texts[r.GetAttr("completion").AsString()] = true
		if r.GetAttr("finish_reason").AsString() == "stop" {
			stops++
		}
		if lp, _ := r.GetAttr("logprob").AsBigFloat().Float64(); lp >= 0 {
			t.Errorf("logprob %v ≥ 0 in %#v", lp, r)
		}
	}
	if len(recs) != 36 || len(texts) < 30 || stops == 0 {
		t.Errorf("gen: %d records, %d distinct completions, %d stopped", len(recs), len(texts), stops)
	}
}

// TestServeAPIKeyNeverLeaks runs specs on the openai provider through the
// real CLI with the API key in the environment, and checks that the key
// reached the server but appears nowhere in the store (every file, raw
// bytes), stdout or stderr — on success and on a failure whose server
// error message echoes the key.
func TestServeAPIKeyNeverLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and runs real subprocesses")
	}
	key := "sk-ouro-test-" + randomHex(t, 20)
	var mu sync.Mutex
	seen := 0
	fx := newServeFixture(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			auth := r.Header.Get("Authorization")
			mu.Lock()
			if auth == "Bearer "+key {
				seen++
			}
			mu.Unlock()
			if strings.Contains(r.URL.Path, "/echo/") { // a server that echoes the credentials in its errors
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(401)
				fmt.Fprintf(w, `{"error":{"message":"bad key %s","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, strings.TrimPrefix(auth, "Bearer "))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	bin := buildOuro(t)
	for _, c := range []struct {
		name, url, keyEnv string
		ok                bool
	}{
		{"ok", fx.url, "OPENAI_API_KEY", true},
		{"ok-custom-env", fx.url, "OURO_SERVE_TEST_KEY", true},
		{"echoed", strings.TrimSuffix(fx.url, "/v1") + "/echo/v1", "OPENAI_API_KEY", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeServeSpec(t, openaiModels(c.url, fmt.Sprintf("api_key_env = %q\n  max_retries = 0", c.keyEnv)), 6)
			cmd := exec.Command(bin, "run", dir, "--json", "--progress=none")
			cmd.Env = append(os.Environ(), c.keyEnv+"="+key)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if (err == nil) != c.ok {
				t.Fatalf("ouro run: %v\n%s\n%s", err, stdout.String(), stderr.String())
			}
			if !c.ok && !strings.Contains(stdout.String()+stderr.String(), "bad key [redacted]") {
				t.Fatalf("the server's error is not reported:\n%s\n%s", stdout.String(), stderr.String())
			}
			for name, b := range map[string][]byte{"stdout": stdout.Bytes(), "stderr": stderr.Bytes()} {
				if bytes.Contains(b, []byte(key)) {
					t.Errorf("the API key is in %s:\n%s", name, b)
				}
			}
			files := 0
			err = filepath.WalkDir(filepath.Join(dir, ".ouro"), func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				files++
				if bytes.Contains(b, []byte(key)) {
					t.Errorf("the API key is in %s", p)
				}
				return nil
			})
			if err != nil || files == 0 {
				t.Fatalf("walking the store: %v (%d files)", err, files)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if seen == 0 {
		t.Fatal("the key never reached the server: the test proves nothing")
	}
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

const serveKillSpec = `settings {
  seed = 5
}

dataset "prompts" {
  source = "prompts.jsonl"
  schema = object({ id = number, text = string })
}

model "m" {
  provider    = "openai"
  base_url    = %q
  name        = "tiny"
  api         = "completions"
  concurrency = 8
  max_retries = 0
}

stage "generate" "gen" {
  model       = model.m
  input       = dataset.prompts
  prompt      = "say ${item.text}:"
  temperature = 1
  max_tokens  = 6
}

output "gen" {
  value = stage.gen
}
`

// promptCounter wraps a handler to count requests per prompt (every
// prompt of the kill spec is unique, so a prompt identifies a request), and
// to hold every request after the stallAt-th until released.
type promptCounter struct {
	h       http.Handler
	mu      sync.Mutex
	counts  map[string]int
	total   int
	stallAt int           // 0: never stall
	stalled chan struct{} // closed when the stallAt-th request arrives
	release chan struct{} // closed to let held requests go
}

func (c *promptCounter) reset(stallAt int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts, c.total, c.stallAt = map[string]int{}, 0, stallAt
	c.stalled, c.release = make(chan struct{}), make(chan struct{})
}

func (c *promptCounter) snapshot() (map[string]int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		m[k] = v
	}
	return m, c.total
}

func (c *promptCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var q struct {
		Prompt string `json:"prompt"`
	}
	_ = json.Unmarshal(body, &q)
	c.mu.Lock()
	c.counts[q.Prompt]++
	c.total++
	hold := c.stallAt > 0 && c.total >= c.stallAt
	if c.stallAt > 0 && c.total == c.stallAt {
		close(c.stalled)
	}
	release := c.release
	c.mu.Unlock()
	if hold {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	c.h.ServeHTTP(w, r)
}

// TestServeKillCountedAtServer kills `ouro run` (a 2,000-request generate
// against ouro serve) with SIGKILL mid-way, re-runs, and checks at the
// server that no request whose completion was memoised is sent again.
func TestServeKillCountedAtServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and runs real subprocesses")
	}
	const total, stallAt = 2000, 900
	pc := &promptCounter{}
	pc.reset(stallAt)
	fx := newServeFixture(t, func(h http.Handler) http.Handler { pc.h = h; return pc })
	bin := buildOuro(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.loop.hcl"), []byte(fmt.Sprintf(serveKillSpec, fx.url)), 0o644); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for i := 0; i < total; i++ {
		fmt.Fprintf(&b, "{\"id\":%d,\"text\":\"item %d\"}\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "prompts.jsonl"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	// First run: once the server has seen stallAt requests it holds the
	// rest, so the run cannot finish; the memo of what was answered is
	// flushed (every 100 ms) while it waits; then kill -9.
	cmd := exec.Command(bin, "run", dir, "--progress=none")
	var out1 bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out1, &out1
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-pc.stalled:
	case err := <-exited:
		t.Fatalf("the run ended before the kill: %v\n%s", err, out1.String())
	}
	time.Sleep(500 * time.Millisecond) // let the memo flush what was answered (not an assertion)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	first, sent1 := pc.snapshot()
	close(pc.release)

	st, err := store.Open(filepath.Join(dir, ".ouro"), store.Options{})
	if err != nil {
		t.Fatalf("store after kill: %v", err)
	}
	stats, err := st.Stats()
	if err != nil {
		t.Fatal(err)
	}
	memoised := int(stats.Memo.Count)
	st.Close()
	if memoised == 0 || memoised >= total {
		t.Fatalf("%d requests memoised before the kill (sent %d): the test proves nothing", memoised, sent1)
	}

	// Re-run, counting afresh.
	pc.reset(0)
	got := runJSONCmd(t, bin, dir)
	if got.Status != "ok" {
		t.Fatalf("re-run: %s", got.Status)
	}
	second, sent2 := pc.snapshot()
	if sent2 > total-memoised {
		t.Errorf("the re-run sent %d requests, more than the %d not memoised", sent2, total-memoised)
	}
	for p, n := range second {
		if n != 1 {
			t.Errorf("re-run sent %q %d times", p, n)
		}
	}
	// Every prompt was answered by one of the runs, and the prompts the
	// re-run did not send were all answered in the first run.
	answered := 0
	for i := 0; i < total; i++ {
		p := fmt.Sprintf("say item %d:", i)
		if second[p] == 0 {
			if first[p] == 0 {
				t.Errorf("%q was never sent", p)
			}
			answered++
		}
	}
	if answered != memoised {
		t.Errorf("the re-run skipped %d prompts, want the %d memoised", answered, memoised)
	}
	for _, s := range got.Stages {
		if s.Address == "stage.gen" && (int(s.Counts["requests_memoised"]) != memoised || int(s.Counts["requests_sent"]) != sent2) {
			t.Errorf("stage counts %v; server counted %d sent, store had %d memoised", s.Counts, sent2, memoised)
		}
	}
	t.Logf("first run: %d requests reached the server, %d memoised; re-run sent %d", sent1, memoised, sent2)
}

// startServe starts the ouro binary as `ouro serve --json --listen
// 127.0.0.1:0 ARGS…` and reads its first line; the process is killed when
// the test ends unless the test waits for it.
func startServe(t *testing.T, args ...string) (*exec.Cmd, *bufio.Scanner, serveEvent, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(buildOuro(t), append([]string{"serve", "--json", "--listen", "127.0.0.1:0"}, args...)...)
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatalf("no line on stdout; stderr:\n%s", stderr.String())
	}
	var ev serveEvent
	if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
		t.Fatalf("first line %q: %v", lines.Text(), err)
	}
	return cmd, lines, ev, stderr
}

// TestServeVerbJSON runs `ouro serve --json --listen 127.0.0.1:0` as a
// user's script would: the first line says where it listens (the port the
// kernel chose) and what it serves, the models endpoint answers there, and
// SIGTERM gives a shutting_down line and exit 0.
func TestServeVerbJSON(t *testing.T) {
	f := newServeFixture(t, nil)
	cmd, lines, ev, stderr := startServe(t, "--model", "tiny="+f.ckpt)
	if ev.Event != "listening" || !strings.HasPrefix(ev.BaseURL, "http://127.0.0.1:") || strings.HasSuffix(ev.Address, ":0") ||
		len(ev.Models) != 1 || ev.Models[0].Name != "tiny" || !strings.HasPrefix(ev.Models[0].Digest, "sha256:") {
		t.Fatalf("first line = %+v", ev)
	}
	resp, err := http.Get(ev.BaseURL + "/models")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"tiny"`) {
		t.Fatalf("GET /models: %d %s", resp.StatusCode, body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !lines.Scan() || lines.Text() != `{"event":"shutting_down"}` {
		t.Errorf("after SIGTERM: %q, want {\"event\":\"shutting_down\"}", lines.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v; stderr:\n%s", err, stderr.String())
	}
}

// TestServeRunModels: `ouro serve --run latest` serves every builtin model
// a run produced, named by address: the model block and the sft stage's
// trained model, each answering as the checkpoint the run recorded.
func TestServeRunModels(t *testing.T) {
	dir := t.TempDir()
	spec := `model "base" {
  provider = "builtin"
  layers   = 1
  dim      = 16
  heads    = 2
}

dataset "train" {
  rows   = [{ prompt = "Q: 1+1\nA:", completion = " 2" }, { prompt = "Q: 2+3\nA:", completion = " 5" }]
  schema = object({ prompt = string, completion = string })
}

stage "sft" "tune" {
  base   = model.base
  data   = dataset.train
  prompt = item.prompt
  target = item.completion
  steps  = 2

  chat_template = "Q: {user}\nA:"
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.loop.hcl"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", dir, "--progress=none", "--json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr.String())
	}
	var rec struct {
		Stages []struct {
			Address string `json:"address"`
			Model   *struct {
				Digest string `json:"digest"`
			} `json:"model"`
		} `json:"stages"`
	}
	stdout.Reset()
	if code := run([]string{"show", "latest", "--json", "--store", filepath.Join(dir, ".ouro")}, &stdout, &stderr); code != 0 {
		t.Fatalf("show: exit %d\n%s", code, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, s := range rec.Stages {
		if s.Model != nil {
			want[s.Address] = s.Model.Digest
		}
	}
	if len(want) != 2 || want["model.base"] == "" || want["stage.tune"] == "" || want["model.base"] == want["stage.tune"] {
		t.Fatalf("models in the run record: %v, want model.base and stage.tune with different digests", want)
	}

	_, _, ev, _ := startServe(t, "--run", "latest", "--store", filepath.Join(dir, ".ouro"))
	got := map[string]string{}
	for _, m := range ev.Models {
		got[m.Name] = m.Digest
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("served %v, want %v", got, want)
	}
	code, v, raw := postJSON(t, ev.BaseURL+"/completions", `{"model":"stage.tune","prompt":"Q: 1+1\nA:","max_tokens":2,"temperature":0}`)
	if code != 200 || v["system_fingerprint"] != want["stage.tune"] {
		t.Errorf("completion from stage.tune: %d %s", code, raw)
	}
	// The stage's chat_template is in its checkpoint: a chat request is
	// the trained prompt form, with no --chat. The base has none.
	text := func(v map[string]any) string {
		ch, _ := v["choices"].([]any)
		if len(ch) == 0 {
			return "<none>"
		}
		c := ch[0].(map[string]any)
		if m, ok := c["message"].(map[string]any); ok {
			return m["content"].(string)
		}
		return c["text"].(string)
	}
	for model, prompt := range map[string]string{"stage.tune": `Q: 1+1\nA:`, "model.base": `user: 1+1\nassistant:`} {
		_, wantV, _ := postJSON(t, ev.BaseURL+"/completions", `{"model":"`+model+`","prompt":"`+prompt+`","max_tokens":4,"temperature":0}`)
		code, gotV, raw := postJSON(t, ev.BaseURL+"/chat/completions", `{"model":"`+model+`","messages":[{"role":"user","content":"1+1"}],"max_tokens":4,"temperature":0}`)
		if code != 200 || text(gotV) != text(wantV) {
			t.Errorf("chat with %s: %d %q, want the completion of %q: %q (%s)", model, code, text(gotV), prompt, text(wantV), raw)
		}
	}
}

func postJSON(t *testing.T, url, body string) (int, map[string]any, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	return resp.StatusCode, v, string(b)
}
