package gpt

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// SampleOptions controls Generate.
type SampleOptions struct {
	Temperature float64  // <= 0: greedy (argmax)
	TopP        float64  // nucleus mass in (0,1); 0 or >= 1: off
	TopK        int      // keep the k most likely tokens; 0: off
	MaxTokens   int      // generated tokens at most; 0: up to MaxSeq
	Stop        []string // stop strings; the text is cut before the first match
	Seed        uint64
	// PromptSeeds, when it has a seed per prompt, replaces Seed for each
	// prompt's samples (`ouro serve`, whose requests carry a seed per
	// prompt).
	PromptSeeds []uint64
	LogProbs    bool // fill Completion.TokenLogProbs
	// Constrain, when set, makes a Constraint for each sample
	// (structured output): the sample emits only characters it allows,
	// and ends ("stop") as soon as it is complete.
	Constrain func() Constraint
}

// Constraint restricts what one sample may emit, character by character:
// constrained decoding. At every step the sampler masks the tokens whose
// character the constraint does not allow (and EOS, UNK), then samples
// from what is left as usual, so sampling stays seeded the same way; the
// log-probabilities reported are still the model's unmodified ones.
// Package stdlib/structured's JSON Schema decoder is one.
type Constraint interface {
	// Allowed reports whether r may come next, with left more tokens
	// possible after it.
	Allowed(r rune, left int) bool
	// Push appends r (an allowed character).
	Push(r rune)
	// Complete reports whether the text pushed is finished.
	Complete() bool
	// MinClose is the fewest characters that finish the text.
	MinClose() int
}

// HasChar reports whether r is a character of the model's vocabulary.
func (m *Model) HasChar(r rune) bool {
	_, ok := m.tok.ids[r]
	return ok
}

// seed is the seed of prompt p's samples.
func (o *SampleOptions) seed(p int) uint64 {
	if p < len(o.PromptSeeds) {
		return o.PromptSeeds[p]
	}
	return o.Seed
}

// Completion is one sampled continuation.
type Completion struct {
	Text         string
	FinishReason string // "stop" (EOS or a stop string) or "length"
	Tokens       int    // tokens generated, EOS or the stop string's last token included
	// LogProb is the sum of the log-probabilities, under the model's
	// unmodified distribution (temperature 1, no top-k/top-p), of the
	// generated tokens; TokenLogProbs lists them when LogProbs is set.
	LogProb       float64
	TokenLogProbs []float64
}

// Chunk is the text one sample released during one decoding step of
// GenerateStream.
type Chunk struct {
	Prompt, Index int // the sample: Generate's result [Prompt][Index]
	// Text is new text of the sample. Released text is final: the Texts of a
	// sample's chunks, concatenated, are its Completion.Text. Text that could
	// be the beginning of a stop string is held back until a later token
	// shows it is not (or the sample ends), so a stop string never leaks,
	// not even in part.
	Text string
	// TokenLogProbs (with SampleOptions.LogProbs) are the log-probabilities
	// of the tokens released with this chunk: one per character of Text
	// (the tokenizer is character level) and, on the last chunk, those of
	// the tokens not in the text (EOS, a stop string's). Concatenated, they
	// are Completion.TokenLogProbs.
	TokenLogProbs []float64
	// Done is set on the sample's last chunk: the finished completion.
	Done *Completion
}

// encodePrompt returns BOS followed by the prompt's tokens.
func (m *Model) encodePrompt(prompt string) []int {
	return m.tok.encode([]int{tokBOS}, prompt)
}

// kv is the key/value cache of one sequence.
type kv struct {
	k, v [][]float32 // per layer, [n, D] rows
	n    int
}

func (c *kv) clone() *kv {
	d := &kv{n: c.n, k: make([][]float32, len(c.k)), v: make([][]float32, len(c.v))}
	for l := range c.k {
		d.k[l] = append(make([]float32, 0, cap(c.k[l])), c.k[l]...)
		d.v[l] = append(make([]float32, 0, cap(c.v[l])), c.v[l]...)
	}
	return d
}

// step feeds chunks[i] to sequence caches[i] and returns the logits [V]
// after the last token of each chunk. Every row is computed exactly as in
// the training forward pass, independently of the other rows.
func (m *Model) step(caches []*kv, chunks [][]int) [][]float32 {
	lo, nt := m.lo, m.net
	D, H, NH, HD, V := lo.D, lo.H, lo.NH, lo.HD, lo.V
	var rows []int // cache index per row
	var pos, tok []int
	for i, ch := range chunks {
		for j, t := range ch {
			rows = append(rows, i)
			pos = append(pos, caches[i].n+j)
			tok = append(tok, t)
		}
	}
	N := len(tok)
	x := make([]float32, N*D)
	emb := nt.t(lo.emb, V*D)
	for i, t := range tok {
		copy(x[i*D:(i+1)*D], emb[t*D:(t+1)*D])
	}
	h := make([]float32, N*D)
	r := make([]float32, N)
	q, k, v := make([]float32, N*D), make([]float32, N*D), make([]float32, N*D)
	att, tmp := make([]float32, N*D), make([]float32, N*D)
	g, u := make([]float32, N*H), make([]float32, N*H)
	scale := float32(1 / math.Sqrt(float64(HD)))
	maxPos := 0
	for _, p := range pos {
		maxPos = max(maxPos, p)
	}
	for l := range lo.layers {
		o := &lo.layers[l]
		rmsnorm(h, r, x, nt.t(o.attnNorm, D), N, D)
		matmulNT(q, h, nt.t(o.wq, D*D), N, D, D, false)
		matmulNT(k, h, nt.t(o.wk, D*D), N, D, D, false)
		matmulNT(v, h, nt.t(o.wv, D*D), N, D, D, false)
		if lo.ropeCos != nil {
			nt.rope(q, pos, false)
			nt.rope(k, pos, false)
		}
		if m.f16 {
			roundF16(q)
			roundF16(k)
			roundF16(v)
		}
		for i := range tok {
			c := caches[rows[i]]
			c.k[l] = append(c.k[l], k[i*D:(i+1)*D]...)
			c.v[l] = append(c.v[l], v[i*D:(i+1)*D]...)
		}
		parallelFor(N, D*16, func(r0, r1 int) {
			probs := make([]float32, maxPos+1)
			ex := make([]float64, maxPos+1)
			for i := r0; i < r1; i++ {
				c := caches[rows[i]]
				np := pos[i] + 1
				for hh := 0; hh < NH; hh++ {
					if m.f16 {
						attendRowF16(q[i*D+hh*HD:i*D+hh*HD+HD], c.k[l], c.v[l], D, hh*HD, np,
							probs[:np], att[i*D+hh*HD:i*D+hh*HD+HD], scale, ex)
						continue
					}
					attendRow(q[i*D+hh*HD:i*D+hh*HD+HD], c.k[l], c.v[l], D, hh*HD, np,
						probs[:np], att[i*D+hh*HD:i*D+hh*HD+HD], scale, ex)
				}
			}
		})
		matmulNT(tmp, att, nt.t(o.wo, D*D), N, D, D, false)
		for i := range x {
			x[i] += tmp[i]
		}
		rmsnorm(h, r, x, nt.t(o.ffnNorm, D), N, D)
		matmulNT(g, h, nt.t(o.w1, H*D), N, H, D, false)
		matmulNT(u, h, nt.t(o.w3, H*D), N, H, D, false)
		parallelFor(N, H*8, func(r0, r1 int) {
			sg := make([]float64, H)
			for r := r0; r < r1; r++ {
				sigmoids(sg, g[r*H:(r+1)*H])
				for i := r * H; i < (r+1)*H; i++ {
					gv := float64(g[i])
					g[i] = float32(gv*sg[i-r*H]) * u[i]
				}
			}
		})
		matmulNT(tmp, g, nt.t(o.w2, D*H), N, D, H, false)
		for i := range x {
			x[i] += tmp[i]
		}
	}
	for i, ch := range chunks {
		caches[i].n += len(ch)
	}
	// Final norm and head only for the last row of each chunk.
	last := make([]float32, len(chunks)*D)
	row := 0
	for i, ch := range chunks {
		row += len(ch)
		copy(last[i*D:(i+1)*D], x[(row-1)*D:row*D])
	}
	hl := make([]float32, len(chunks)*D)
	rmsnorm(hl, make([]float32, len(chunks)), last, nt.t(lo.normF, D), len(chunks), D)
	logits := make([]float32, len(chunks)*V)
	matmulNT(logits, hl, nt.t(lo.head, V*D), len(chunks), V, D, false)
	out := make([][]float32, len(chunks))
	for i := range out {
		out[i] = logits[i*V : (i+1)*V]
	}
	return out
}

func (m *Model) newKV(capTokens int) *kv {
	c := &kv{k: make([][]float32, m.lo.L), v: make([][]float32, m.lo.L)}
	for l := range c.k {
		c.k[l] = make([]float32, 0, capTokens*m.lo.D)
		c.v[l] = make([]float32, 0, capTokens*m.lo.D)
	}
	return c
}

// sampleState is one completion being generated.
type sampleState struct {
	prompt, index int
	cache         *kv
	rng           *rng
	con           Constraint // Constrain's, or nil
	masked        []float32  // the logits with what con forbids masked
	logits        []float32
	ids           []int
	text          strings.Builder
	done          bool
	out           Completion
	sent, sentLP  int   // GenerateStream: bytes of text and logprobs released
	stopState     []int // GenerateStream: per stop string, see stopTable
}

// generateGroup bounds how many samples share one batched decoding pass.
const generateGroup = 64

// Generate samples n completions for each prompt. The result of sample i of
// a prompt depends only on the model, the prompt, opts and i: its random
// stream is seeded with SampleSeed(opts.Seed, prompt, i), and every row of a
// batched pass is computed independently of the others.
func (m *Model) Generate(ctx context.Context, prompts []string, n int, opts SampleOptions) ([][]Completion, error) {
	return m.GenerateStream(ctx, prompts, n, opts, nil)
}

// GenerateStream is Generate, calling emit after every decoding step with
// the chunks of text the samples released in that step (a sample appears at
// most once per call, in sample order; steps where nothing was released
// make no call), before the next step is computed. emit is called on the
// calling goroutine; if it returns an error, generation stops and
// GenerateStream returns that error. The completions returned, and the
// concatenated chunks of each sample, are exactly Generate's. A nil emit
// makes GenerateStream Generate.
//
// Samples are decoded in groups of whole prompts of about 64 samples, one
// group after the other, so with many samples the later prompts' chunks
// start when the earlier group is done.
func (m *Model) GenerateStream(ctx context.Context, prompts []string, n int, opts SampleOptions, emit func([]Chunk) error) ([][]Completion, error) {
	if n < 0 {
		return nil, fmt.Errorf("gpt: n must be >= 0, got %d", n)
	}
	maxSeq := m.cfg.MaxSeq
	enc := make([][]int, len(prompts))
	for i, p := range prompts {
		enc[i] = m.encodePrompt(p)
		if len(enc[i]) >= maxSeq {
			return nil, fmt.Errorf("gpt: prompt %d is %d tokens with BOS; max_seq is %d", i, len(enc[i]), maxSeq)
		}
	}
	res := make([][]Completion, len(prompts))
	for i := range res {
		res[i] = make([]Completion, n)
	}
	if n == 0 {
		return res, nil
	}
	maxStop := 0
	for _, s := range opts.Stop {
		maxStop = max(maxStop, len(s))
	}
	// Groups of whole prompts, about generateGroup samples each.
	for p0 := 0; p0 < len(prompts); {
		p1 := p0 + 1
		for p1 < len(prompts) && (p1-p0+1)*n <= generateGroup {
			p1++
		}
		if err := m.generateGroup(ctx, prompts[p0:p1], enc[p0:p1], p0, n, opts, maxStop, res[p0:p1], emit); err != nil {
			return nil, err
		}
		p0 = p1
	}
	return res, nil
}

func (m *Model) generateGroup(ctx context.Context, prompts []string, enc [][]int, p0, n int, opts SampleOptions, maxStop int, res [][]Completion, emit func([]Chunk) error) error {
	maxSeq := m.cfg.MaxSeq
	caches := make([]*kv, len(enc))
	budget := make([]int, len(enc))
	for i, e := range enc {
		budget[i] = maxSeq - len(e)
		if opts.MaxTokens > 0 {
			budget[i] = min(budget[i], opts.MaxTokens)
		}
		caches[i] = m.newKV(len(e) + budget[i])
	}
	logits := m.step(caches, enc)
	var stops *stopTable
	if emit != nil {
		stops = newStopTable(opts.Stop)
	}
	var states []*sampleState
	for p := range enc {
		for i := 0; i < n; i++ {
			c := caches[p]
			if i < n-1 {
				c = c.clone()
			}
			states = append(states, &sampleState{prompt: p, index: i, cache: c, logits: logits[p],
				rng: newRNG(SampleSeed(opts.seed(p0+p), prompts[p], i))})
			if stops != nil {
				states[len(states)-1].stopState = make([]int, len(stops.stops))
			}
			if opts.Constrain != nil {
				st := states[len(states)-1]
				st.con = opts.Constrain()
				st.masked = make([]float32, len(logits[p]))
				if need := st.con.MinClose(); need > budget[p] {
					return fmt.Errorf("gpt: prompt %d: the shortest structured response is %d tokens, more than the %d this sample may have (max_tokens, or max_seq %d less the prompt)", p0+p, need, budget[p], maxSeq)
				}
			}
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var active []*sampleState
		var chunks [][]int
		var cs []*kv
		var out []Chunk // emit's
		for _, s := range states {
			if s.done {
				continue
			}
			z := s.logits
			if s.con != nil {
				z = m.mask(s, budget[s.prompt]-s.out.Tokens-1)
			}
			id := sampleToken(z, opts, s.rng)
			lp := logSoftmaxAt(s.logits, id)
			s.out.Tokens++
			s.out.LogProb += lp
			if opts.LogProbs {
				s.out.TokenLogProbs = append(s.out.TokenLogProbs, lp)
			}
			if id == tokEOS {
				s.finish("stop")
				if emit != nil {
					out = append(out, s.release(p0, len(s.out.Text), true))
				}
				continue
			}
			prev := s.text.Len()
			s.text.WriteString(m.tok.piece(id))
			if s.con != nil {
				s.con.Push(m.tok.runes[id-numSpecial])
			}
			if maxStop > 0 {
				txt := s.text.String()
				from := max(0, prev-maxStop+1)
				cut := -1
				for _, st := range opts.Stop {
					if st == "" {
						continue
					}
					if k := strings.Index(txt[from:], st); k >= 0 && (cut < 0 || from+k < cut) {
						cut = from + k
					}
				}
				if cut >= 0 {
					s.out.Text = txt[:cut]
					s.done = true
					s.out.FinishReason = "stop"
					if emit != nil {
						out = append(out, s.release(p0, cut, true))
					}
					continue
				}
			}
			if s.con != nil && s.con.Complete() {
				s.finish("stop")
				if emit != nil {
					out = append(out, s.release(p0, len(s.out.Text), true))
				}
				continue
			}
			if s.out.Tokens >= budget[s.prompt] {
				s.finish("length")
				if emit != nil {
					out = append(out, s.release(p0, len(s.out.Text), true))
				}
				continue
			}
			if emit != nil {
				txt := s.text.String()
				end := len(txt) - stops.advance(s.stopState, txt[prev:])
				for end > s.sent && end < len(txt) && !utf8.RuneStart(txt[end]) {
					end--
				}
				if end > s.sent {
					out = append(out, s.release(p0, end, false))
				}
			}
			active = append(active, s)
			chunks = append(chunks, []int{id})
			cs = append(cs, s.cache)
		}
		if len(out) > 0 {
			if err := emit(out); err != nil {
				return err
			}
		}
		if len(active) == 0 {
			break
		}
		lg := m.step(cs, chunks)
		for i, s := range active {
			s.logits = lg[i]
		}
	}
	for _, s := range states {
		res[s.prompt][s.index] = s.out
	}
	return nil
}

// mask returns s's logits with every token s.con does not allow next
// (with left tokens after it) set to −∞: specials always, characters as
// the constraint says. Some character is always allowed, since the
// sample started with room for the shortest completion (MinClose).
func (m *Model) mask(s *sampleState, left int) []float32 {
	z := s.masked
	inf := float32(math.Inf(-1))
	for id := range z {
		z[id] = inf
		if id >= numSpecial && id-numSpecial < len(m.tok.runes) && s.con.Allowed(m.tok.runes[id-numSpecial], left) {
			z[id] = s.logits[id]
		}
	}
	return z
}

// release returns the chunk of s that releases its text up to byte end,
// and with last, everything else: the rest of the log-probabilities and
// the completion.
func (s *sampleState) release(p0, end int, last bool) Chunk {
	var text string
	if last {
		text = s.out.Text[s.sent:]
	} else {
		text = s.text.String()[s.sent:end]
	}
	c := Chunk{Prompt: p0 + s.prompt, Index: s.index, Text: text}
	s.sent = end
	if lps := s.out.TokenLogProbs; lps != nil {
		k := len(lps)
		if !last {
			k = min(k, s.sentLP+utf8.RuneCountInString(text))
		}
		c.TokenLogProbs = lps[s.sentLP:k:k]
		s.sentLP = k
	}
	if last {
		c.Done = &s.out
	}
	return c
}

// stopTable finds, as a text grows, the longest end of it that is a proper
// beginning of one of the stop strings: the bytes GenerateStream holds back.
// A state per stop string is the length of the longest end of the text that
// begins that string (Knuth–Morris–Pratt), so each new byte costs O(1)
// amortized per stop string, however long the stop strings are.
type stopTable struct {
	stops []string
	fail  [][]int // per stop string, its KMP prefix function
}

func newStopTable(stops []string) *stopTable {
	t := &stopTable{}
	for _, st := range stops {
		if st == "" {
			continue
		}
		f := make([]int, len(st))
		for i, k := 1, 0; i < len(st); i++ {
			for k > 0 && st[i] != st[k] {
				k = f[k-1]
			}
			if st[i] == st[k] {
				k++
			}
			f[i] = k
		}
		t.stops = append(t.stops, st)
		t.fail = append(t.fail, f)
	}
	return t
}

// advance moves the states (one per stop string, 0 for an empty text) over
// the bytes appended to the text, and returns how many bytes at the end of
// the text must be held back.
func (t *stopTable) advance(state []int, appended string) int {
	h := 0
	for i, st := range t.stops {
		f, q := t.fail[i], state[i]
		for j := 0; j < len(appended); j++ {
			c := appended[j]
			for q > 0 && st[q] != c {
				q = f[q-1]
			}
			if st[q] == c {
				q++
			}
			if q == len(st) { // a match: the generator's business
				q = f[q-1]
			}
		}
		state[i] = q
		h = max(h, q)
	}
	return h
}

func (s *sampleState) finish(reason string) {
	s.out.Text = s.text.String()
	s.out.FinishReason = reason
	s.done = true
	s.cache = nil
}

// logSoftmaxAt returns log softmax(z)[id] in float64.
func logSoftmaxAt(z []float32, id int) float64 {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = fmax(mx, float64(v))
	}
	var sum float64
	for _, v := range z {
		sum += math.Exp(float64(v) - mx)
	}
	return float64(z[id]) - mx - math.Log(sum)
}

// sampleToken picks the next token. PAD and BOS are never produced.
func sampleToken(z []float32, o SampleOptions, r *rng) int {
	if o.Temperature <= 0 {
		best := -1
		for i, v := range z {
			if i == tokPAD || i == tokBOS {
				continue
			}
			if best < 0 || v > z[best] {
				best = i
			}
		}
		return best
	}
	type cand struct {
		id int
		l  float64
	}
	cs := make([]cand, 0, len(z))
	for i, v := range z {
		if i == tokPAD || i == tokBOS {
			continue
		}
		cs = append(cs, cand{i, float64(v) / o.Temperature})
	}
	// The same stable merge sort as sort.SliceStable with the same
	// comparisons, typed instead of through reflection.
	slices.SortStableFunc(cs, func(a, b cand) int {
		if a.l > b.l {
			return -1
		}
		if b.l > a.l {
			return 1
		}
		return 0
	})
	if o.TopK > 0 && o.TopK < len(cs) {
		cs = cs[:o.TopK]
	}
	mx := cs[0].l
	ps := make([]float64, len(cs))
	var sum float64
	for i, c := range cs {
		ps[i] = math.Exp(c.l - mx)
		sum += ps[i]
	}
	if o.TopP > 0 && o.TopP < 1 {
		var cum float64
		for i := range ps {
			cum += ps[i] / sum
			if cum >= o.TopP {
				ps = ps[:i+1]
				break
			}
		}
		sum = 0
		for _, p := range ps {
			sum += p
		}
	}
	u := r.float() * sum
	last := 0 // the last candidate that has a chance (not masked)
	for i, p := range ps {
		u -= p
		if u < 0 {
			return cs[i].id
		}
		if p > 0 {
			last = i
		}
	}
	return cs[last].id
}

// LogProb returns log p(continuation | prompt) summed over the
// continuation's tokens, and per token. No EOS is scored.
func (m *Model) LogProb(prompt, continuation string) (float64, []float64, error) {
	p := m.encodePrompt(prompt)
	seq := m.tok.encode(append([]int(nil), p...), continuation)
	if len(seq) > m.cfg.MaxSeq {
		return 0, nil, fmt.Errorf("gpt: prompt and continuation are %d tokens with BOS; max_seq is %d", len(seq), m.cfg.MaxSeq)
	}
	if len(seq) == len(p) {
		return 0, []float64{}, nil
	}
	var b batch
	b.add(seq[:len(seq)-1])
	for i := len(p); i < len(seq); i++ {
		b.qRow = append(b.qRow, i-1)
		b.qTgt = append(b.qTgt, seq[i])
	}
	a := m.net.forward(&b)
	var total float64
	for _, v := range a.logp {
		total += v
	}
	return total, a.logp, nil
}

// WithFloat16Attention returns the model (weights shared) with a sampler
// that rounds queries, keys, values and attention weights to IEEE float16,
// as ggml's CPU kernels do with the float16 K/V cache that llama.cpp and
// Ollama use (Ollama has no float32 cache). It exists to compare ouro with
// them: its completions are not the builtin provider's, and training and
// LogProb are unaffected.
func (m *Model) WithFloat16Attention() *Model {
	c := newModel(m.cfg, m.lo, m.w)
	c.chat, c.f16 = m.chat, true
	return c
}

// attendRowF16 is attendRow with the attention weights rounded to float16
// before they weight the values (ggml converts them to the F16 V cache's
// type for that product).
func attendRowF16(q, K, V []float32, stride, off, np int, probs, out []float32, scale float32, ex []float64) {
	attendWeights(q, K, stride, off, np, probs, scale, ex)
	roundF16(probs[:np])
	weighValues(V, stride, off, probs[:np], out)
}

// roundF16 rounds every value to the nearest float16 (ties to even) and
// back: 11 significant bits, subnormals below 2^-14, ±Inf beyond 65504.
func roundF16(xs []float32) {
	for i, x := range xs {
		xs[i] = float16Round(x)
	}
}

func float16Round(x float32) float32 {
	a := math.Abs(float64(x))
	switch {
	case a != a || a == 0: // NaN or zero
		return x
	case a >= 65520: // rounds past the largest float16, 65504
		return float32(math.Copysign(math.Inf(1), float64(x)))
	case a < 1.0/16384: // subnormal: multiples of 2^-24
		return float32(math.RoundToEven(float64(x)*(1<<24)) / (1 << 24))
	}
	b := math.Float32bits(x)
	b += 0xfff + (b>>13)&1 // round the low 13 of 23 mantissa bits to even
	return math.Float32frombits(b &^ 0x1fff)
}
