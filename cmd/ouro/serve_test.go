package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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

// writeServeSpec writes a spec with the given model blocks and nPrompts
// prompts into a fresh directory.
func writeServeSpec(t *testing.T, models string, nPrompts int) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.loop.hcl"), []byte(fmt.Sprintf(serveSpecTmpl, models)), 0o644); err != nil {
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
