package gpt

import (
	"fmt"
	"math"
	"sort"
)

const (
	normEps  = 1e-5
	ropeBase = 10000.0
)

// tensorSpec is one named parameter tensor inside the flat parameter vector.
type tensorSpec struct {
	name  string
	shape []int
	off   int
	size  int
	decay bool // weight decay applies (matrices, not norm gains)
}

type layerOffsets struct{ attnNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3 int }

// layout places every tensor in one flat vector, in sorted-name order (the
// order of the checkpoint).
type layout struct {
	cfg                Config
	V, D, H, L, NH, HD int
	tensors            []tensorSpec
	emb, normF, head   int
	layers             []layerOffsets
	size               int
	ropeCos, ropeSin   []float64 // [MaxSeq, HD/2]
}

func newLayout(cfg Config) *layout {
	lo := &layout{cfg: cfg, V: cfg.vocabSize(), D: cfg.Dim, H: cfg.Hidden, L: cfg.Layers, NH: cfg.Heads, HD: cfg.Dim / cfg.Heads}
	D, H, V := lo.D, lo.H, lo.V
	add := func(name string, decay bool, shape ...int) {
		n := 1
		for _, s := range shape {
			n *= s
		}
		lo.tensors = append(lo.tensors, tensorSpec{name: name, shape: shape, size: n, decay: decay})
	}
	add("tok_embeddings.weight", true, V, D)
	add("norm.weight", false, D)
	add("output.weight", true, V, D)
	for l := 0; l < cfg.Layers; l++ {
		p := fmt.Sprintf("layers.%d.", l)
		add(p+"attention_norm.weight", false, D)
		add(p+"attention.wq.weight", true, D, D)
		add(p+"attention.wk.weight", true, D, D)
		add(p+"attention.wv.weight", true, D, D)
		add(p+"attention.wo.weight", true, D, D)
		add(p+"ffn_norm.weight", false, D)
		add(p+"feed_forward.w1.weight", true, H, D)
		add(p+"feed_forward.w2.weight", true, D, H)
		add(p+"feed_forward.w3.weight", true, H, D)
	}
	sort.Slice(lo.tensors, func(i, j int) bool { return lo.tensors[i].name < lo.tensors[j].name })
	off := map[string]int{}
	for i := range lo.tensors {
		lo.tensors[i].off = lo.size
		off[lo.tensors[i].name] = lo.size
		lo.size += lo.tensors[i].size
	}
	lo.emb, lo.normF, lo.head = off["tok_embeddings.weight"], off["norm.weight"], off["output.weight"]
	for l := 0; l < cfg.Layers; l++ {
		p := fmt.Sprintf("layers.%d.", l)
		lo.layers = append(lo.layers, layerOffsets{
			attnNorm: off[p+"attention_norm.weight"],
			wq:       off[p+"attention.wq.weight"],
			wk:       off[p+"attention.wk.weight"],
			wv:       off[p+"attention.wv.weight"],
			wo:       off[p+"attention.wo.weight"],
			ffnNorm:  off[p+"ffn_norm.weight"],
			w1:       off[p+"feed_forward.w1.weight"],
			w2:       off[p+"feed_forward.w2.weight"],
			w3:       off[p+"feed_forward.w3.weight"],
		})
	}
	return lo
}

// initRope fills the rotary tables (cos and sin of pos·base^(-2i/HD)).
func (lo *layout) initRope() {
	cfg := lo.cfg
	if cfg.Positions == "rope" {
		half := lo.HD / 2
		lo.ropeCos = make([]float64, cfg.MaxSeq*half)
		lo.ropeSin = make([]float64, cfg.MaxSeq*half)
		for p := 0; p < cfg.MaxSeq; p++ {
			for i := 0; i < half; i++ {
				th := float64(p) * math.Pow(ropeBase, -float64(2*i)/float64(lo.HD))
				lo.ropeCos[p*half+i] = math.Cos(th)
				lo.ropeSin[p*half+i] = math.Sin(th)
			}
		}
	}
}

// net is the differentiable model over element type T.
type net[T Float] struct {
	lo       *layout
	w        []T // flat parameters
	cos, sin []T
}

func newNet[T Float](lo *layout, w []T) *net[T] {
	n := &net[T]{lo: lo, w: w}
	n.cos = make([]T, len(lo.ropeCos))
	n.sin = make([]T, len(lo.ropeSin))
	for i := range lo.ropeCos {
		n.cos[i], n.sin[i] = T(lo.ropeCos[i]), T(lo.ropeSin[i])
	}
	return n
}

func (n *net[T]) t(off, size int) []T { return n.w[off : off+size] }

// batch is a set of sequences packed row after row (no padding), plus the
// rows whose next-token log-probability is wanted ("queries").
type batch struct {
	tok   []int // token id per row
	pos   []int // position in its sequence per row
	start []int // first row of each sequence; len = sequences+1
	qRow  []int // query: row whose output predicts...
	qTgt  []int // ...this token
}

func (b *batch) add(seq []int) int {
	if len(b.start) == 0 {
		b.start = append(b.start, 0)
	}
	first := len(b.tok)
	for i, t := range seq {
		b.tok = append(b.tok, t)
		b.pos = append(b.pos, i)
	}
	b.start = append(b.start, len(b.tok))
	return first
}

type layerActs[T Float] struct {
	x, h1, q, k, v, att, x2, h2 []T // [N,D]
	r1, r2                      []T // [N]
	g, u, s, sg                 []T // [N,H]; sg = sigmoid(g)
	probs                       []T // attention probabilities
}

type acts[T Float] struct {
	N, Q    int
	probOff []int // row -> offset into probs (times NH)
	layers  []layerActs[T]
	xf, hf  []T
	rf      []T
	hq      []T // [Q,D]
	p       []T // [Q,V] softmax
	logp    []float64
	ws      *arena[T]
}

// arena hands out the buffers of one training step and takes them all back
// at reset, so that a training loop reuses the same memory every step
// instead of allocating (and the garbage collector collecting) the
// activations and gradients anew. A nil arena allocates.
type arena[T Float] struct {
	bufs [][]T
	next int
}

// raw returns a buffer of n elements whose contents are unspecified: for
// outputs that are overwritten entirely.
func (w *arena[T]) raw(n int) []T {
	if w == nil {
		return make([]T, n)
	}
	if w.next < len(w.bufs) && cap(w.bufs[w.next]) >= n {
		w.next++
		return w.bufs[w.next-1][:n]
	}
	b := make([]T, n)
	if w.next < len(w.bufs) {
		w.bufs[w.next] = b
	} else {
		w.bufs = append(w.bufs, b)
	}
	w.next++
	return b
}

// zeros returns a zeroed buffer of n elements.
func (w *arena[T]) zeros(n int) []T {
	if w == nil {
		return make([]T, n)
	}
	b := w.raw(n)
	clear(b)
	return b
}

// reset takes every buffer back (nothing handed out may be used after).
func (w *arena[T]) reset() {
	if w != nil {
		w.next = 0
	}
}

// forward runs the model over b and returns, per query, log p(target).
func (n *net[T]) forward(b *batch) *acts[T] { return n.forwardIn(b, nil) }

// forwardIn is forward with the activations in ws (which backward then
// uses for its own buffers).
func (n *net[T]) forwardIn(b *batch, ws *arena[T]) *acts[T] {
	lo := n.lo
	N, D, H, NH, HD := len(b.tok), lo.D, lo.H, lo.NH, lo.HD
	a := &acts[T]{N: N, Q: len(b.qRow), probOff: make([]int, N+1), ws: ws}
	for i := 0; i < N; i++ {
		a.probOff[i+1] = a.probOff[i] + (b.pos[i]+1)*NH
	}
	x := ws.raw(N * D)
	emb := n.t(lo.emb, lo.V*D)
	for i, t := range b.tok {
		copy(x[i*D:(i+1)*D], emb[t*D:(t+1)*D])
	}
	tmp := ws.raw(N * D)
	scale := T(1 / math.Sqrt(float64(HD)))
	for l := range lo.layers {
		o := &lo.layers[l]
		la := layerActs[T]{x: x}
		la.h1, la.r1 = ws.raw(N*D), ws.raw(N)
		rmsnorm(la.h1, la.r1, x, n.t(o.attnNorm, D), N, D)
		la.q, la.k, la.v = ws.raw(N*D), ws.raw(N*D), ws.raw(N*D)
		matmulNT(la.q, la.h1, n.t(o.wq, D*D), N, D, D, false)
		matmulNT(la.k, la.h1, n.t(o.wk, D*D), N, D, D, false)
		matmulNT(la.v, la.h1, n.t(o.wv, D*D), N, D, D, false)
		if lo.ropeCos != nil {
			n.rope(la.q, b.pos, false)
			n.rope(la.k, b.pos, false)
		}
		la.att = ws.raw(N * D)
		la.probs = ws.raw(a.probOff[N])
		if !attendSeqs(b, a, &la, lo, scale) {
			parallelFor(N, D*16, func(r0, r1 int) {
				ex := make([]float64, lo.cfg.MaxSeq)
				for i := r0; i < r1; i++ {
					s0 := i - b.pos[i]
					for h := 0; h < NH; h++ {
						np := b.pos[i] + 1
						po := a.probOff[i] + h*np
						attendRow(la.q[i*D+h*HD:i*D+h*HD+HD], la.k[s0*D:], la.v[s0*D:], D, h*HD, np,
							la.probs[po:po+np], la.att[i*D+h*HD:i*D+h*HD+HD], scale, ex)
					}
				}
			})
		}
		matmulNT(tmp, la.att, n.t(o.wo, D*D), N, D, D, false)
		la.x2 = ws.raw(N * D)
		for i := range la.x2 {
			la.x2[i] = x[i] + tmp[i]
		}
		la.h2, la.r2 = ws.raw(N*D), ws.raw(N)
		rmsnorm(la.h2, la.r2, la.x2, n.t(o.ffnNorm, D), N, D)
		la.g, la.u, la.s = ws.raw(N*H), ws.raw(N*H), ws.raw(N*H)
		matmulNT(la.g, la.h2, n.t(o.w1, H*D), N, H, D, false)
		matmulNT(la.u, la.h2, n.t(o.w3, H*D), N, H, D, false)
		la.sg = ws.raw(N * H)
		parallelFor(N, H*8, func(r0, r1 int) {
			if g, ok := any(la.g).([]float32); ok && useAsm {
				e := r1 * H
				siluF32(g[r0*H:e], any(la.u).([]float32)[r0*H:e], any(la.sg).([]float32)[r0*H:e], any(la.s).([]float32)[r0*H:e])
				return
			}
			sg := make([]float64, H)
			for r := r0; r < r1; r++ {
				sigmoids(sg, la.g[r*H:(r+1)*H])
				for i := r * H; i < (r+1)*H; i++ {
					g, sg := float64(la.g[i]), sg[i-r*H]
					la.sg[i] = T(sg)
					la.s[i] = T(g*sg) * la.u[i]
				}
			}
		})
		matmulNT(tmp, la.s, n.t(o.w2, D*H), N, D, H, false)
		x = ws.raw(N * D)
		for i := range x {
			x[i] = la.x2[i] + tmp[i]
		}
		a.layers = append(a.layers, la)
	}
	a.xf = x
	a.hf, a.rf = ws.raw(N*D), ws.raw(N)
	rmsnorm(a.hf, a.rf, x, n.t(lo.normF, D), N, D)
	Q, V := a.Q, lo.V
	a.hq = ws.raw(Q * D)
	for q, r := range b.qRow {
		copy(a.hq[q*D:(q+1)*D], a.hf[r*D:(r+1)*D])
	}
	a.p = ws.raw(Q * V)
	matmulNT(a.p, a.hq, n.t(lo.head, V*D), Q, V, D, false)
	a.logp = make([]float64, Q)
	parallelFor(Q, V*8, func(q0, q1 int) {
		ex := make([]float64, V)
		for q := q0; q < q1; q++ {
			a.logp[q] = softmaxLog(a.p[q*V:(q+1)*V], b.qTgt[q], ex)
		}
	})
	return a
}

// softmaxLog replaces logits by probabilities and returns log p[tgt]; ex
// is scratch of len(z).
func softmaxLog[T Float](z []T, tgt int, ex []float64) float64 {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = fmax(mx, float64(v))
	}
	ex = ex[:len(z)]
	for i, v := range z {
		ex[i] = float64(v) - mx
	}
	expSlice(ex, ex)
	var sum float64
	for _, e := range ex {
		sum += e
	}
	lse := mx + math.Log(sum)
	lp := float64(z[tgt]) - mx - math.Log(sum) // same rounding as logSoftmaxAt
	for i, v := range z {
		ex[i] = float64(v) - lse
	}
	expSlice(ex, ex)
	for i, e := range ex {
		z[i] = T(e)
	}
	return lp
}

// rmsnorm: y = x / sqrt(mean(x²)+eps) * g, row by row; r keeps 1/rms.
func rmsnorm[T Float](y, r, x, g []T, N, D int) {
	g = g[:D]
	parallelFor(N, D, func(r0, r1 int) {
		for i := r0; i < r1; i++ {
			xi := x[i*D : (i+1)*D]
			var ss float64
			for _, v := range xi {
				ss += float64(v) * float64(v)
			}
			ri := T(1 / math.Sqrt(ss/float64(D)+normEps))
			r[i] = ri
			yi := y[i*D : (i+1)*D]
			for j, v := range xi {
				yi[j] = v * ri * g[j]
			}
		}
	})
}

// rmsnormBack adds to dx and dg the gradients given dy.
func rmsnormBack[T Float](dx, dg, dy, x, r, g []T, N, D int) {
	g = g[:D]
	parallelFor(N, D, func(r0, r1 int) {
		for i := r0; i < r1; i++ {
			xi, dyi, dxi := x[i*D:(i+1)*D], dy[i*D:(i+1)*D], dx[i*D:(i+1)*D]
			ri := float64(r[i])
			var s float64
			for j, v := range xi {
				s += float64(dyi[j]*g[j]) * float64(v)
			}
			c := ri * ri * ri * s / float64(D)
			if f, ok := any(dxi).([]float32); ok && useAsm {
				normBackF32(f, any(dyi).([]float32), any(g).([]float32), any(xi).([]float32), ri, c)
				continue
			}
			for j, v := range xi {
				dxi[j] += T(ri*float64(dyi[j]*g[j]) - float64(v)*c)
			}
		}
	})
	// Gains: a sequential reduction over rows, in row order.
	for i := 0; i < N; i++ {
		xi, dyi := x[i*D:(i+1)*D], dy[i*D:(i+1)*D]
		ri := r[i]
		if f, ok := any(dg).([]float32); ok && useAsm {
			normGainF32(f[:D], any(dyi).([]float32), any(xi).([]float32), float32(ri))
			continue
		}
		for j := range dg[:D] {
			dg[j] += dyi[j] * xi[j] * ri
		}
	}
}

// rope rotates adjacent pairs of each head (the llama.cpp "normal" mode);
// inverse applies the transposed rotation (for gradients).
func (n *net[T]) rope(x []T, pos []int, inverse bool) {
	D, HD := n.lo.D, n.lo.HD
	half := HD / 2
	parallelFor(len(pos), D, func(r0, r1 int) {
		for i := r0; i < r1; i++ {
			cs := n.cos[pos[i]*half : pos[i]*half+half]
			sn := n.sin[pos[i]*half : pos[i]*half+half]
			row := x[i*D : (i+1)*D]
			for h := 0; h < D; h += HD {
				for p := 0; p < half; p++ {
					a, b := row[h+2*p], row[h+2*p+1]
					c, s := cs[p], sn[p]
					if inverse {
						s = -s
					}
					row[h+2*p] = a*c - b*s
					row[h+2*p+1] = a*s + b*c
				}
			}
		}
	})
}

// attendRow computes causal attention for one query vector over np keys.
// K and V hold key/value rows with the given stride; the head's slice starts
// at off. The same function serves training and cached sampling, so both
// round identically.
//
// ex is scratch of at least np.
func attendRow[T Float](q, K, V []T, stride, off, np int, probs, out []T, scale T, ex []float64) {
	attendWeights(q, K, stride, off, np, probs, scale, ex)
	weighValues(V, stride, off, probs[:np], out)
}

// attendWeights sets probs[:np] to the attention weights of q over the np
// keys (softmax of the scaled dot products).
func attendWeights[T Float](q, K []T, stride, off, np int, probs []T, scale T, ex []float64) {
	probs = probs[:np]
	dots(q, K[off:], stride, probs)
	softmaxScaled(probs, scale, ex)
}

// softmaxScaled replaces the dot products in probs by the attention
// weights: the softmax of the products times scale.
func softmaxScaled[T Float](probs []T, scale T, ex []float64) {
	mx := math.Inf(-1)
	for j, s := range probs {
		s *= scale
		probs[j] = s
		mx = fmax(mx, float64(s))
	}
	ex = ex[:len(probs)]
	for j, p := range probs {
		ex[j] = float64(p) - mx
	}
	expSlice(ex, ex)
	var sum float64
	for j, e := range ex {
		probs[j] = T(e)
		sum += e
	}
	inv := 1 / sum
	for j := range probs {
		probs[j] = T(float64(probs[j]) * inv)
	}
}

// weighValues sets out to the sum of the value rows weighted by probs.
func weighValues[T Float](V []T, stride, off int, probs, out []T) {
	clear(out)
	for j, p := range probs {
		axpy(out, V[j*stride+off:], p)
	}
}

// backward accumulates into grad the gradient of Σ_q coef[q]·logp[q].
func (n *net[T]) backward(b *batch, a *acts[T], coef []float64, grad []T) {
	lo := n.lo
	N, D, H, V, NH, HD, Q := a.N, lo.D, lo.H, lo.V, lo.NH, lo.HD, a.Q
	gt := func(off, size int) []T { return grad[off : off+size] }
	ws := a.ws
	// d logp[tgt] / d logits = onehot - p.
	dlog := ws.raw(Q * V)
	for q := 0; q < Q; q++ {
		c := coef[q]
		row := dlog[q*V : (q+1)*V]
		for j, p := range a.p[q*V : (q+1)*V] {
			row[j] = T(-c * float64(p))
		}
		row[b.qTgt[q]] += T(c)
	}
	dhq := ws.raw(Q * D)
	matmulNT(dhq, dlog, transposed(ws, n.t(lo.head, V*D), V, D), Q, D, V, false)
	matmulNT(gt(lo.head, V*D), transposed(ws, dlog, Q, V), transposed(ws, a.hq, Q, D), V, D, Q, true)
	dhf := ws.zeros(N * D)
	for q, r := range b.qRow {
		for j := 0; j < D; j++ {
			dhf[r*D+j] += dhq[q*D+j]
		}
	}
	dx := ws.zeros(N * D)
	rmsnormBack(dx, gt(lo.normF, D), dhf, a.xf, a.rf, n.t(lo.normF, D), N, D)
	scale := T(1 / math.Sqrt(float64(HD)))
	for l := len(lo.layers) - 1; l >= 0; l-- {
		o, la := &lo.layers[l], &a.layers[l]
		// MLP: x_out = x2 + (silu(g)*u)·W2ᵀ
		ds := ws.raw(N * H)
		matmulNT(ds, dx, transposed(ws, n.t(o.w2, D*H), D, H), N, H, D, false)
		dxT := transposed(ws, dx, N, D)
		matmulNT(gt(o.w2, D*H), dxT, transposed(ws, la.s, N, H), D, H, N, true)
		dg, du := ws.raw(N*H), ws.raw(N*H)
		parallelFor(N, H*4, func(r0, r1 int) {
			if g, ok := any(la.g).([]float32); ok && useAsm {
				a, e := r0*H, r1*H
				siluBackF32(g[a:e], any(la.sg).([]float32)[a:e], any(la.u).([]float32)[a:e],
					any(ds).([]float32)[a:e], any(dg).([]float32)[a:e], any(du).([]float32)[a:e])
				return
			}
			for i := r0 * H; i < r1*H; i++ {
				g, sg := float64(la.g[i]), float64(la.sg[i])
				du[i] = ds[i] * T(g*sg)
				dg[i] = ds[i] * la.u[i] * T(sg*(1+g*(1-sg)))
			}
		})
		dh2 := ws.raw(N * D)
		matmulNT(dh2, dg, transposed(ws, n.t(o.w1, H*D), H, D), N, D, H, false)
		matmulNT(dh2, du, transposed(ws, n.t(o.w3, H*D), H, D), N, D, H, true)
		h2T := transposed(ws, la.h2, N, D)
		matmulNT(gt(o.w1, H*D), transposed(ws, dg, N, H), h2T, H, D, N, true)
		matmulNT(gt(o.w3, H*D), transposed(ws, du, N, H), h2T, H, D, N, true)
		// dx now flows to x2 (residual) plus the norm path.
		rmsnormBack(dx, gt(o.ffnNorm, D), dh2, la.x2, la.r2, n.t(o.ffnNorm, D), N, D)
		// Attention: x2 = x + att·Woᵀ
		datt := ws.raw(N * D)
		matmulNT(datt, dx, transposed(ws, n.t(o.wo, D*D), D, D), N, D, D, false)
		matmulNT(gt(o.wo, D*D), transposed(ws, dx, N, D), transposed(ws, la.att, N, D), D, D, N, true)
		dq, dk, dv := ws.zeros(N*D), ws.zeros(N*D), ws.zeros(N*D)
		S := len(b.start) - 1
		if !attendSeqsBack(b, a, la, lo, scale, datt, dq, dk, dv) {
			parallelFor(S*NH, D*64, func(t0, t1 int) {
				dP := make([]T, lo.cfg.MaxSeq)
				for t := t0; t < t1; t++ {
					s, h := t/NH, t%NH
					off := h * HD
					s0 := b.start[s]
					for i := s0; i < b.start[s+1]; i++ {
						np := b.pos[i] + 1
						P := la.probs[a.probOff[i]+h*np : a.probOff[i]+h*np+np]
						do := datt[i*D+off : i*D+off+HD]
						qi := la.q[i*D+off : i*D+off+HD]
						dqi := dq[i*D+off : i*D+off+HD]
						dPi := dP[:np]
						dots(do, la.v[s0*D+off:], D, dPi)
						var sum float64
						for j, v := range dPi {
							sum += float64(v) * float64(P[j])
						}
						for j, pj := range P {
							r := (s0+j)*D + off
							dsj := T(float64(pj)*(float64(dPi[j])-sum)) * scale
							attnBack3(do, qi, dqi, la.k[r:r+HD], dk[r:r+HD], dv[r:r+HD], pj, dsj)
						}
					}
				}
			})
		}
		if lo.ropeCos != nil {
			n.rope(dq, b.pos, true)
			n.rope(dk, b.pos, true)
		}
		dh1 := ws.raw(N * D)
		matmulNT(dh1, dq, transposed(ws, n.t(o.wq, D*D), D, D), N, D, D, false)
		matmulNT(dh1, dk, transposed(ws, n.t(o.wk, D*D), D, D), N, D, D, true)
		matmulNT(dh1, dv, transposed(ws, n.t(o.wv, D*D), D, D), N, D, D, true)
		h1T := transposed(ws, la.h1, N, D)
		matmulNT(gt(o.wq, D*D), transposed(ws, dq, N, D), h1T, D, D, N, true)
		matmulNT(gt(o.wk, D*D), transposed(ws, dk, N, D), h1T, D, D, N, true)
		matmulNT(gt(o.wv, D*D), transposed(ws, dv, N, D), h1T, D, D, N, true)
		rmsnormBack(dx, gt(o.attnNorm, D), dh1, la.x, la.r1, n.t(o.attnNorm, D), N, D)
	}
	demb := gt(lo.emb, V*D)
	for i, t := range b.tok {
		row := demb[t*D : (t+1)*D]
		for j, v := range dx[i*D : (i+1)*D] {
			row[j] += v
		}
	}
}

func transposed[T Float](ws *arena[T], src []T, rows, cols int) []T {
	dst := ws.raw(rows * cols)
	if rows*cols > 0 {
		transpose(dst, src, rows, cols)
	}
	return dst
}

// seqKernelMax is the longest sequence attendSeqs and attendSeqsBack take:
// they hold a few [L,L] matrices per goroutine.
const seqKernelMax = 512

// longestSeq is the length of b's longest sequence.
func longestSeq(b *batch) int {
	L := 0
	for s := 0; s+1 < len(b.start); s++ {
		L = max(L, b.start[s+1]-b.start[s])
	}
	return L
}

// seqKernelsFit reports whether the whole-sequence attention kernels can
// run on this batch (assembly on, float32, packed sequences no longer
// than seqKernelMax) and returns the longest sequence.
func seqKernelsFit[T Float](b *batch, a *acts[T], la *layerActs[T]) (int, bool) {
	if !useAsm {
		return 0, false
	}
	if _, ok := any(la.q).([]float32); !ok || len(b.start) == 0 || b.start[len(b.start)-1] != a.N {
		return 0, false
	}
	Lmax := longestSeq(b)
	return Lmax, Lmax <= seqKernelMax
}

// attendSeqs is the forward attention of a layer with whole-sequence
// kernels (float32 with AVX2/FMA, sequences up to seqKernelMax): per
// sequence and head, the causal scores as one blocked product, the softmax
// of each row as attendWeights computes it, and the weighted values as one
// product, each element with the arithmetic of attendRow. It reports
// whether it ran.
func attendSeqs[T Float](b *batch, a *acts[T], la *layerActs[T], lo *layout, scale T) bool {
	Lmax, ok := seqKernelsFit(b, a, la)
	if !ok {
		return false
	}
	q := any(la.q).([]float32)
	k, v := any(la.k).([]float32), any(la.v).([]float32)
	att, probs := any(la.att).([]float32), any(la.probs).([]float32)
	D, NH, HD := lo.D, lo.NH, lo.HD
	sc32 := float32(scale)
	parallelFor((len(b.start)-1)*NH, Lmax*Lmax*HD, func(t0, t1 int) {
		sc := make([]float32, Lmax*Lmax)
		ex := make([]float64, Lmax)
		for t := t0; t < t1; t++ {
			s, h := t/NH, t%NH
			s0, L := b.start[s], b.start[s+1]-b.start[s]
			if L == 0 {
				continue
			}
			x0 := s0*D + h*HD
			causalDotsF32(sc, L, q[x0:], D, k[x0:], D, L, HD)
			for r := 0; r < L; r++ {
				po := a.probOff[s0+r] + h*(r+1)
				p := probs[po : po+r+1]
				copy(p, sc[r*L:r*L+r+1])
				softmaxScaled(p, sc32, ex)
				copy(sc[r*L:], p)
			}
			lowerProductF32(att[x0:], D, sc, L, v[x0:], D, L, HD)
		}
	})
	return true
}

// attendSeqsBack is the attention backward of a layer with whole-sequence
// kernels, when attendSeqs can run: per sequence and head, dP = dO·Vᵀ
// (causal), dS row by row, then dV = Pᵀ·dO, dQ = dS·K and dK = dSᵀ·Q, every
// element summed in the order, and with the arithmetic, of the per-row
// loop (attnBack3 for each query row, then each key). dq, dk and dv must be
// zero. It reports whether it ran.
func attendSeqsBack[T Float](b *batch, a *acts[T], la *layerActs[T], lo *layout, scale T, datt, dq, dk, dv []T) bool {
	Lmax, ok := seqKernelsFit(b, a, la)
	if !ok {
		return false
	}
	q := any(la.q).([]float32)
	k, v := any(la.k).([]float32), any(la.v).([]float32)
	probs, do := any(la.probs).([]float32), any(datt).([]float32)
	dq32, dk32, dv32 := any(dq).([]float32), any(dk).([]float32), any(dv).([]float32)
	D, NH, HD := lo.D, lo.NH, lo.HD
	sc32 := float32(scale)
	parallelFor((len(b.start)-1)*NH, Lmax*Lmax*HD*3, func(t0, t1 int) {
		pm := make([]float32, Lmax*Lmax)
		ds := make([]float32, Lmax*Lmax)
		for t := t0; t < t1; t++ {
			s, h := t/NH, t%NH
			s0, L := b.start[s], b.start[s+1]-b.start[s]
			if L == 0 {
				continue
			}
			x0 := s0*D + h*HD
			for r := 0; r < L; r++ {
				po := a.probOff[s0+r] + h*(r+1)
				copy(pm[r*L:], probs[po:po+r+1])
			}
			causalDotsF32(ds, L, do[x0:], D, v[x0:], D, L, HD)
			for r := 0; r < L; r++ {
				P, dP := pm[r*L:r*L+r+1], ds[r*L:r*L+r+1]
				var sum float64
				for j, x := range dP {
					sum += float64(x) * float64(P[j])
				}
				for j, pj := range P {
					dP[j] = float32(float64(pj)*(float64(dP[j])-sum)) * sc32
				}
			}
			upperProductF32(dv32[x0:], D, pm, L, do[x0:], D, L, HD)
			lowerProductF32(dq32[x0:], D, ds, L, k[x0:], D, L, HD)
			upperProductF32(dk32[x0:], D, ds, L, q[x0:], D, L, HD)
		}
	})
	return true
}
