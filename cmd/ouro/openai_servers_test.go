package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// likeServer is an OpenAI-compatible /v1/completions endpoint that
// behaves as a real server does with what ouro relies on: "vllm" honours
// n (choice c is seeded with seed + c), "ollama" ignores n (one choice);
// shortLP answers one logprob entry per choice while usage counts four
// tokens. Its text is a function of the prompt and the seed, so two servers
// agree exactly when ouro's seeds make them.
type likeServer struct {
	mode    string
	shortLP bool
	mu      sync.Mutex
	bodies  []string
}

func (f *likeServer) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bodies...)
}

func (f *likeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, string(body))
	f.mu.Unlock()
	var req struct {
		Prompt string `json:"prompt"`
		N      *int   `json:"n"`
		Seed   int64  `json:"seed"`
	}
	json.Unmarshal(body, &req)
	n := 1
	if req.N != nil && f.mode == "vllm" {
		n = *req.N
	}
	var choices []map[string]any
	for c := range n {
		lps := []float64{-0.5, -0.25, -0.25, -1}
		if f.shortLP {
			lps = lps[:1]
		}
		choices = append(choices, map[string]any{"index": c, "finish_reason": "stop",
			"text":     fmt.Sprintf(" %x", uint64(req.Seed)+uint64(c)),
			"logprobs": map[string]any{"token_logprobs": lps}})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"id": "x", "object": "text_completion", "choices": choices,
		"usage": map[string]any{"prompt_tokens": 2, "completion_tokens": 4 * n, "total_tokens": 2 + 4*n}})
}

const likeSpec = `dataset "q" {
  source = "q.jsonl"
  schema = object({ id = number })
}

model "m" {
  provider = "openai"
  base_url = %q
  name     = "m"
  api      = "completions"
  concurrency = 1
}

stage "generate" "gen" {
  model       = model.m
  input       = dataset.q
  prompt      = "Q${item.id}:"
  samples     = 3
  temperature = 0.8
  logprobs    = true
}

output "gen" {
  value = stage.gen
}
`

func writeLikeSpec(t *testing.T, url string, items int) string {
	t.Helper()
	dir := t.TempDir()
	writeLikeData(t, dir, items)
	if err := os.WriteFile(filepath.Join(dir, "main.loop.hcl"), []byte(fmt.Sprintf(likeSpec, url+"/v1")), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeLikeData(t *testing.T, dir string, items int) {
	t.Helper()
	var b bytes.Buffer
	for i := range items {
		fmt.Fprintf(&b, "{\"id\":%d}\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "q.jsonl"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOpenAIServersLikeReal runs one spec against a server that honours n
// and one that ignores it: the same dataset; the ignoring server gets the
// first item's n request and two fan-out requests, then three requests
// without n per item; a re-run sends nothing, and one more record sends
// only its own samples; the run record and `ouro show` say what each
// server did.
func TestOpenAIServersLikeReal(t *testing.T) {
	vllm, ollama := &likeServer{mode: "vllm"}, &likeServer{mode: "ollama"}
	vs, os_ := httptest.NewServer(vllm), httptest.NewServer(ollama)
	defer vs.Close()
	defer os_.Close()
	vdir, odir := writeLikeSpec(t, vs.URL, 4), writeLikeSpec(t, os_.URL, 4)
	want := runInProcess(t, vdir)["gen"]
	got := runInProcess(t, odir)["gen"]
	if !bytes.Equal(got, want) {
		t.Fatalf("the servers' datasets differ:\n n honoured %s\n n ignored  %s", want, got)
	}
	if n := len(vllm.requests()); n != 4 {
		t.Errorf("n-honouring server: %d requests, want 4", n)
	}
	bodies := ollama.requests()
	if len(bodies) != 1+2+3*3 {
		t.Fatalf("n-ignoring server: %d requests, want 12", len(bodies))
	}
	if !strings.Contains(bodies[0], `"n":3`) {
		t.Errorf("first request without n: %s", bodies[0])
	}
	for _, b := range bodies[1:] {
		if strings.Contains(b, `"n":`) {
			t.Errorf("a request after the first sends n: %s", b)
		}
	}
	recs := readOutput(t, odir, got)
	texts := map[string]bool{}
	for _, r := range recs {
		texts[r.GetAttr("completion").AsString()] = true
	}
	if len(recs) != 12 || len(texts) != 12 {
		t.Fatalf("%d records, %d distinct completions", len(recs), len(texts))
	}

	// What the server did, in the record and in show.
	var out, errb bytes.Buffer
	if code := run([]string{"show", "latest", "--spec", odir}, &out, &errb); code != 0 {
		t.Fatalf("show: %d %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "Servers:") || !strings.Contains(out.String(), "n not honoured") || !strings.Contains(out.String(), "12 of 14") {
		t.Errorf("show:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"show", "latest", "--spec", odir, "--json"}, &out, &errb); code != 0 {
		t.Fatalf("show --json: %d %s", code, errb.String())
	}
	var rec struct {
		Stages []struct {
			Address string
			Servers map[string]struct {
				Model           string `json:"model"`
				Requests        int    `json:"requests"`
				FanOut          int    `json:"fan_out"`
				ChoicesAsked    int    `json:"choices_asked"`
				ChoicesReturned int    `json:"choices_returned"`
				NIgnored        bool   `json:"n_ignored"`
			} `json:"servers"`
		} `json:"stages"`
	}
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range rec.Stages {
		for _, st := range s.Servers {
			found = true
			if s.Address != "stage.gen" || st.Requests != 12 || st.FanOut != 11 || st.ChoicesAsked != 14 || st.ChoicesReturned != 12 || !st.NIgnored {
				t.Errorf("%s: %+v", s.Address, st)
			}
		}
	}
	if !found {
		t.Errorf("no servers in show --json: %s", out.String())
	}

	// A re-run sends nothing; a new record sends its own samples only
	// (a new run: one n request, then two fan-out).
	runInProcess(t, odir)
	if n := len(ollama.requests()); n != 12 {
		t.Fatalf("re-run sent %d requests", n-12)
	}
	writeLikeData(t, odir, 5)
	runInProcess(t, odir)
	if n := len(ollama.requests()); n != 12+3 {
		t.Fatalf("one more record: %d requests, want 3", n-12)
	}
}

// TestOpenAIShortLogprobsWarn: a server answering fewer logprob entries
// than completion tokens gets one warning for the stage.
func TestOpenAIShortLogprobsWarn(t *testing.T) {
	srv := httptest.NewServer(&likeServer{mode: "vllm", shortLP: true})
	defer srv.Close()
	dir := writeLikeSpec(t, srv.URL, 3)
	var out, errb bytes.Buffer
	if code := run([]string{"run", dir, "--progress=plain"}, &out, &errb); code != 0 {
		t.Fatalf("run: %d\n%s\n%s", code, out.String(), errb.String())
	}
	all := out.String() + errb.String()
	if c := strings.Count(all, "fewer log-probabilities than completion tokens"); c != 1 {
		t.Fatalf("%d warnings:\n%s", c, all)
	}
}
