package gpt

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMatmulAsmBitExact: the register-blocked kernel gives, element by
// element, exactly the bits of dot1AVX (the arithmetic of every earlier
// version of the kernel), for shapes with row, column and k remainders.
func TestMatmulAsmBitExact(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, sh := range [][3]int{{1, 1, 1}, {3, 4, 8}, {7, 13, 29}, {32, 64, 64}, {17, 344, 128}, {64, 128, 344}, {5, 9, 1024}, {40, 70, 2000}} {
		m, n, k := sh[0], sh[1], sh[2]
		a, b := make([]float32, m*k), make([]float32, n*k)
		for i := range a {
			a[i] = float32(r.NormFloat64())
		}
		for i := range b {
			b[i] = float32(r.NormFloat64())
		}
		for _, acc := range []bool{false, true} {
			c := make([]float32, m*n)
			want := make([]float32, m*n)
			for i := range c {
				c[i] = float32(r.NormFloat64())
				want[i] = c[i]
			}
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					v := dot1AVX(&a[i*k], &b[j*k], k)
					if acc {
						want[i*n+j] += v
					} else {
						want[i*n+j] = v
					}
				}
			}
			matmulNT(c, a, b, m, n, k, acc)
			for i := range c {
				if math.Float32bits(c[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%v acc=%v: element %d = %v, want %v", sh, acc, i, c[i], want[i])
				}
			}
		}
	}
}

// TestAttentionKernelsBitExact: the vectorized attention and transpose
// kernels give exactly the bits of the portable loops they replace, for
// lengths with and without a remainder of 8.
func TestAttentionKernelsBitExact(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA")
	}
	r := rand.New(rand.NewPCG(5, 6))
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	same := func(what string, got, want []float32) {
		t.Helper()
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: element %d = %v, want %v", what, i, got[i], want[i])
			}
		}
	}
	for _, hd := range []int{1, 5, 8, 16, 19, 32, 64} {
		const np, stride = 13, 70
		q, k := vec(hd), vec((np-1)*stride+hd)
		got, want := make([]float32, np), make([]float32, np)
		dots(q, k, stride, got)
		for j := range want {
			want[j] = dot1AVX(&q[0], &k[j*stride], hd)
		}
		same("dots", got, want)

		x, a := vec(hd), float32(r.NormFloat64())
		dst := vec(hd)
		ref := append([]float32(nil), dst...)
		axpy(dst, x, a)
		for d := range ref {
			ref[d] += a * x[d]
		}
		same("axpy", dst, ref)

		do, qi, kj := vec(hd), vec(hd), vec(hd)
		dqi, dkj, dvj := vec(hd), vec(hd), vec(hd)
		rq, rk, rv := append([]float32(nil), dqi...), append([]float32(nil), dkj...), append([]float32(nil), dvj...)
		pj, dsj := float32(r.Float64()), float32(r.NormFloat64())
		attnBack3(do, qi, dqi, kj, dkj, dvj, pj, dsj)
		for d := 0; d < hd; d++ {
			rv[d] += pj * do[d]
			rq[d] += dsj * kj[d]
			rk[d] += dsj * qi[d]
		}
		same("attnBack3 dv", dvj, rv)
		same("attnBack3 dq", dqi, rq)
		same("attnBack3 dk", dkj, rk)
	}
	for _, sh := range [][2]int{{1, 1}, {8, 8}, {3, 17}, {17, 3}, {16, 24}, {1016, 256}, {45, 61}} {
		rows, cols := sh[0], sh[1]
		src := vec(rows * cols)
		dst := make([]float32, rows*cols)
		transpose(dst, src, rows, cols)
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				if dst[j*rows+i] != src[i*cols+j] {
					t.Fatalf("transpose %v: [%d,%d] wrong", sh, i, j)
				}
			}
		}
	}
}

// TestExpBitExact: the vectorized exp returns math.Exp's bits, including
// around the special cases it hands back to math.Exp.
func TestExpBitExact(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA")
	}
	r := rand.New(rand.NewPCG(7, 8))
	var xs []float64
	for i := 0; i < 200000; i++ {
		switch i % 4 {
		case 0:
			xs = append(xs, (r.Float64()*2-1)*800)
		case 1:
			xs = append(xs, -r.Float64()*30)
		case 2:
			xs = append(xs, r.NormFloat64()*1e-3)
		default:
			xs = append(xs, -700-r.Float64()*50)
		}
	}
	ord := []float64{0.5, -1, 2, -3, 0.1, -10, 3, 1}
	if k := expAVX(&make([]float64, 8)[0], &ord[0], 8); k != 8 { // the vector path runs
		t.Fatalf("expAVX stopped at %d of 8 ordinary arguments", k)
	}
	xs = append(xs, 0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), 709.782712893384, 709.79, -708.39, -745.2, -745.1, 1e-300, -1e-300, math.MaxFloat64, -math.MaxFloat64)
	for off := 0; off < 4; off++ {
		got := make([]float64, len(xs)-off)
		expSlice(got, xs[off:])
		for i, x := range xs[off:] {
			if w := math.Exp(x); math.Float64bits(got[i]) != math.Float64bits(w) && !(math.IsNaN(w) && math.IsNaN(got[i])) {
				t.Fatalf("exp(%v) = %v, want %v", x, got[i], w)
			}
		}
	}
}

// TestAdamBitExact: the vectorized AdamW step gives the portable loop's
// bits, with and without decay and with a remainder of 4.
func TestAdamBitExact(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA")
	}
	r := rand.New(rand.NewPCG(9, 10))
	const n = 103
	vec := func(s float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64() * s)
		}
		return v
	}
	for _, decay := range []bool{false, true} {
		a := &adamW{o: TrainOptions{Beta1: 0.9, Beta2: 0.95, WeightDecay: 0.1}, decay: make([]bool, n)}
		for i := range a.decay {
			a.decay[i] = decay
		}
		w, g := vec(1), vec(0.01)
		m, v := vec(0.001), vec(0.001)
		for i := range v {
			v[i] = v[i] * v[i]
		}
		w2, m2, v2 := append([]float32(nil), w...), append([]float32(nil), m...), append([]float32(nil), v...)
		const scale, lr, c1, c2 = 0.7, 1e-3, 0.19, 0.0975
		b1, b2 := a.o.Beta1, a.o.Beta2
		k := [10]float64{scale, b1, 1 - b1, b2, 1 - b2, c1, c2, lr, lr * a.o.WeightDecay, 1e-8}
		a.m, a.v = m, v
		done := adamF32(w, g, m, v, &k, decay)
		a.scalar(w, g, done, n, scale, lr, c1, c2)
		a.m, a.v = m2, v2
		a.scalar(w2, g, 0, n, scale, lr, c1, c2)
		for i := range w {
			if math.Float32bits(w[i]) != math.Float32bits(w2[i]) || m[i] != m2[i] || v[i] != v2[i] {
				t.Fatalf("decay=%v: parameter %d: w %v m %v v %v, want %v %v %v", decay, i, w[i], m[i], v[i], w2[i], m2[i], v2[i])
			}
		}
		if done != n&^3 {
			t.Fatalf("vector part %d, want %d", done, n&^3)
		}
	}
}

// TestSigmoidsBitExact: the branch-free SiLU gate equals sigmoid()
// element by element, signed zeros and overflow included.
func TestSigmoidsBitExact(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	g := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 88, -88, 800, -800, float32(math.Inf(1)), float32(math.Inf(-1))}
	for i := 0; i < 1000; i++ {
		g = append(g, float32(r.NormFloat64()*5))
	}
	out := make([]float64, len(g))
	sigmoids(out, g)
	for i, v := range g {
		if w := sigmoid(float64(v)); math.Float64bits(out[i]) != math.Float64bits(w) {
			t.Fatalf("sigmoid(%v) = %v, want %v", v, out[i], w)
		}
	}
	nan := []float32{1, float32(math.NaN()), -1}
	out = make([]float64, 3)
	sigmoids(out, nan)
	if out[0] != sigmoid(1) || !math.IsNaN(out[1]) || out[2] != sigmoid(-1) {
		t.Fatalf("with a NaN: %v", out)
	}
}

// TestCausalKernelsBitExact: the whole-sequence attention kernels (causal
// scores, and the lower and upper triangular weighted sums of rows) give
// exactly the bits of the per-row kernels they replace (dot1AVX per score,
// axpy per term in the same order), for sequence lengths around the
// 3-row blocks and widths with remainders of 32 and 8, rows with strides.
func TestCausalKernelsBitExact(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA")
	}
	r := rand.New(rand.NewPCG(13, 14))
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	for _, L := range []int{1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 64} {
		for _, n := range []int{1, 5, 8, 12, 16, 31, 32, 40, 45, 64, 77} {
			const pad = 3 // row strides wider than the rows
			ld := n + pad
			a, b := vec(L*ld), vec(L*ld)
			s := vec(L * L)
			causalDotsF32(s, L, a, ld, b, ld, L, n)
			for i := 0; i < L; i++ {
				for j := 0; j <= i; j++ {
					if w := dot1AVX(&a[i*ld], &b[j*ld], n); math.Float32bits(s[i*L+j]) != math.Float32bits(w) {
						t.Fatalf("causalDots L=%d n=%d [%d,%d] = %v, want %v", L, n, i, j, s[i*L+j], w)
					}
				}
			}
			m, x := vec(L*L), vec(L*ld)
			out := vec(L * ld)
			want := append([]float32(nil), out...)
			lowerProductF32(out, ld, m, L, x, ld, L, n)
			for i := 0; i < L; i++ {
				row := want[i*ld : i*ld+n]
				clear(row)
				for j := 0; j <= i; j++ {
					for d := range row {
						row[d] += m[i*L+j] * x[j*ld+d]
					}
				}
			}
			for i := range want {
				if math.Float32bits(out[i]) != math.Float32bits(want[i]) {
					t.Fatalf("lowerProduct L=%d n=%d element %d = %v, want %v", L, n, i, out[i], want[i])
				}
			}
			out = vec(L * ld)
			want = append(want[:0], out...)
			upperProductF32(out, ld, m, L, x, ld, L, n)
			for j := 0; j < L; j++ {
				row := want[j*ld : j*ld+n]
				for i := j; i < L; i++ {
					for d := range row {
						row[d] += m[i*L+j] * x[i*ld+d]
					}
				}
			}
			for i := range want {
				if math.Float32bits(out[i]) != math.Float32bits(want[i]) {
					t.Fatalf("upperProduct L=%d n=%d element %d = %v, want %v", L, n, i, out[i], want[i])
				}
			}
		}
	}
}

// TestSiluBitExact: the vectorized SwiGLU gate gives the bits of the
// portable loop (sigmoids, then the products), signed zeros, overflow,
// arguments whose exp is denormal and NaNs included, with remainders of 4.
func TestSiluBitExact(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA")
	}
	r := rand.New(rand.NewPCG(15, 16))
	g := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 88, -88, 720, -720, 745.5, -745.5, 800, -800, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 3}
	for i := 0; i < 1001; i++ {
		g = append(g, float32(r.NormFloat64()*5))
	}
	u := make([]float32, len(g))
	for i := range u {
		u[i] = float32(r.NormFloat64())
	}
	ord := []float32{0.5, -1, 2, -3, 0.1, -10, 3, 1}
	if k := siluAVX(&ord[0], &u[0], &make([]float32, 8)[0], &make([]float32, 8)[0], 8); k != 8 { // the vector path runs
		t.Fatalf("siluAVX stopped at %d of 8 ordinary arguments", k)
	}
	for off := 0; off < 4; off++ {
		gg, uu := g[off:], u[off:]
		n := len(gg)
		sg, s := make([]float32, n), make([]float32, n)
		siluF32(gg, uu, sg, s)
		for i, v := range gg {
			x := float64(v)
			w := sigmoid(x)
			wsg, ws := float32(w), float32(x*w)*uu[i]
			if math.IsNaN(x) {
				if !math.IsNaN(float64(sg[i])) || !math.IsNaN(float64(s[i])) {
					t.Fatalf("silu(NaN) = %v, %v", sg[i], s[i])
				}
				continue
			}
			if math.Float32bits(sg[i]) != math.Float32bits(wsg) || math.Float32bits(s[i]) != math.Float32bits(ws) {
				t.Fatalf("silu(%v): sg %v s %v, want %v %v", v, sg[i], s[i], wsg, ws)
			}
		}
	}
}

// TestSiluBackBitExact: the vectorized backward of the SwiGLU gate gives
// the portable loop's bits, with remainders of 4.
func TestSiluBackBitExact(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA")
	}
	r := rand.New(rand.NewPCG(17, 18))
	const n = 1003
	vec := func(s float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64() * s)
		}
		return v
	}
	g, u, ds := vec(5), vec(1), vec(0.01)
	g[0], g[1], g[2] = 0, float32(math.Copysign(0, -1)), 90
	sg := make([]float32, n)
	for i, v := range g {
		sg[i] = float32(sigmoid(float64(v)))
	}
	for off := 0; off < 4; off++ {
		m := n - off
		dg, du := make([]float32, m), make([]float32, m)
		siluBackF32(g[off:], sg[off:], u[off:], ds[off:], dg, du)
		for j := 0; j < m; j++ {
			i := j + off
			x, s := float64(g[i]), float64(sg[i])
			wdu := ds[i] * float32(x*s)
			wdg := ds[i] * u[i] * float32(s*(1+x*(1-s)))
			if math.Float32bits(du[j]) != math.Float32bits(wdu) || math.Float32bits(dg[j]) != math.Float32bits(wdg) {
				t.Fatalf("element %d: du %v dg %v, want %v %v", i, du[j], dg[j], wdu, wdg)
			}
		}
	}
}

// TestNormBackBitExact: the vectorized loops of rmsnormBack (the input
// gradient of a row and the gain accumulation) give the portable loops'
// bits, for widths with remainders of 4 and 8.
func TestNormBackBitExact(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA")
	}
	r := rand.New(rand.NewPCG(19, 20))
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	for _, n := range []int{1, 3, 4, 7, 8, 13, 64, 128, 131} {
		dx, dy, g, x := vec(n), vec(n), vec(n), vec(n)
		ri, c := r.Float64()+0.5, r.NormFloat64()*0.01
		want := append([]float32(nil), dx...)
		normBackF32(dx, dy, g, x, ri, c)
		for j := range want {
			want[j] += float32(ri*float64(dy[j]*g[j]) - float64(x[j])*c)
		}
		dg := vec(n)
		wantG := append([]float32(nil), dg...)
		rr := float32(ri)
		normGainF32(dg, dy, x, rr)
		for j := range wantG {
			wantG[j] += dy[j] * x[j] * rr
		}
		for j := 0; j < n; j++ {
			if math.Float32bits(dx[j]) != math.Float32bits(want[j]) || math.Float32bits(dg[j]) != math.Float32bits(wantG[j]) {
				t.Fatalf("n=%d element %d: dx %v dg %v, want %v %v", n, j, dx[j], dg[j], want[j], wantG[j])
			}
		}
	}
}
