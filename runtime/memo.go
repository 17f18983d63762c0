package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
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

// InFlight forwards the model's Pipeliner limit (0: not a Pipeliner).
func (m *memoLM) InFlight() int {
	if p, ok := m.lm.(Pipeliner); ok {
		return p.InFlight()
	}
	return 0
}

// requestKeys returns the keys of samples 0 … n-1 of req: the request is
// encoded once and only the sample index differs between them.
func requestKeys(identity string, req GenRequest, n int) [][32]byte {
	b, _ := json.Marshal(req)
	buf := make([]byte, 0, 4+len(identity)+1+len(b)+8)
	buf = append(buf, "gen\x00"...)
	buf = append(buf, identity...)
	buf = append(buf, 0)
	buf = append(buf, b...)
	keys := make([][32]byte, n)
	for i := range keys {
		keys[i] = sha256.Sum256(binary.LittleEndian.AppendUint64(buf, uint64(i)))
	}
	return keys
}

// batchMemo is a Memo that reads and writes many entries at once (the
// store's memo: one read transaction, one lock).
type batchMemo interface {
	GetMany(keys [][]byte) ([][]byte, []bool, error)
	PutMany(keys, values [][]byte) error
}

func (m *memoLM) getMany(keys [][]byte) ([][]byte, []bool, error) {
	if b, ok := m.memo.(batchMemo); ok {
		return b.GetMany(keys)
	}
	vals := make([][]byte, len(keys))
	oks := make([]bool, len(keys))
	for i, k := range keys {
		v, ok, err := m.memo.Get(k)
		if err != nil {
			return nil, nil, err
		}
		vals[i], oks[i] = v, ok
	}
	return vals, oks, nil
}

func (m *memoLM) putMany(keys, values [][]byte) error {
	if b, ok := m.memo.(batchMemo); ok {
		return b.PutMany(keys, values)
	}
	for i, k := range keys {
		if err := m.memo.Put(k, values[i]); err != nil {
			return err
		}
	}
	return nil
}

// Generate answers from the memo where every sample of a request is there,
// and sends the rest to the model in one call.
func (m *memoLM) Generate(ctx context.Context, reqs []GenRequest) ([][]Completion, error) {
	out, _, err := m.generate(ctx, reqs, nil)
	return out, err
}

// generate is Generate that also says how many requests it sent, and
// hands a SampleStreamer's reports of its server to report (may be nil).
func (m *memoLM) generate(ctx context.Context, reqs []GenRequest, report func(ServerStats)) ([][]Completion, int, error) {
	if ss, ok := m.lm.(SampleStreamer); ok {
		return m.generateSamples(ctx, ss, reqs, report)
	}
	out := make([][]Completion, len(reqs))
	id := m.lm.Identity()
	// Every sample's key, request by request, read in one batch.
	reqKeys := make([][][32]byte, len(reqs))
	var keys [][]byte
	for ri, req := range reqs {
		n := req.N
		if n <= 0 {
			n = 1
		}
		reqKeys[ri] = requestKeys(id, req, n)
		for i := range reqKeys[ri] {
			keys = append(keys, reqKeys[ri][i][:])
		}
	}
	vals, oks, err := m.getMany(keys)
	if err != nil {
		return nil, 0, err
	}
	var missIdx []int
	var miss []GenRequest
	at := 0
	for ri, req := range reqs {
		n := len(reqKeys[ri])
		comps := make([]Completion, n)
		all := true
		for i := 0; i < n; i++ {
			if !oks[at+i] || json.Unmarshal(vals[at+i], &comps[i]) != nil {
				all = false
				break
			}
		}
		at += n
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
	var got [][]Completion
	streamed := make([]bool, len(miss))
	if st, ok := m.lm.(Streamer); ok {
		var putErr error
		var mu sync.Mutex
		got, err = st.GenerateEach(ctx, miss, func(j int, cs []Completion) {
			ks := requestKeys(id, reqs[missIdx[j]], len(cs))
			var putKeys, putVals [][]byte
			for i, c := range cs {
				b, _ := json.Marshal(c)
				putKeys = append(putKeys, ks[i][:])
				putVals = append(putVals, b)
			}
			perr := m.putMany(putKeys, putVals)
			mu.Lock()
			if perr != nil && putErr == nil {
				putErr = perr
			}
			streamed[j] = perr == nil
			mu.Unlock()
		})
		if err == nil && putErr != nil {
			return nil, 0, putErr
		}
	} else {
		got, err = m.lm.Generate(ctx, miss)
	}
	if err != nil {
		// A failed request is named by its index in reqs, not in miss.
		var re *RequestError
		if errors.As(err, &re) && re.Request >= 0 && re.Request < len(missIdx) {
			c := *re
			c.Request = missIdx[re.Request]
			err = &c
		}
		// Keep what did finish: a re-run must not send it again.
		if len(got) == len(miss) {
			var putKeys, putVals [][]byte
			for j, ri := range missIdx {
				if len(got[j]) == 0 || streamed[j] {
					continue
				}
				ks := requestKeys(id, reqs[ri], len(got[j]))
				for i, c := range got[j] {
					b, _ := json.Marshal(c)
					putKeys = append(putKeys, ks[i][:])
					putVals = append(putVals, b)
				}
			}
			if perr := m.putMany(putKeys, putVals); perr != nil {
				return nil, 0, errors.Join(err, perr)
			}
		}
		return nil, 0, err
	}
	var putKeys, putVals [][]byte
	for j, ri := range missIdx {
		out[ri] = got[j]
		if streamed[j] {
			continue
		}
		ks := reqKeys[ri]
		if len(got[j]) > len(ks) {
			ks = requestKeys(id, reqs[ri], len(got[j]))
		}
		for i, c := range got[j] {
			b, _ := json.Marshal(c)
			putKeys = append(putKeys, ks[i][:])
			putVals = append(putVals, b)
		}
	}
	if err := m.putMany(putKeys, putVals); err != nil {
		return nil, 0, err
	}
	return out, len(miss), nil
}

// generateSamples is generate for a SampleStreamer: it asks only for the
// samples the memo lacks, and memoises each as it arrives.
func (m *memoLM) generateSamples(ctx context.Context, ss SampleStreamer, reqs []GenRequest, report func(ServerStats)) ([][]Completion, int, error) {
	id := m.lm.Identity()
	out := make([][]Completion, len(reqs))
	reqKeys := make([][][32]byte, len(reqs))
	var keys [][]byte
	for ri, req := range reqs {
		reqKeys[ri] = requestKeys(id, req, max(req.N, 0))
		for i := range reqKeys[ri] {
			keys = append(keys, reqKeys[ri][i][:])
		}
	}
	vals, oks, err := m.getMany(keys)
	if err != nil {
		return nil, 0, err
	}
	var missIdx []int
	var miss []GenRequest
	var want [][]int
	at := 0
	for ri := range reqs {
		n := len(reqKeys[ri])
		comps := make([]Completion, n)
		var lack []int
		for i := 0; i < n; i++ {
			if !oks[at+i] || json.Unmarshal(vals[at+i], &comps[i]) != nil {
				lack = append(lack, i)
			}
		}
		at += n
		out[ri] = comps
		if len(lack) > 0 {
			missIdx = append(missIdx, ri)
			miss = append(miss, reqs[ri])
			want = append(want, lack)
		}
	}
	if len(miss) == 0 {
		return out, 0, nil
	}
	var mu sync.Mutex
	var putErr error
	got := make([][]bool, len(miss))
	for j := range miss {
		got[j] = make([]bool, len(reqKeys[missIdx[j]]))
	}
	err = ss.GenerateSamples(ctx, miss, want, func(j, i int, c Completion) {
		ri := missIdx[j]
		b, _ := json.Marshal(c)
		perr := m.memo.Put(reqKeys[ri][i][:], b)
		mu.Lock()
		out[ri][i] = c
		got[j][i] = true
		if perr != nil && putErr == nil {
			putErr = perr
		}
		mu.Unlock()
	}, report)
	if err != nil {
		var re *RequestError
		if errors.As(err, &re) && re.Request >= 0 && re.Request < len(missIdx) {
			c := *re
			c.Request = missIdx[re.Request]
			err = &c
		}
		return nil, 0, errors.Join(err, putErr)
	}
	if putErr != nil {
		return nil, 0, putErr
	}
	// A provider that returns without a wanted sample is a defect in it;
	// an empty completion must not stand in for the sample.
	for j, lack := range want {
		for _, i := range lack {
			if !got[j][i] {
				return nil, 0, &RequestError{Request: missIdx[j], Sample: i, Last: i, Prompt: shortPrompt(reqs[missIdx[j]].Prompt), Err: errors.New("the provider returned without this sample")}
			}
		}
	}
	return out, len(miss), nil
}

// shortPrompt is the first 80 runes of a prompt, for an error message.
func shortPrompt(p string) string {
	n := 0
	for i := range p {
		if n == 80 {
			return p[:i] + "…"
		}
		n++
	}
	return p
}

// countingLM reports, per stage, how many requests were answered from the
// memo and how many were sent to the model.
type countingLM struct {
	*memoLM
	x  *Exec
	mu *sync.Mutex
}

func (c *countingLM) Generate(ctx context.Context, reqs []GenRequest) ([][]Completion, error) {
	id := c.memoLM.Identity()
	out, sent, err := c.memoLM.generate(ctx, reqs, func(d ServerStats) {
		c.mu.Lock()
		defer c.mu.Unlock()
		before := int64(0)
		if s := c.x.Servers[id]; s != nil {
			before = s.ShortLogprobs
		}
		c.x.AddServer(id, d)
		// Warn once per stage and model: a logprob that covers part of a
		// completion is not the completion's log-probability.
		if s := c.x.Servers[id]; before == 0 && s.ShortLogprobs > 0 {
			c.x.Warn("%s: the server returned fewer log-probabilities than completion tokens (usage.completion_tokens); logprob sums cover part of those completions", s.Model)
		}
	})
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
