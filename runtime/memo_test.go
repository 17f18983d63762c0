package runtime

import (
	"context"
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
