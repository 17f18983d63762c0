package runtime

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
)

type mapMemo struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (m *mapMemo) Get(k []byte) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[string(k)]
	return v, ok, nil
}

func (m *mapMemo) Put(k, v []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[string(k)] = v
	return nil
}

// flakyLM answers the prompts not in fail, fails the call if any prompt is
// in fail (returning what it finished), and records what it was asked.
type flakyLM struct {
	fail  map[string]bool
	asked []string
}

func (f *flakyLM) Identity() string { return "flaky" }

func (f *flakyLM) Generate(_ context.Context, reqs []GenRequest) ([][]Completion, error) {
	out := make([][]Completion, len(reqs))
	var err error
	for i, r := range reqs {
		f.asked = append(f.asked, r.Prompt)
		if f.fail[r.Prompt] {
			err = errors.New("server error")
			continue
		}
		for j := range max(r.N, 1) {
			out[i] = append(out[i], Completion{Text: r.Prompt + "!", FinishReason: "stop", Tokens: j})
		}
	}
	return out, err
}

// TestMemoKeepsFinishedRequestsOfAFailedCall: a call that fails halfway
// still memoises the requests it finished; the retry sends only the rest.
func TestMemoKeepsFinishedRequestsOfAFailedCall(t *testing.T) {
	lm := &flakyLM{fail: map[string]bool{"c": true, "e": true}}
	m := &memoLM{lm: lm, memo: &mapMemo{m: map[string][]byte{}}}
	var reqs []GenRequest
	for _, p := range []string{"a", "b", "c", "d", "e"} {
		reqs = append(reqs, GenRequest{Prompt: p, N: 2})
	}
	if _, err := m.Generate(context.Background(), reqs); err == nil {
		t.Fatal("the failing call succeeded")
	}
	lm.fail, lm.asked = nil, nil
	out, err := m.Generate(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	if len(lm.asked) != 2 || lm.asked[0] != "c" || lm.asked[1] != "e" {
		t.Fatalf("the retry sent %q, want only the two failed requests", lm.asked)
	}
	for i, cs := range out {
		if len(cs) != 2 || cs[1].Text != reqs[i].Prompt+"!" {
			t.Fatalf("request %d: %+v", i, cs)
		}
	}
}

// streamingLM answers the first `answer` requests one by one through done,
// then waits for release before finishing the call.
type streamingLM struct {
	answer   int
	answered chan struct{}
	release  chan struct{}
}

func (s *streamingLM) Identity() string { return "streaming" }

func (s *streamingLM) Generate(ctx context.Context, reqs []GenRequest) ([][]Completion, error) {
	return s.GenerateEach(ctx, reqs, nil)
}

func (s *streamingLM) GenerateEach(_ context.Context, reqs []GenRequest, done func(int, []Completion)) ([][]Completion, error) {
	out := make([][]Completion, len(reqs))
	answer := func(i int) {
		out[i] = []Completion{{Text: reqs[i].Prompt + "!", FinishReason: "stop"}}
		if done != nil {
			done(i, out[i])
		}
	}
	for i := 0; i < s.answer; i++ {
		answer(i)
	}
	close(s.answered)
	<-s.release
	for i := s.answer; i < len(reqs); i++ {
		answer(i)
	}
	return out, nil
}

// TestMemoWritesEachAnswerAsItArrives: a model that streams its answers
// (runtime.Streamer) has each one in the memo while the call is still
// running, so a process killed mid-call keeps them.
func TestMemoWritesEachAnswerAsItArrives(t *testing.T) {
	lm := &streamingLM{answer: 3, answered: make(chan struct{}), release: make(chan struct{})}
	memo := &mapMemo{m: map[string][]byte{}}
	m := &memoLM{lm: lm, memo: memo}
	var reqs []GenRequest
	for _, p := range []string{"a", "b", "c", "d", "e"} {
		reqs = append(reqs, GenRequest{Prompt: p, N: 1})
	}
	errc := make(chan error, 1)
	go func() { _, err := m.Generate(context.Background(), reqs); errc <- err }()
	<-lm.answered
	memo.mu.Lock()
	during := len(memo.m)
	memo.mu.Unlock()
	close(lm.release)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if during != 3 {
		t.Errorf("memo entries while the call ran: %d, want the 3 answered", during)
	}
	if len(memo.m) != 5 {
		t.Errorf("memo entries after the call: %d, want 5", len(memo.m))
	}
	// A second call is answered from the memo alone.
	lm2 := &streamingLM{answer: 0, answered: make(chan struct{}), release: make(chan struct{})}
	close(lm2.release)
	m2 := &memoLM{lm: lm2, memo: memo}
	out, sent, err := m2.generate(context.Background(), reqs, nil)
	if err != nil || sent != 0 || out[4][0].Text != "e!" {
		t.Fatalf("re-run: sent %d, %v, %+v", sent, err, out)
	}
}

// TestMemoKeySchema: a request's response schema is part of its memo key,
// and a request without one keys as before schemas existed.
func TestMemoKeySchema(t *testing.T) {
	req := GenRequest{Prompt: "Q", Temperature: 1, TopP: 1, MaxTokens: 8, Seed: 3}
	plain := requestKeys("m", req, 1)[0]
	// The key of this request before GenRequest had Schema (its JSON then).
	old := "gen\x00m\x00" + `{"prompt":"Q","temperature":1,"top_p":1,"top_k":0,"max_tokens":8,"seed":3}` + "\x00\x00\x00\x00\x00\x00\x00\x00"
	if plain != sha256.Sum256([]byte(old)) {
		t.Fatal("a request without a schema keys differently than before")
	}
	a, b := req, req
	a.Schema = []byte(`{"properties":{"x":{"type":"number"}},"type":"object"}`)
	b.Schema = []byte(`{"properties":{"x":{"type":"string"}},"type":"object"}`)
	ka, kb := requestKeys("m", a, 1)[0], requestKeys("m", b, 1)[0]
	if ka == plain || kb == plain || ka == kb {
		t.Fatal("the schema is not part of the memo key")
	}
}

// failLM fails request 0 of every call with a RequestError.
type failLM struct{}

func (failLM) Identity() string { return "fail" }
func (failLM) Generate(_ context.Context, reqs []GenRequest) ([][]Completion, error) {
	return nil, &RequestError{Request: 0, Sample: -1, Prompt: reqs[0].Prompt, Err: errors.New("no")}
}

// TestMemoRenumbersRequestError: a model's failure of the first request it
// was sent names the caller's request, not the position among those the
// memo did not answer.
func TestMemoRenumbersRequestError(t *testing.T) {
	memo := &mapMemo{m: map[string][]byte{}}
	a, b := GenRequest{Prompt: "a", N: 1}, GenRequest{Prompt: "b", N: 1}
	k := requestKeys("fail", a, 1)[0]
	memo.Put(k[:], []byte(`{"text":"x","finish_reason":"stop"}`))
	_, err := (&memoLM{lm: failLM{}, memo: memo}).Generate(context.Background(), []GenRequest{a, b})
	var re *RequestError
	if !errors.As(err, &re) || re.Request != 1 || re.Prompt != "b" {
		t.Fatalf("err = %#v", err)
	}
}

// skippingLM streams every wanted sample but sample 1.
type skippingLM struct{ flakyLM }

func (s *skippingLM) GenerateSamples(_ context.Context, reqs []GenRequest, want [][]int, done func(j, i int, c Completion), _ func(ServerStats)) error {
	for j, lack := range want {
		for _, i := range lack {
			if i != 1 {
				done(j, i, Completion{Text: reqs[j].Prompt + "!", FinishReason: "stop"})
			}
		}
	}
	return nil
}

// TestMemoRefusesAMissingSample: a provider that returns without a wanted
// sample fails the call naming the request and sample, instead of an empty
// completion standing in for it; what it did return is memoised.
func TestMemoRefusesAMissingSample(t *testing.T) {
	memo := &mapMemo{m: map[string][]byte{}}
	m := &memoLM{lm: &skippingLM{}, memo: memo}
	_, err := m.Generate(context.Background(), []GenRequest{{Prompt: "a", N: 1}, {Prompt: "b", N: 3}})
	if err == nil || err.Error() != `request 1 ("b"), sample 1: the provider returned without this sample` {
		t.Fatalf("err = %v", err)
	}
	if len(memo.m) != 3 {
		t.Fatalf("%d memo entries, want 3 (a's sample and b's samples 0 and 2)", len(memo.m))
	}
}
