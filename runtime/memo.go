package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"sync"
)

// memoLM wraps a model client with the per-request memo: completion i of a
// request is stored under hash(identity, request without n, i), so a stage
// killed halfway resumes without sending a finished request again.
type memoLM struct {
	lm   LM
	memo Memo
}

func (m *memoLM) Identity() string { return m.lm.Identity() }

func requestKey(identity string, req GenRequest, i int) []byte {
	b, _ := json.Marshal(req)
	h := sha256.New()
	h.Write([]byte("gen\x00"))
	h.Write([]byte(identity))
	h.Write([]byte{0})
	h.Write(b)
	var ib [8]byte
	binary.LittleEndian.PutUint64(ib[:], uint64(i))
	h.Write(ib[:])
	return h.Sum(nil)
}

// Generate answers from the memo where every sample of a request is there,
// and sends the rest to the model in one call.
func (m *memoLM) Generate(ctx context.Context, reqs []GenRequest) ([][]Completion, error) {
	out, _, err := m.generate(ctx, reqs)
	return out, err
}

func (m *memoLM) generate(ctx context.Context, reqs []GenRequest) ([][]Completion, int, error) {
	out := make([][]Completion, len(reqs))
	var missIdx []int
	var miss []GenRequest
	id := m.lm.Identity()
	for ri, req := range reqs {
		n := req.N
		if n <= 0 {
			n = 1
		}
		comps := make([]Completion, n)
		all := true
		for i := 0; i < n; i++ {
			b, ok, err := m.memo.Get(requestKey(id, req, i))
			if err != nil {
				return nil, 0, err
			}
			if !ok || json.Unmarshal(b, &comps[i]) != nil {
				all = false
				break
			}
		}
		if all {
			out[ri] = comps
			continue
		}
		missIdx = append(missIdx, ri)
		miss = append(miss, req)
	}
	if len(miss) == 0 {
		return out, 0, nil
	}
	got, err := m.lm.Generate(ctx, miss)
	if err != nil {
		return nil, 0, err
	}
	for j, ri := range missIdx {
		out[ri] = got[j]
		for i, c := range got[j] {
			b, _ := json.Marshal(c)
			if err := m.memo.Put(requestKey(id, reqs[ri], i), b); err != nil {
				return nil, 0, err
			}
		}
	}
	return out, len(miss), nil
}

// countingLM reports, per stage, how many requests were answered from the
// memo and how many were sent to the model.
type countingLM struct {
	*memoLM
	x  *Exec
	mu *sync.Mutex
}

func (c *countingLM) Generate(ctx context.Context, reqs []GenRequest) ([][]Completion, error) {
	out, sent, err := c.memoLM.generate(ctx, reqs)
	if err == nil {
		c.mu.Lock()
		c.x.Count("requests_sent", int64(sent))
		c.x.Count("requests_memoised", int64(len(reqs)-sent))
		c.mu.Unlock()
	}
	return out, err
}

// LogProb passes through to models that can score.
func (m *memoLM) LogProb(ctx context.Context, prompt, continuation string) (float64, error) {
	if s, ok := m.lm.(Scorer); ok {
		return s.LogProb(ctx, prompt, continuation)
	}
	return 0, errNoScorer
}

type constError string

func (e constError) Error() string { return string(e) }

const errNoScorer = constError("this model cannot score continuations")

// Unwrap returns the model client under the memo.
func (m *memoLM) Unwrap() LM { return m.lm }
