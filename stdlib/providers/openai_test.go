package providers

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
)

// fakeServer is an OpenAI-compatible server whose answer is a function of
// the request, and which injects faults on a share of attempts.
type fakeServer struct {
	mu       sync.Mutex
	attempts map[string]int // request body -> attempts so far
	calls    int
	// faults returns how many of a request's first attempts fail (and
	// then how); -1 = always.
	faults   func(key string) int
	key      string // expected API key ("" = any)
	echoKey  bool   // put the key in error messages
	lastAuth string
	// How the server treats what ouro relies on (the zero value is vLLM:
	// n honoured, choice c seeded with seed + c, top_k applied, a
	// logprob per token).
	nMode    string // "" honours n; "ignore": one choice (Ollama); "reject": 400 for n > 1 (llama.cpp)
	dropTopK bool   // top_k silently ignored
	shortLP  int    // logprob entries per choice fewer than usage says (0: as many)
	bodies   []string
}

func newFake(faults func(string) int) *fakeServer {
	return &fakeServer{attempts: map[string]int{}, faults: faults}
}

func (f *fakeServer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeServer) auth() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastAuth
}

func hash64(s string) uint64 {
	h := sha256.Sum256([]byte(s))
	return binary.LittleEndian.Uint64(h[:8])
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := r.URL.Path + string(body)
	f.mu.Lock()
	attempt := f.attempts[key]
	f.attempts[key]++
	f.calls++
	f.lastAuth = r.Header.Get("Authorization")
	f.bodies = append(f.bodies, string(body))
	f.mu.Unlock()
	if f.key != "" && r.Header.Get("Authorization") != "Bearer "+f.key {
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":{"message":"bad key","type":"auth"}}`)
		return
	}
	if n := f.faults(key); n < 0 || attempt < n {
		msg := "injected"
		if f.echoKey {
			msg = "your key " + f.key + " is over quota"
		}
		switch (hash64(key) + uint64(attempt)) % 5 {
		case 0:
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(429)
			fmt.Fprintf(w, `{"error":{"message":%q,"type":"rate_limit"}}`, msg)
		case 1:
			w.WriteHeader(500)
			fmt.Fprintf(w, `{"error":{"message":%q,"type":"server"}}`, msg)
		case 2:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"id":"x","choices":[{"index":0,"message":{"content":"trunc`)
		case 3:
			hj, ok := w.(http.Hijacker)
			if !ok {
				panic("no hijacker")
			}
			c, _, _ := hj.Hijack()
			c.Close()
		case 4:
			<-r.Context().Done() // hang until the client's per-request timeout
		}
		return
	}
	var req struct {
		Model    string `json:"model"`
		Prompt   string `json:"prompt"`
		Messages []struct {
			Role, Content string
		} `json:"messages"`
		N    *int  `json:"n"`
		Seed int64 `json:"seed"`
		TopK int   `json:"top_k"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		w.WriteHeader(400)
		return
	}
	n := 1
	if req.N != nil {
		n = *req.N
	}
	switch {
	case f.nMode == "ignore":
		n = 1
	case f.nMode == "reject" && n != 1:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		fmt.Fprint(w, `{"error":{"code":400,"message":"Only one completion choice is allowed","type":"invalid_request_error"}}`)
		return
	}
	if f.dropTopK {
		req.TopK = 0
	}
	prompt := req.Prompt
	for _, m := range req.Messages {
		prompt += m.Role + ":" + m.Content + ";"
	}
	var choices []map[string]any
	const tokens = 4 // per choice, as usage counts them
	for i := 0; i < n; i++ {
		// vLLM's rule: choice i samples with seed + i.
		text := fmt.Sprintf("%s|%s|%d|k%d", req.Model, prompt, uint64(req.Seed)+uint64(i), req.TopK)
		c := map[string]any{"index": i, "finish_reason": "stop"}
		if strings.HasSuffix(r.URL.Path, "/chat/completions") {
			c["message"] = map[string]any{"role": "assistant", "content": text}
			var lps []map[string]any
			for range tokens - f.shortLP {
				lps = append(lps, map[string]any{"token": "a", "logprob": -0.5, "bytes": []int{97}, "top_logprobs": []any{}})
			}
			c["logprobs"] = map[string]any{"content": lps}
		} else {
			c["text"] = text
			var lps []float64
			var toks []string
			for range tokens - f.shortLP {
				lps, toks = append(lps, -0.25), append(toks, "a")
			}
			c["logprobs"] = map[string]any{"token_logprobs": lps, "tokens": toks}
		}
		choices = append(choices, c)
	}
	// Answer in reverse index order: the client must sort.
	for i, j := 0, len(choices)-1; i < j; i, j = i+1, j-1 {
		choices[i], choices[j] = choices[j], choices[i]
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"id": "x", "object": "chat.completion", "created": 1, "model": req.Model, "choices": choices,
		"usage": map[string]any{"prompt_tokens": 3, "completion_tokens": tokens * n, "total_tokens": 3 + tokens*n}})
}

func openaiExec(url string, extra map[string]cty.Value) *runtime.Exec {
	p := map[string]cty.Value{
		"base_url": cty.StringVal(url + "/v1"), "name": cty.StringVal("m"), "revision": cty.StringVal("r1"),
		"api_key_env": cty.StringVal("OURO_TEST_OPENAI_KEY"), "api": cty.StringVal("chat"),
		"concurrency": cty.NumberIntVal(4), "requests_per_minute": cty.NumberIntVal(0), "tokens_per_minute": cty.NumberIntVal(0),
		"timeout": cty.StringVal("500ms"), "max_retries": cty.NumberIntVal(4),
	}
	for k, v := range extra {
		p[k] = v
	}
	return &runtime.Exec{Node: &compiler.Node{Address: "model.remote"}, Params: p}
}

// openFake resolves and opens an openai model against srv, with retries
// that record their waits instead of sleeping.
func openFake(t *testing.T, url string, extra map[string]cty.Value) (*OpenAILM, compiler.ModelRef, *[]time.Duration) {
	t.Helper()
	ref, err := (&OpenAI{}).Resolve(context.Background(), openaiExec(url, extra))
	if err != nil {
		t.Fatal(err)
	}
	lm, err := (&OpenAI{}).Open(context.Background(), ref, &runtime.Env{})
	if err != nil {
		t.Fatal(err)
	}
	l := lm.(*OpenAILM)
	var mu sync.Mutex
	waits := &[]time.Duration{}
	l.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	return l, ref, waits
}

func testRequests(n int) []runtime.GenRequest {
	var reqs []runtime.GenRequest
	for i := 0; i < n; i++ {
		r := runtime.GenRequest{Prompt: fmt.Sprintf("Q%d: what is %d+%d?", i, i, i), N: 1 + i%3, Temperature: 0.7, TopP: 1, MaxTokens: 16, Seed: uint64(1000 + i), Stop: []string{"\n"}, LogProbs: i%2 == 0}
		if i%4 == 1 {
			r.Prompt = ""
			r.Messages = []runtime.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: fmt.Sprintf("hi %d", i)}}
		}
		if i%5 == 0 {
			r.TopK = 5
		}
		reqs = append(reqs, r)
	}
	return reqs
}

func TestOpenAIFaultsGiveSameResult(t *testing.T) {
	for _, api := range []string{"chat", "completions"} {
		t.Run(api, func(t *testing.T) {
			clean := newFake(func(string) int { return 0 })
			cs := httptest.NewServer(clean)
			defer cs.Close()
			faulty := newFake(func(k string) int { return int(hash64(k) % 3) }) // 0–2 failures each
			fs := httptest.NewServer(faulty)
			defer fs.Close()

			reqs := testRequests(40)
			apiV := map[string]cty.Value{"api": cty.StringVal(api)}
			l1, _, _ := openFake(t, cs.URL, apiV)
			want, err := l1.Generate(context.Background(), reqs)
			if err != nil {
				t.Fatal(err)
			}
			l2, _, waits := openFake(t, fs.URL, apiV)
			got, err := l2.Generate(context.Background(), reqs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("faults changed the result:\n got %v\nwant %v", got, want)
			}
			if faulty.count() <= clean.count() {
				t.Fatalf("no faults injected (%d vs %d calls)", faulty.count(), clean.count())
			}
			honoured := false
			for _, d := range *waits {
				if d >= 2*time.Second {
					honoured = true
				}
				if d > 30*time.Second {
					t.Fatalf("backoff %v above the cap", d)
				}
			}
			if !honoured {
				t.Fatalf("Retry-After not honoured: waits %v", *waits)
			}
			// Results look right: sorted choices, seeds passed, top_k, logprobs.
			seed0 := WireSeed(reqs[0], api)
			if w := want[0][0].Text; w != fmt.Sprintf("m|Q0: what is 0+0?|%d|k5", seed0) && w != fmt.Sprintf("m|user:Q0: what is 0+0?;|%d|k5", seed0) {
				t.Fatalf("text %q", w)
			}
			if len(want[2]) != 3 || !strings.HasSuffix(want[2][2].Text, fmt.Sprintf("|%d|k0", WireSeed(reqs[2], api)+2)) {
				t.Fatalf("choices %v", want[2])
			}
			if want[0][0].LogProb == 0 {
				t.Fatal("no logprob")
			}
		})
	}
}

func TestOpenAIBudgetExhausted(t *testing.T) {
	srv := newFake(func(string) int { return -1 })
	s := httptest.NewServer(srv)
	defer s.Close()
	l, _, _ := openFake(t, s.URL, map[string]cty.Value{"max_retries": cty.NumberIntVal(3), "concurrency": cty.NumberIntVal(1)})
	_, err := l.Generate(context.Background(), testRequests(3))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "request 0") || !strings.Contains(msg, "Q0: what is 0+0?") || !strings.Contains(msg, "gave up after 4 attempts") {
		t.Fatalf("unclear error: %v", err)
	}
	if srv.count() > 4+1 {
		t.Fatalf("%d calls: the failure did not stop the batch", srv.count())
	}
}

func TestOpenAIClientErrorNotRetried(t *testing.T) {
	srv := newFake(func(string) int { return 0 })
	srv.key = "expected-key"
	s := httptest.NewServer(srv)
	defer s.Close()
	l, _, _ := openFake(t, s.URL, nil)
	_, err := l.Generate(context.Background(), testRequests(1))
	if err == nil || !strings.Contains(err.Error(), "401") || srv.count() != 1 {
		t.Fatalf("err %v after %d calls", err, srv.count())
	}
}

func TestOpenAIKeyNeverLeaks(t *testing.T) {
	const key = "sk-ouro-test-SECRET-1234567890"
	t.Setenv("OURO_TEST_OPENAI_KEY", key)
	srv := newFake(func(string) int { return -1 })
	srv.key, srv.echoKey = key, true
	s := httptest.NewServer(srv)
	defer s.Close()
	l, ref, _ := openFake(t, s.URL, map[string]cty.Value{"max_retries": cty.NumberIntVal(1)})
	refJSON, _ := json.Marshal(ref)
	if strings.Contains(string(refJSON), key) || strings.Contains(l.Identity(), key) {
		t.Fatalf("key in model value %s", refJSON)
	}
	_, err := l.Generate(context.Background(), testRequests(2))
	if err == nil {
		t.Fatal("no error")
	}
	if srv.auth() != "Bearer "+key {
		t.Fatalf("key not sent (auth %q)", srv.auth())
	}
	if strings.Contains(err.Error(), key) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), key) {
		t.Fatalf("key in error: %v", err)
	}
}

func TestOpenAIIdentity(t *testing.T) {
	a, _ := (&OpenAI{}).Resolve(context.Background(), openaiExec("http://h", nil))
	b, _ := (&OpenAI{}).Resolve(context.Background(), openaiExec("http://h", map[string]cty.Value{"concurrency": cty.NumberIntVal(1), "timeout": cty.StringVal("1s")}))
	c, _ := (&OpenAI{}).Resolve(context.Background(), openaiExec("http://h", map[string]cty.Value{"revision": cty.StringVal("r2")}))
	if a.Digest != b.Digest || a.Digest == c.Digest || !strings.HasPrefix(a.Digest, "openai:") {
		t.Fatalf("identities %s %s %s", a.Digest, b.Digest, c.Digest)
	}
}

func TestBucket(t *testing.T) {
	b := newBucket(60) // 1 per second, 60 at once
	var slept time.Duration
	sleep := func(_ context.Context, d time.Duration) error {
		slept += d
		b.mu.Lock()
		b.last = b.last.Add(-d) // pretend the time passed
		b.mu.Unlock()
		return nil
	}
	for i := 0; i < 60; i++ {
		if err := b.wait(context.Background(), 1, sleep); err != nil {
			t.Fatal(err)
		}
	}
	if slept != 0 {
		t.Fatalf("slept %v within the burst", slept)
	}
	b.wait(context.Background(), 1, sleep)
	if slept < 900*time.Millisecond {
		t.Fatalf("slept %v, want about 1s", slept)
	}
}

// TestOpenAIPartialResultsOnFailure: when one request exhausts its budget,
// Generate still hands back the requests that finished (runtime.LM), so
// the memo keeps them.
func TestOpenAIPartialResultsOnFailure(t *testing.T) {
	srv := newFake(func(key string) int {
		if strings.Contains(key, "Q6:") {
			return -1 // always fails
		}
		return 0
	})
	s := httptest.NewServer(srv)
	defer s.Close()
	l, _, _ := openFake(t, s.URL, map[string]cty.Value{"max_retries": cty.NumberIntVal(2), "concurrency": cty.NumberIntVal(1)})
	reqs := testRequests(8)
	out, err := l.Generate(context.Background(), reqs)
	if err == nil || !strings.Contains(err.Error(), "request 6") {
		t.Fatalf("err = %v", err)
	}
	if len(out) != len(reqs) {
		t.Fatalf("%d results for %d requests", len(out), len(reqs))
	}
	// One worker takes the requests in order: 0–5 finished, 6 failed, and
	// the failure stopped the rest.
	for i, cs := range out {
		if finished := i < 6; finished != (len(cs) == reqs[i].N) || (!finished && cs != nil) {
			t.Fatalf("request %d: %d completions", i, len(cs))
		}
	}
}
