package gpt

import (
	"math"
	"os"
)

//go:noescape
func dot4AVX(a, b *float32, k, ldb int, out *float32)

//go:noescape
func dot1AVX(a, b *float32, k int) float32

//go:noescape
func mm3x4AVX(a *float32, lda int, b *float32, ldb, k int, c *float32, ldc int, nb int, acc int)

//go:noescape
func pv3AVX(a *float32, ars, ats int, b *float32, ldb int, c *float32, ldc int, t, n int, acc int)

//go:noescape
func dotsAVX(q, k *float32, stride, np, hd int, out *float32)

//go:noescape
func axpyAVX(dst, x *float32, a float32, n int)

//go:noescape
func attnBack3AVX(do, qi, dqi, kj, dkj, dvj *float32, pj, dsj float32, n int)

//go:noescape
func transpose8AVX(dst *float32, ldd int, src *float32, lds int, nb int)

//go:noescape
func expAVX(dst, src *float64, n int) int

//go:noescape
func siluAVX(gate, u, sg, s *float32, n int) int

//go:noescape
func siluBackAVX(gate, sg, u, ds, dg, du *float32, n int)

//go:noescape
func normBackAVX(dx, dy, gain, x *float32, ri, c float64, n int)

//go:noescape
func normGainAVX(dg, dy, x *float32, r float32, n int)

//go:noescape
func adamAVX(w, gr, m, v *float32, n int, k *float64, decay int)

func cpuid(eax, ecx uint32) (a, b, c, d uint32)
func xgetbv() uint32

// useAsm is true when the CPU and OS support AVX2 and FMA. Set
// OURO_GPT_NOASM=1 to force the portable kernels (results then differ in
// the last bits: float32 sums are ordered differently).
var useAsm = func() bool {
	if os.Getenv("OURO_GPT_NOASM") != "" {
		return false
	}
	max, _, _, _ := cpuid(0, 0)
	if max < 7 {
		return false
	}
	_, _, c1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if c1&fma == 0 || c1&osxsave == 0 || c1&avx == 0 {
		return false
	}
	if xgetbv()&6 != 6 { // XMM and YMM state enabled by the OS
		return false
	}
	_, b7, _, _ := cpuid(7, 0)
	return b7&(1<<5) != 0 // AVX2
}()

// mmBlockF32 is mmBlock for float32 with AVX2/FMA: one row of A against
// four rows of B at a time, columns tiled to stay in cache. Every element
// is computed by the same arithmetic (dot4AVX's column = dot1AVX), so a
// result never depends on its neighbours.
func mmBlockF32(c, a, b []float32, n, k, i0, i1, j0, j1 int, acc bool) {
	tile := max(4, (32<<10)/k&^3)
	accI := 0
	if acc {
		accI = 1
	}
	var out [4]float32
	for jt := j0; jt < j1; jt += tile {
		je := min(jt+tile, j1)
		nb := (je - jt) / 4
		i := i0
		// Three rows at a time through the register-blocked kernel.
		for ; i+3 <= i1; i += 3 {
			if nb > 0 {
				_ = c[(i+2)*n+jt+4*nb-1]
				_ = b[(jt+4*nb)*k-1]
				mm3x4AVX(&a[i*k], k, &b[jt*k], k, k, &c[i*n+jt], n, nb, accI)
			}
			for j := jt + 4*nb; j < je; j++ {
				for r := i; r < i+3; r++ {
					v := dot1AVX(&a[r*k], &b[j*k], k)
					if acc {
						c[r*n+j] += v
					} else {
						c[r*n+j] = v
					}
				}
			}
		}
		for ; i < i1; i++ {
			ai := &a[i*k]
			ci := c[i*n : i*n+n]
			j := jt
			for ; j+4 <= je; j += 4 {
				dot4AVX(ai, &b[j*k], k, k, &out[0])
				if acc {
					ci[j] += out[0]
					ci[j+1] += out[1]
					ci[j+2] += out[2]
					ci[j+3] += out[3]
				} else {
					ci[j], ci[j+1], ci[j+2], ci[j+3] = out[0], out[1], out[2], out[3]
				}
			}
			for ; j < je; j++ {
				v := dot1AVX(ai, &b[j*k], k)
				if acc {
					ci[j] += v
				} else {
					ci[j] = v
				}
			}
		}
	}
}

// dotF32 is the float32 dot product used outside matrix products.
func dotF32(a, b []float32) float32 {
	if len(a) == 0 {
		return 0
	}
	_ = b[len(a)-1]
	return dot1AVX(&a[0], &b[0], len(a))
}

// dotsF32: out[j] = dotF32(q, k[j·stride:]) for j < len(out).
func dotsF32(q, k []float32, stride int, out []float32) {
	np, hd := len(out), len(q)
	if np == 0 {
		return
	}
	if hd == 0 {
		clear(out)
		return
	}
	_ = k[(np-1)*stride+hd-1]
	dotsAVX(&q[0], &k[0], stride, np, hd, &out[0])
}

// axpyF32: dst[d] += a·x[d].
func axpyF32(dst, x []float32, a float32) {
	if len(dst) == 0 {
		return
	}
	_ = x[len(dst)-1]
	axpyAVX(&dst[0], &x[0], a, len(dst))
}

// attnBack3F32: dvj += pj·do, dqi += dsj·kj, dkj += dsj·qi.
func attnBack3F32(do, qi, dqi, kj, dkj, dvj []float32, pj, dsj float32) {
	n := len(do)
	if n == 0 {
		return
	}
	_, _, _, _, _ = qi[n-1], dqi[n-1], kj[n-1], dkj[n-1], dvj[n-1]
	attnBack3AVX(&do[0], &qi[0], &dqi[0], &kj[0], &dkj[0], &dvj[0], pj, dsj, n)
}

// transposeF32 is transpose for float32: 8×8 blocks in registers, the
// edges element by element.
func transposeF32(dst, src []float32, rows, cols int) {
	_ = dst[rows*cols-1]
	_ = src[rows*cols-1]
	nb := cols / 8
	parallelFor((rows+7)/8, 8*cols, func(lo, hi int) {
		for i := lo * 8; i < min(hi*8, rows); i += 8 {
			if i+8 <= rows {
				if nb > 0 {
					transpose8AVX(&dst[i], rows, &src[i*cols], cols, nb)
				}
				for r := i; r < i+8; r++ {
					for j := nb * 8; j < cols; j++ {
						dst[j*rows+r] = src[r*cols+j]
					}
				}
				continue
			}
			for r := i; r < rows; r++ {
				for j := 0; j < cols; j++ {
					dst[j*rows+r] = src[r*cols+j]
				}
			}
		}
	})
}

// expF64 sets dst[i] = math.Exp(src[i]), bit for bit.
func expF64(dst, src []float64) {
	n := len(src)
	dst = dst[:n]
	i := 0
	for n-i >= 4 {
		i += expAVX(&dst[i], &src[i], n-i)
		if n-i >= 4 { // a group math.Exp treats specially
			for e := i + 4; i < e; i++ {
				dst[i] = math.Exp(src[i])
			}
		}
	}
	for ; i < n; i++ {
		dst[i] = math.Exp(src[i])
	}
}

// adamF32 runs adamAVX over the multiple-of-4 prefix of w and returns its
// length; the caller does the rest.
func adamF32(w, g, m, v []float32, k *[10]float64, decay bool) int {
	n := len(w) &^ 3
	if n == 0 {
		return 0
	}
	_, _, _ = g[n-1], m[n-1], v[n-1]
	d := 0
	if decay {
		d = 1
	}
	adamAVX(&w[0], &g[0], &m[0], &v[0], n, &k[0], d)
	return n
}

// causalDotsF32 sets s[i·ls+j] = dotF32(a[i·lda:i·lda+k], b[j·ldb:j·ldb+k])
// for j ≤ i < L: the causal scores of L query rows against L key rows,
// each with exactly dot1AVX's arithmetic, three rows at a time through the
// register-blocked kernel. Entries of s right of the diagonal (j < ls) may
// be overwritten with other such dot products.
func causalDotsF32(s []float32, ls int, a []float32, lda int, b []float32, ldb, L, k int) {
	if L == 0 {
		return
	}
	_ = s[(L-1)*ls+L-1]
	_ = a[(L-1)*lda+k-1]
	_ = b[(L-1)*ldb+k-1]
	i := 0
	for ; i+3 <= L; i += 3 {
		nc := i + 3 // columns the three rows need
		nb := nc / 4
		if nb > 0 {
			mm3x4AVX(&a[i*lda], lda, &b[0], ldb, k, &s[i*ls], ls, nb, 0)
		}
		for j := 4 * nb; j < nc; j++ {
			for r := i; r < i+3; r++ {
				s[r*ls+j] = dot1AVX(&a[r*lda], &b[j*ldb], k)
			}
		}
	}
	for ; i < L; i++ {
		dotsF32(a[i*lda:i*lda+k], b, ldb, s[i*ls:i*ls+i+1])
	}
}

// triangleFits reports whether there is work for lowerProductF32 or
// upperProductF32 (L and n not zero), panicking, as an index would, if a
// slice is too short for it.
func triangleFits(out []float32, ldo int, m []float32, ldm int, x []float32, ldx, L, n int) bool {
	if L == 0 || n == 0 {
		return false
	}
	_ = out[(L-1)*ldo+n-1]
	_ = m[(L-1)*ldm+L-1]
	_ = x[(L-1)*ldx+n-1]
	return true
}

// lowerProductF32 sets out[i·ldo+d] = Σ_{j≤i} m[i·ldm+j]·x[j·ldx+d] for
// i < L, d < n, adding the terms in order of j from zero, each a rounded
// product then a rounded sum: what clear(out row) and axpyF32 for j = 0…i
// compute (attention's weighted values; dQ = dS·K).
func lowerProductF32(out []float32, ldo int, m []float32, ldm int, x []float32, ldx, L, n int) {
	if !triangleFits(out, ldo, m, ldm, x, ldx, L, n) {
		return
	}
	i := 0
	for ; i+3 <= L; i += 3 {
		// The terms j ≤ i all three rows have, then the triangle.
		pv3AVX(&m[i*ldm], ldm, 1, &x[0], ldx, &out[i*ldo], ldo, i+1, n, 0)
		for r := i + 1; r < i+3; r++ {
			for j := i + 1; j <= r; j++ {
				axpyAVX(&out[r*ldo], &x[j*ldx], m[r*ldm+j], n)
			}
		}
	}
	for ; i < L; i++ {
		clear(out[i*ldo : i*ldo+n])
		for j := 0; j <= i; j++ {
			axpyAVX(&out[i*ldo], &x[j*ldx], m[i*ldm+j], n)
		}
	}
}

// upperProductF32 adds to out[j·ldo+d] the terms m[i·ldm+j]·x[i·ldx+d] for
// i = j…L-1 in that order, for j < L, d < n, each a rounded product then a
// rounded sum: what axpyF32 for i = j, j+1, … computes (dV = Pᵀ·dO and
// dK = dSᵀ·Q).
func upperProductF32(out []float32, ldo int, m []float32, ldm int, x []float32, ldx, L, n int) {
	if !triangleFits(out, ldo, m, ldm, x, ldx, L, n) {
		return
	}
	j := 0
	for ; j+3 <= L; j += 3 {
		// The triangle, then the terms i ≥ j+2 all three rows have.
		for r := j; r < j+2; r++ {
			for i := r; i < j+2; i++ {
				axpyAVX(&out[r*ldo], &x[i*ldx], m[i*ldm+r], n)
			}
		}
		if t := L - (j + 2); t > 0 {
			pv3AVX(&m[(j+2)*ldm+j], 1, ldm, &x[(j+2)*ldx], ldx, &out[j*ldo], ldo, t, n, 1)
		}
	}
	for ; j < L; j++ {
		for i := j; i < L; i++ {
			axpyAVX(&out[j*ldo], &x[i*ldx], m[i*ldm+j], n)
		}
	}
}

// siluF32 is the SwiGLU gate: sg[i] = float32(σ) and
// s[i] = float32(float64(g[i])·σ)·u[i] with σ = sigmoid(float64(g[i])),
// bit for bit, groups of four in siluAVX (those it hands back with sigmoid).
func siluF32(g, u, sg, s []float32) {
	n := len(g)
	if n == 0 {
		return
	}
	_, _, _ = u[n-1], sg[n-1], s[n-1]
	i := 0
	for n-i >= 4 {
		i += siluAVX(&g[i], &u[i], &sg[i], &s[i], n-i)
		if n-i >= 4 {
			for e := i + 4; i < e; i++ {
				siluAt(g, u, sg, s, i)
			}
		}
	}
	for ; i < n; i++ {
		siluAt(g, u, sg, s, i)
	}
}

func siluAt(g, u, sg, s []float32, i int) {
	x := float64(g[i])
	v := sigmoid(x)
	sg[i] = float32(v)
	s[i] = float32(x*v) * u[i]
}

// siluBackF32 is the SwiGLU gate's backward: du = ds·float32(g·σ),
// dg = ds·u·float32(σ·(1+g·(1-σ))), bit for bit as the portable loop.
func siluBackF32(g, sg, u, ds, dg, du []float32) {
	n := len(g)
	if n == 0 {
		return
	}
	_, _, _, _, _ = sg[n-1], u[n-1], ds[n-1], dg[n-1], du[n-1]
	siluBackAVX(&g[0], &sg[0], &u[0], &ds[0], &dg[0], &du[0], n)
	for i := n &^ 3; i < n; i++ {
		x, s := float64(g[i]), float64(sg[i])
		du[i] = ds[i] * float32(x*s)
		dg[i] = ds[i] * u[i] * float32(s*(1+x*(1-s)))
	}
}

// normBackF32: dx[j] += float32(ri·float64(dy[j]·g[j]) - float64(x[j])·c).
func normBackF32(dx, dy, g, x []float32, ri, c float64) {
	n := len(dx)
	if n == 0 {
		return
	}
	_, _, _ = dy[n-1], g[n-1], x[n-1]
	normBackAVX(&dx[0], &dy[0], &g[0], &x[0], ri, c, n)
	for j := n &^ 3; j < n; j++ {
		dx[j] += float32(ri*float64(dy[j]*g[j]) - float64(x[j])*c)
	}
}

// normGainF32: dg[j] += dy[j]·x[j]·r.
func normGainF32(dg, dy, x []float32, r float32) {
	n := len(dg)
	if n == 0 {
		return
	}
	_, _ = dy[n-1], x[n-1]
	normGainAVX(&dg[0], &dy[0], &x[0], r, n)
	for j := n &^ 7; j < n; j++ {
		dg[j] += dy[j] * x[j] * r
	}
}
