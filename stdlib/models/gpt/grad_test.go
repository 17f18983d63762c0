package gpt

import (
	"math"
	"testing"
)

// f64Net returns a float64 copy of a small model with large random weights
// (and non-unit norm gains) so that every gradient is well away from zero.
func f64Net(t *testing.T, positions string, seed uint64) *net[float64] {
	t.Helper()
	m, err := New(Config{Layers: 2, Dim: 8, Heads: 2, Hidden: 12, MaxSeq: 16, Positions: positions, Vocab: "abcdef"}, seed)
	if err != nil {
		t.Fatal(err)
	}
	r := newRNG(seed + 99)
	w := make([]float64, len(m.w))
	for _, ts := range m.lo.tensors {
		for i := ts.off; i < ts.off+ts.size; i++ {
			if len(ts.shape) == 1 {
				w[i] = 1 + 0.3*r.normal()
			} else {
				w[i] = 0.4 * r.normal()
			}
		}
	}
	lo := newLayout(m.cfg)
	lo.initRope()
	return newNet(lo, w)
}

func testBatch() (*batch, [][2][2]int) {
	var b batch
	seqs := []scored{
		{toks: []int{tokBOS, 4, 5, 6, 7, 8, tokEOS}, first: 3},
		{toks: []int{tokBOS, 9, 4, 4, 5, tokEOS}, first: 2},
		{toks: []int{tokBOS, 6, 5, tokEOS}, first: 1},
		{toks: []int{tokBOS, 7, 7, 8, 9, 4, 5, 6, tokEOS}, first: 4},
	}
	var ranges [][2][2]int
	for i := 0; i < len(seqs); i += 2 {
		c0, c1 := b.addScored(seqs[i])
		r0, r1 := b.addScored(seqs[i+1])
		ranges = append(ranges, [2][2]int{{c0, c1}, {r0, r1}})
	}
	return &b, ranges
}

// gradCheck compares the analytic gradient of loss(forward(w)) with central
// finite differences for every parameter.
func gradCheck(t *testing.T, n *net[float64], loss func(logp []float64) (float64, []float64)) {
	t.Helper()
	b, _ := testBatch()
	a := n.forward(b)
	_, coef := loss(a.logp)
	grad := make([]float64, len(n.w))
	n.backward(b, a, coef, grad)
	const eps = 1e-5
	bad := 0
	var maxAbs float64
	for _, ts := range n.lo.tensors {
		for i := ts.off; i < ts.off+ts.size; i++ {
			old := n.w[i]
			n.w[i] = old + eps
			lp, _ := loss(n.forward(b).logp)
			n.w[i] = old - eps
			lm, _ := loss(n.forward(b).logp)
			n.w[i] = old
			num := (lp - lm) / (2 * eps)
			maxAbs = math.Max(maxAbs, math.Abs(num))
			if d := math.Abs(num - grad[i]); d > 1e-7+1e-5*math.Max(math.Abs(num), math.Abs(grad[i])) {
				if bad < 10 {
					t.Errorf("%s[%d]: analytic %.9g, numeric %.9g", ts.name, i-ts.off, grad[i], num)
				}
				bad++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d gradients wrong", bad, len(n.w))
	}
	if maxAbs < 1e-3 {
		t.Errorf("gradients suspiciously small (max %g)", maxAbs)
	}
}

func TestGradientSFT(t *testing.T) {
	for _, pos := range []string{"rope", "none"} {
		t.Run(pos, func(t *testing.T) {
			gradCheck(t, f64Net(t, pos, 1), sftLoss)
		})
	}
}

func TestGradientDPO(t *testing.T) {
	for _, pos := range []string{"rope", "none"} {
		t.Run(pos, func(t *testing.T) {
			n := f64Net(t, pos, 2)
			ref := f64Net(t, pos, 3)
			b, ranges := testBatch()
			refLogp := ref.forward(b).logp
			gradCheck(t, n, func(logp []float64) (float64, []float64) {
				l, c, _, _ := dpoLoss(logp, refLogp, ranges, 0.5)
				return l, c
			})
		})
	}
}

// TestGradientCheckCanFail shows that, for every tensor, a 1% error in the
// analytic gradient exceeds the tolerance of the checks above.
func TestGradientCheckCanFail(t *testing.T) {
	n := f64Net(t, "rope", 4)
	b, _ := testBatch()
	a := n.forward(b)
	_, coef := sftLoss(a.logp)
	grad := make([]float64, len(n.w))
	n.backward(b, a, coef, grad)
	for _, ts := range n.lo.tensors {
		i := ts.off + ts.size/2
		const eps = 1e-5
		old := n.w[i]
		n.w[i] = old + eps
		lp, _ := sftLoss(n.forward(b).logp)
		n.w[i] = old - eps
		lm, _ := sftLoss(n.forward(b).logp)
		n.w[i] = old
		num := (lp - lm) / (2 * eps)
		// A 1% error in the analytic value must exceed the tolerance.
		wrong := grad[i] * 1.01
		if math.Abs(num-wrong) <= 1e-7+1e-5*math.Max(math.Abs(num), math.Abs(wrong)) {
			t.Errorf("%s: a 1%% gradient error would go unnoticed (grad %g)", ts.name, grad[i])
		}
	}
}

// TestFloat32MatchesFloat64 checks the float32 instantiation (the one
// models use) against the float64 one.
func TestFloat32MatchesFloat64(t *testing.T) {
	n64 := f64Net(t, "rope", 5)
	w32 := make([]float32, len(n64.w))
	for i, v := range n64.w {
		w32[i] = float32(v)
	}
	n32 := newNet(n64.lo, w32)
	b, _ := testBatch()
	a64, a32 := n64.forward(b), n32.forward(b)
	for q := range a64.logp {
		if d := math.Abs(a64.logp[q] - a32.logp[q]); d > 1e-4*math.Max(1, math.Abs(a64.logp[q])) {
			t.Errorf("logp[%d]: f64 %g f32 %g", q, a64.logp[q], a32.logp[q])
		}
	}
	_, c := sftLoss(a64.logp)
	g64, g32 := make([]float64, len(w32)), make([]float32, len(w32))
	n64.backward(b, a64, c, g64)
	n32.backward(b, a32, c, g32)
	var num, den float64
	for i := range g64 {
		num += (g64[i] - float64(g32[i])) * (g64[i] - float64(g32[i]))
		den += g64[i] * g64[i]
	}
	if rel := math.Sqrt(num / den); rel > 1e-4 {
		t.Errorf("float32 gradient differs from float64 by %g (relative L2)", rel)
	}
}
