package gpt

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
)

// SFTExample is one supervised example: the loss covers Target and EOS.
type SFTExample struct{ Prompt, Target string }

// DPOPair is one preference: Chosen preferred over Rejected after Prompt.
type DPOPair struct{ Prompt, Chosen, Rejected string }

// TrainOptions controls TrainSFT and TrainDPO. Zero values pick defaults
// where noted.
type TrainOptions struct {
	Steps       int     // optimizer steps (required, > 0)
	BatchSize   int     // examples (SFT) or pairs (DPO) per step; 0 = 16
	LR          float64 // peak learning rate; 0 = 1e-3
	WeightDecay float64 // decoupled AdamW decay on matrices and embeddings
	Beta1       float64 // 0 = 0.9
	Beta2       float64 // 0 = 0.95
	ClipNorm    float64 // global gradient-norm clip; 0 = 1.0, < 0 = off
	Warmup      int     // linear warmup steps
	Schedule    string  // "cosine" (default, to 10% of LR), "wsd" (stable, then linear decay to 0 over the last 20%), "constant"
	Seed        uint64  // batch order
	Beta        float64 // DPO temperature; 0 = 0.1
	Log         func(step int, loss float64)
}

// TrainStats summarises a training run. Everything in it is deterministic.
type TrainStats struct {
	Steps     int
	Tokens    int       // tokens fed through the model (packed, no padding)
	Losses    []float64 // loss of every step
	FinalLoss float64   // mean loss of the last 10% of steps
	// DPO only, over the last 10% of steps: fraction of pairs whose implicit
	// reward prefers the chosen answer, and the mean reward margin.
	RewardAccuracy, RewardMargin float64
}

func (o TrainOptions) withDefaults() (TrainOptions, error) {
	if o.Steps <= 0 {
		return o, fmt.Errorf("gpt: training needs steps > 0, got %d", o.Steps)
	}
	if o.BatchSize == 0 {
		o.BatchSize = 16
	}
	if o.BatchSize < 0 {
		return o, fmt.Errorf("gpt: batch size must be > 0, got %d", o.BatchSize)
	}
	if o.LR == 0 {
		o.LR = 1e-3
	}
	if o.Beta1 == 0 {
		o.Beta1 = 0.9
	}
	if o.Beta2 == 0 {
		o.Beta2 = 0.95
	}
	if o.ClipNorm == 0 {
		o.ClipNorm = 1
	}
	if o.Beta == 0 {
		o.Beta = 0.1
	}
	if o.Schedule == "" {
		o.Schedule = "cosine"
	}
	switch o.Schedule {
	case "cosine", "wsd", "constant":
	default:
		return o, fmt.Errorf("gpt: unknown schedule %q (cosine, wsd, constant)", o.Schedule)
	}
	if o.LR < 0 || o.Warmup < 0 || o.WeightDecay < 0 || o.Beta1 < 0 || o.Beta1 >= 1 || o.Beta2 < 0 || o.Beta2 >= 1 || o.Beta < 0 {
		return o, errors.New("gpt: invalid training hyper-parameters")
	}
	return o, nil
}

// LRAt is the learning rate of step (0-based) of total under o's schedule.
func LRAt(o TrainOptions, step, total int) float64 {
	if step < o.Warmup {
		return o.LR * float64(step+1) / float64(o.Warmup)
	}
	rest := max(1, total-o.Warmup)
	t := float64(step-o.Warmup) / float64(rest)
	switch o.Schedule {
	case "constant":
		return o.LR
	case "wsd":
		if t < 0.8 {
			return o.LR
		}
		return o.LR * (1 - t) / 0.2
	default:
		lmin := 0.1 * o.LR
		return lmin + 0.5*(1+math.Cos(math.Pi*t))*(o.LR-lmin)
	}
}

// adamW holds the optimizer state for one model.
type adamW struct {
	o     TrainOptions
	m, v  []float32
	decay []bool
	ends  []int // ascending offsets where decay may change (tensor ends)
	t     int
}

func newAdamW(lo *layout, o TrainOptions) *adamW {
	a := &adamW{o: o, m: make([]float32, lo.size), v: make([]float32, lo.size), decay: make([]bool, lo.size)}
	for _, t := range lo.tensors {
		for i := t.off; i < t.off+t.size; i++ {
			a.decay[i] = t.decay
		}
		a.ends = append(a.ends, t.off+t.size)
	}
	return a
}

// update clips g to the global norm and applies one AdamW step to w.
func (a *adamW) update(w, g []float32, lr float64) {
	a.t++
	scale := 1.0
	if a.o.ClipNorm > 0 {
		var ss float64
		for _, v := range g {
			ss += float64(v) * float64(v)
		}
		if n := math.Sqrt(ss); n > a.o.ClipNorm {
			scale = a.o.ClipNorm / n
		}
	}
	b1, b2 := a.o.Beta1, a.o.Beta2
	c1 := 1 - math.Pow(b1, float64(a.t))
	c2 := 1 - math.Pow(b2, float64(a.t))
	wd := a.o.WeightDecay
	if useAsm {
		k := [10]float64{scale, b1, 1 - b1, b2, 1 - b2, c1, c2, lr, lr * wd, 1e-8}
		parallelFor(len(w), 16, func(lo, hi int) {
			for lo < hi {
				e := hi // the run of parameters with lo's decay
				if j := sort.SearchInts(a.ends, lo+1); j < len(a.ends) {
					e = min(e, a.ends[j])
				}
				lo += adamF32(w[lo:e], g[lo:e], a.m[lo:e], a.v[lo:e], &k, a.decay[lo])
				a.scalar(w, g, lo, e, scale, lr, c1, c2)
				lo = e
			}
		})
		return
	}
	parallelFor(len(w), 16, func(lo, hi int) { a.scalar(w, g, lo, hi, scale, lr, c1, c2) })
}

// scalar is one AdamW step on parameters [lo,hi).
func (a *adamW) scalar(w, g []float32, lo, hi int, scale, lr, c1, c2 float64) {
	b1, b2 := a.o.Beta1, a.o.Beta2
	wd := a.o.WeightDecay
	for i := lo; i < hi; i++ {
		gi := float64(g[i]) * scale
		m := b1*float64(a.m[i]) + (1-b1)*gi
		v := b2*float64(a.v[i]) + (1-b2)*gi*gi
		a.m[i], a.v[i] = float32(m), float32(v)
		p := float64(w[i])
		if a.decay[i] {
			p -= lr * wd * p
		}
		p -= lr * (m / c1) / (math.Sqrt(v/c2) + 1e-8)
		w[i] = float32(p)
	}
}

// scored is one encoded training sequence: tokens (BOS … EOS) and the index
// of the first scored token (the loss covers tokens from there to the end).
type scored struct {
	toks  []int
	first int
}

func (m *Model) encodeScored(prompt, target string) (scored, error) {
	p := m.encodePrompt(prompt)
	seq := m.tok.encode(append([]int(nil), p...), target)
	seq = append(seq, tokEOS)
	if len(seq) > m.cfg.MaxSeq {
		return scored{}, fmt.Errorf("%d tokens with BOS and EOS; max_seq is %d", len(seq), m.cfg.MaxSeq)
	}
	return scored{toks: seq, first: len(p)}, nil
}

// addScored packs s into b (all tokens but the last) with one query per
// scored token; it returns the query range.
func (b *batch) addScored(s scored) (q0, q1 int) {
	r0 := b.add(s.toks[:len(s.toks)-1])
	q0 = len(b.qRow)
	for i := s.first; i < len(s.toks); i++ {
		b.qRow = append(b.qRow, r0+i-1)
		b.qTgt = append(b.qTgt, s.toks[i])
	}
	return q0, len(b.qRow)
}

// batcher yields mini-batches of indices: a fresh seeded permutation per
// epoch, consumed in order.
type batcher struct {
	r    *rng
	perm []int
	pos  int
}

func (bt *batcher) next(n int) []int {
	out := make([]int, 0, n)
	for len(out) < n {
		if bt.pos == len(bt.perm) {
			bt.r.shuffle(bt.perm)
			bt.pos = 0
		}
		out = append(out, bt.perm[bt.pos])
		bt.pos++
	}
	return out
}

func newBatcher(n int, seed uint64) *batcher {
	bt := &batcher{r: newRNG(seed ^ 0x5eed0f0b47c4e5), perm: make([]int, n)}
	for i := range bt.perm {
		bt.perm[i] = i
	}
	bt.pos = n
	return bt
}

func finalMean(xs []float64) float64 {
	k := max(1, len(xs)/10)
	var s float64
	for _, x := range xs[len(xs)-k:] {
		s += x
	}
	return s / float64(k)
}

// TrainSFT fine-tunes a copy of base on data (next-token cross-entropy on
// Target and EOS only, averaged over the scored tokens of the batch) and
// returns it; base is not modified. The result depends only on base, data
// and opts, not on the number of cores.
func TrainSFT(ctx context.Context, base *Model, data []SFTExample, opts TrainOptions) (*Model, TrainStats, error) {
	var st TrainStats
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, st, err
	}
	if len(data) == 0 {
		return nil, st, errors.New("gpt: no SFT examples")
	}
	enc := make([]scored, len(data))
	for i, ex := range data {
		if enc[i], err = base.encodeScored(ex.Prompt, ex.Target); err != nil {
			return nil, st, fmt.Errorf("gpt: SFT example %d: %w", i, err)
		}
	}
	m := base.clone()
	opt := newAdamW(m.lo, opts)
	bt := newBatcher(len(data), opts.Seed)
	grad := make([]float32, len(m.w))
	ws := &arena[float32]{}
	for step := 0; step < opts.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return nil, st, err
		}
		var b batch
		for _, i := range bt.next(opts.BatchSize) {
			b.addScored(enc[i])
		}
		ws.reset()
		a := m.net.forwardIn(&b, ws)
		loss, coef := sftLoss(a.logp)
		clear(grad)
		m.net.backward(&b, a, coef, grad)
		opt.update(m.w, grad, LRAt(opts, step, opts.Steps))
		st.Steps++
		st.Tokens += len(b.tok)
		st.Losses = append(st.Losses, loss)
		if opts.Log != nil {
			opts.Log(step, loss)
		}
	}
	st.FinalLoss = finalMean(st.Losses)
	return m, st, nil
}

// TrainDPO trains a copy of policy by Direct Preference Optimization
// (Rafailov et al. 2023) against the frozen reference: per pair,
// loss = -log σ(β·((πc−rc) − (πr−rr))) where π and r are the policy's and
// the reference's summed log-probabilities of the answer and EOS. Policy
// and reference must share the config.
func TrainDPO(ctx context.Context, policy, reference *Model, data []DPOPair, opts TrainOptions) (*Model, TrainStats, error) {
	var st TrainStats
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, st, err
	}
	if len(data) == 0 {
		return nil, st, errors.New("gpt: no DPO pairs")
	}
	if policy.cfg != reference.cfg {
		return nil, st, errors.New("gpt: DPO policy and reference have different configs")
	}
	type encPair struct{ c, r scored }
	enc := make([]encPair, len(data))
	for i, p := range data {
		if enc[i].c, err = policy.encodeScored(p.Prompt, p.Chosen); err != nil {
			return nil, st, fmt.Errorf("gpt: DPO pair %d (chosen): %w", i, err)
		}
		if enc[i].r, err = policy.encodeScored(p.Prompt, p.Rejected); err != nil {
			return nil, st, fmt.Errorf("gpt: DPO pair %d (rejected): %w", i, err)
		}
	}
	m := policy.clone()
	opt := newAdamW(m.lo, opts)
	bt := newBatcher(len(data), opts.Seed)
	grad := make([]float32, len(m.w))
	ws := &arena[float32]{}
	var accs, margins []float64
	for step := 0; step < opts.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return nil, st, err
		}
		var b batch
		var ranges [][2][2]int
		for _, i := range bt.next(opts.BatchSize) {
			c0, c1 := b.addScored(enc[i].c)
			r0, r1 := b.addScored(enc[i].r)
			ranges = append(ranges, [2][2]int{{c0, c1}, {r0, r1}})
		}
		ws.reset()
		a := m.net.forwardIn(&b, ws)
		ref := reference.net.forward(&b)
		loss, coef, acc, margin := dpoLoss(a.logp, ref.logp, ranges, opts.Beta)
		clear(grad)
		m.net.backward(&b, a, coef, grad)
		opt.update(m.w, grad, LRAt(opts, step, opts.Steps))
		st.Steps++
		st.Tokens += len(b.tok)
		st.Losses = append(st.Losses, loss)
		accs = append(accs, acc)
		margins = append(margins, margin)
		if opts.Log != nil {
			opts.Log(step, loss)
		}
	}
	st.FinalLoss = finalMean(st.Losses)
	st.RewardAccuracy = finalMean(accs)
	st.RewardMargin = finalMean(margins)
	return m, st, nil
}

// softplus(x) = log(1+e^x), stably.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// sftLoss is the mean negative log-likelihood of the queries and its
// derivative with respect to each query's log-probability.
func sftLoss(logp []float64) (loss float64, coef []float64) {
	coef = make([]float64, len(logp))
	for q, lp := range logp {
		coef[q] = -1 / float64(len(logp))
		loss -= lp
	}
	return loss / float64(len(logp)), coef
}

// dpoLoss is the mean DPO loss over pairs; ranges[i] holds the query
// ranges of pair i's chosen and rejected answers. coef is dLoss/dlogp of
// the policy's queries; acc and margin are the mean reward accuracy and
// margin β·((πc−rc) − (πr−rr)).
func dpoLoss(pol, ref []float64, ranges [][2][2]int, beta float64) (loss float64, coef []float64, acc, margin float64) {
	sum := func(xs []float64, r [2]int) float64 {
		var s float64
		for _, x := range xs[r[0]:r[1]] {
			s += x
		}
		return s
	}
	coef = make([]float64, len(pol))
	B := float64(len(ranges))
	for _, rg := range ranges {
		d := (sum(pol, rg[0]) - sum(ref, rg[0])) - (sum(pol, rg[1]) - sum(ref, rg[1]))
		z := beta * d
		loss += softplus(-z) / B
		if z > 0 {
			acc += 1 / B
		}
		margin += z / B
		g := beta * sigmoid(-z) / B // = -dLoss/dπc = dLoss/dπr
		for q := rg[0][0]; q < rg[0][1]; q++ {
			coef[q] = -g
		}
		for q := rg[1][0]; q < rg[1][1]; q++ {
			coef[q] = g
		}
	}
	return loss, coef, acc, margin
}
