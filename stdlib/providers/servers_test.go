package providers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime"
)

// sampleRequests are n requests of three samples each, with logprobs.
func sampleRequests(n int) []runtime.GenRequest {
	var reqs []runtime.GenRequest
	for i := range n {
		reqs = append(reqs, runtime.GenRequest{Prompt: fmt.Sprintf("Q%d: %d+%d?", i, i, i), N: 3, Temperature: 0.7, TopP: 1, MaxTokens: 8, Seed: 42, LogProbs: true})
	}
	return reqs
}

// collect runs GenerateSamples for every sample and adds up the reports.
func collect(t *testing.T, l *OpenAILM, reqs []runtime.GenRequest) ([][]runtime.Completion, runtime.ServerStats) {
	t.Helper()
	return collectFrom(t, l, reqs, 0)
}

// collectFrom runs GenerateSamples for samples from, from+1, … of each
// request, as a resumed run asks for what the memo lacks.
func collectFrom(t *testing.T, l *OpenAILM, reqs []runtime.GenRequest, from int) ([][]runtime.Completion, runtime.ServerStats) {
	t.Helper()
	out := make([][]runtime.Completion, len(reqs))
	want := make([][]int, len(reqs))
	for j, r := range reqs {
		out[j] = make([]runtime.Completion, r.N)
		for i := from; i < r.N; i++ {
			want[j] = append(want[j], i)
		}
	}
	var mu sync.Mutex
	var st runtime.ServerStats
	err := l.GenerateSamples(context.Background(), reqs, want, func(j, i int, c runtime.Completion) {
		mu.Lock()
		out[j][i] = c
		mu.Unlock()
	}, func(d runtime.ServerStats) {
		mu.Lock()
		st.Add(d)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, st
}

// TestOpenAIServersAgree: a server that honours n (vLLM: choice c seeded
// with seed + c), one that ignores it (Ollama: one choice) and one that
// refuses it (llama.cpp: 400) give the same samples, because sample i
// always has the wire seed WireSeed + i. The ignoring server gets the first
// request with n and the missing samples as separate requests, and every
// later request without n; nothing is retried.
func TestOpenAIServersAgree(t *testing.T) {
	for _, api := range []string{"chat", "completions"} {
		t.Run(api, func(t *testing.T) {
			reqs := sampleRequests(6)
			var want [][]runtime.Completion
			for _, c := range []struct {
				mode     string
				requests int
			}{
				{"", 6},                    // one request per item
				{"ignore", 1 + 2 + 5*3},    // item 0: n=3 and two fan-out; then 3 each
				{"reject", 1 + 1 + 2 + 15}, // the refused n=3, sample 0 alone, two more; then 3 each
			} {
				srv := newFake(func(string) int { return 0 })
				srv.nMode = c.mode
				s := httptest.NewServer(srv)
				defer s.Close()
				l, _, waits := openFake(t, s.URL, map[string]cty.Value{"api": cty.StringVal(api), "concurrency": cty.NumberIntVal(1)})
				got, st := collect(t, l, reqs)
				if want == nil {
					want = got
				} else if !reflect.DeepEqual(got, want) {
					t.Fatalf("server %q: samples differ from vLLM's:\n got %v\nwant %v", c.mode, got, want)
				}
				if srv.count() != c.requests || st.Requests != int64(c.requests-btoi(c.mode == "reject")) {
					t.Errorf("server %q: %d requests (reported %d), want %d", c.mode, srv.count(), st.Requests, c.requests)
				}
				if len(*waits) != 0 || st.Retries != 0 {
					t.Errorf("server %q: retried (%v, %d)", c.mode, *waits, st.Retries)
				}
				if st.NIgnored != (c.mode != "") {
					t.Errorf("server %q: n_ignored %v", c.mode, st.NIgnored)
				}
				if c.mode == "ignore" {
					if st.FanOut != 17 || st.ChoicesAsked != 3+17 || st.ChoicesReturned != 18 {
						t.Errorf("stats %+v", st)
					}
					for _, b := range srv.bodies[3:] {
						if strings.Contains(b, `"n":`) {
							t.Fatalf("a later request still sends n: %s", b)
						}
					}
				}
			}
			// The samples differ from each other: seeds per item and sample.
			seen := map[string]bool{}
			for _, cs := range want {
				for _, c := range cs {
					seen[c.Text] = true
				}
			}
			if len(seen) != 18 {
				t.Fatalf("%d distinct samples of 18", len(seen))
			}
		})
	}
}

// TestOpenAIResumedSamples: a run resumed with sample 0 of every item
// memoised asks each server for samples 1 and 2 only and gets the samples
// an uninterrupted run got. Before anything is learnt about n the first
// request still asks from sample 0 (so `ouro serve`, which honours n,
// answers as the builtin provider would); a server that ignores or refuses
// n costs that one request, and every later one asks for a missing sample.
func TestOpenAIResumedSamples(t *testing.T) {
	reqs := sampleRequests(6)
	for _, c := range []struct {
		mode     string
		requests int
	}{
		{"", 6},                 // n=3 from sample 0 per item
		{"ignore", 1 + 2 + 5*2}, // item 0: n=3 (sample 0 again), samples 1 and 2; then 2 each
		{"reject", 1 + 2 + 5*2}, // item 0: the refused n=3, samples 1 and 2; then 2 each
	} {
		t.Run(c.mode, func(t *testing.T) {
			full := newFake(func(string) int { return 0 })
			full.nMode = c.mode
			s := httptest.NewServer(full)
			defer s.Close()
			l, _, _ := openFake(t, s.URL, map[string]cty.Value{"concurrency": cty.NumberIntVal(1)})
			want, _ := collect(t, l, reqs)

			resumed := newFake(func(string) int { return 0 })
			resumed.nMode = c.mode
			s2 := httptest.NewServer(resumed)
			defer s2.Close()
			l2, _, waits := openFake(t, s2.URL, map[string]cty.Value{"concurrency": cty.NumberIntVal(1)})
			got, st := collectFrom(t, l2, reqs, 1)
			for j := range reqs {
				if got[j][0] != (runtime.Completion{}) {
					t.Fatalf("item %d: sample 0 reported though not wanted", j)
				}
				if !reflect.DeepEqual(got[j][1:], want[j][1:]) {
					t.Fatalf("item %d: resumed samples %v, want %v", j, got[j][1:], want[j][1:])
				}
			}
			if resumed.count() != c.requests {
				t.Errorf("%d requests, want %d", resumed.count(), c.requests)
			}
			if len(*waits) != 0 || st.Retries != 0 {
				t.Errorf("retried (%v, %d)", *waits, st.Retries)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestOpenAIReportsIgnoredParameters: logprob entries fewer than
// usage.completion_tokens, and top_k, which no answer can confirm.
func TestOpenAIReportsIgnoredParameters(t *testing.T) {
	srv := newFake(func(string) int { return 0 })
	srv.shortLP, srv.dropTopK = 3, true // 1 entry of 4 tokens
	s := httptest.NewServer(srv)
	defer s.Close()
	l, _, _ := openFake(t, s.URL, nil)
	reqs := sampleRequests(2)
	reqs[1].TopK = 5
	out, st := collect(t, l, reqs)
	if st.CompletionTokens != 24 || st.LogprobTokens != 6 || st.ShortLogprobs != 2 || st.LogprobsMissing != 0 {
		t.Fatalf("stats %+v", st)
	}
	if !reflect.DeepEqual(st.Unverified, []string{"top_k"}) {
		t.Fatalf("unverified %v", st.Unverified)
	}
	if out[0][0].Tokens != 1 {
		t.Fatalf("tokens %d: the logprob covers one entry", out[0][0].Tokens)
	}
}

// TestOpenAIErrorNamesSample: a sample that keeps failing is named by its
// request and sample, after max_retries + 1 attempts.
func TestOpenAIErrorNamesSample(t *testing.T) {
	srv := newFake(func(key string) int {
		if strings.Contains(key, "Q1:") && !strings.Contains(key, `"n":`) {
			return -1
		}
		return 0
	})
	srv.nMode = "ignore"
	s := httptest.NewServer(srv)
	defer s.Close()
	l, _, _ := openFake(t, s.URL, map[string]cty.Value{"concurrency": cty.NumberIntVal(1), "max_retries": cty.NumberIntVal(2)})
	_, err := l.Generate(context.Background(), sampleRequests(3))
	if err == nil || !strings.Contains(err.Error(), `request 1 ("Q1: 1+1?"), sample 0: gave up after 3 attempts`) {
		t.Fatalf("err = %v", err)
	}
}

func TestPromptPrefix(t *testing.T) {
	long := strings.Repeat("é", 79) + "日本語"
	p := promptPrefix(long)
	if !utf8.ValidString(p) || p != strings.Repeat("é", 79)+"日…" {
		t.Fatalf("prefix %q", p)
	}
	if promptPrefix("short") != "short" {
		t.Fatal("short prompt changed")
	}
}

// TestOpenAISendsResponseFormat: a request with a schema goes out with
// response_format json_schema (strict, the fixed name), on both endpoints;
// one without has none; the text comes back as the server sent it.
func TestOpenAISendsResponseFormat(t *testing.T) {
	schema := `{"additionalProperties":false,"properties":{"answer":{"type":"number"}},"required":["answer"],"type":"object"}`
	for _, tc := range []struct{ api, want string }{
		{"chat", `{"model":"m","messages":[{"role":"user","content":"Q"}],"temperature":0,"top_p":1,"max_tokens":20,"seed":%d,"response_format":{"type":"json_schema","json_schema":{"name":"response","schema":` + schema + `,"strict":true}}}`},
		{"completions", `{"model":"m","prompt":"Q","temperature":0,"top_p":1,"max_tokens":20,"seed":%d,"response_format":{"type":"json_schema","json_schema":{"name":"response","schema":` + schema + `,"strict":true}}}`},
	} {
		t.Run(tc.api, func(t *testing.T) {
			var bodies []string
			var mu sync.Mutex
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				bodies = append(bodies, string(b))
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				if tc.api == "chat" {
					fmt.Fprint(w, `{"choices":[{"index":0,"message":{"content":"{\"answer\": 4}"},"finish_reason":"stop"}]}`)
				} else {
					fmt.Fprint(w, `{"choices":[{"index":0,"text":"{\"answer\": 4}","finish_reason":"stop"}]}`)
				}
			}))
			defer srv.Close()
			l, _, _ := openFake(t, srv.URL, map[string]cty.Value{"api": cty.StringVal(tc.api)})
			req := runtime.GenRequest{Prompt: "Q", N: 1, TopP: 1, MaxTokens: 20, Seed: 5, Schema: []byte(schema)}
			got, err := l.Generate(context.Background(), []runtime.GenRequest{req, {Prompt: "Q", N: 1, TopP: 1, MaxTokens: 20, Seed: 5}})
			if err != nil {
				t.Fatal(err)
			}
			if got[0][0].Text != `{"answer": 4}` {
				t.Fatalf("text %q", got[0][0].Text)
			}
			sort.Strings(bodies)
			var with, without string
			for _, b := range bodies {
				if strings.Contains(b, "response_format") {
					with = b
				} else {
					without = b
				}
			}
			if want := fmt.Sprintf(tc.want, int64(WireSeed(req, tc.api))); with != want {
				t.Fatalf("sent\n %s\nwant\n %s", with, want)
			}
			if without == "" {
				t.Fatalf("the request without a schema was sent with response_format: %q", bodies)
			}
		})
	}
}
