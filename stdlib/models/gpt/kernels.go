package gpt

import (
	"math"
	"runtime"
	"sync"
)

// Float is the element type of the compute kernels. Models store float32;
// the gradient checks instantiate the same code with float64.
type Float interface{ ~float32 | ~float64 }

// parallelFor runs f over [0,n) split into contiguous chunks on up to
// GOMAXPROCS goroutines. Every kernel in this package computes each output
// element in one goroutine in a fixed order, so results never depend on how
// the work was split: training and sampling are bit-identical whatever the
// number of cores. work is a rough cost per item, used to stay serial for
// tiny jobs.
func parallelFor(n int, work int, f func(lo, hi int)) {
	if n <= 0 {
		return
	}
	p := runtime.GOMAXPROCS(0)
	if p > n {
		p = n
	}
	if p <= 1 || n*work < 1<<18 {
		f(0, n)
		return
	}
	// A few chunks per worker to balance uneven items.
	chunks := p * 4
	if chunks > n {
		chunks = n
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for w := 0; w < p; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				c := next
				next++
				mu.Unlock()
				if c >= chunks {
					return
				}
				f(c*n/chunks, (c+1)*n/chunks)
			}
		}()
	}
	wg.Wait()
}

// matmulNT computes C = A·Bᵀ (or C += A·Bᵀ when acc), with A [m,k], B [n,k],
// C [m,n], all row-major. Each C element is one sequential dot product.
func matmulNT[T Float](c, a, b []T, m, n, k int, acc bool) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !acc {
			clear(c[:m*n])
		}
		return
	}
	_ = a[m*k-1]
	_ = b[n*k-1]
	_ = c[m*n-1]
	if m >= 16 || m >= n {
		// Split rows in blocks of 6 (the asm kernel takes 3 at a time).
		blocks := (m + 5) / 6
		parallelFor(blocks, 6*n*k, func(lo, hi int) {
			mmBlock(c, a, b, n, k, lo*6, min(hi*6, m), 0, n, acc)
		})
		return
	}
	// Few rows (decoding): split columns.
	blocks := (n + 3) / 4
	parallelFor(blocks, 4*m*k, func(lo, hi int) {
		mmBlock(c, a, b, n, k, 0, m, lo*4, min(hi*4, n), acc)
	})
}

// mmBlock computes rows [i0,i1) and columns [j0,j1) of C.
func mmBlock[T Float](c, a, b []T, n, k, i0, i1, j0, j1 int, acc bool) {
	if f, ok := any(c).([]float32); ok && useAsm {
		mmBlockF32(f, any(a).([]float32), any(b).([]float32), n, k, i0, i1, j0, j1, acc)
		return
	}
	i := i0
	for ; i+4 <= i1; i += 4 {
		a0 := a[i*k : i*k+k]
		a1 := a[(i+1)*k : (i+1)*k+k]
		a2 := a[(i+2)*k : (i+2)*k+k]
		a3 := a[(i+3)*k : (i+3)*k+k]
		j := j0
		for ; j+4 <= j1; j += 4 {
			b0 := b[j*k : j*k+k]
			b1 := b[(j+1)*k : (j+1)*k+k]
			b2 := b[(j+2)*k : (j+2)*k+k]
			b3 := b[(j+3)*k : (j+3)*k+k]
			var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 T
			for x := range a0 {
				x0, x1, x2, x3 := a0[x], a1[x], a2[x], a3[x]
				y0, y1, y2, y3 := b0[x], b1[x], b2[x], b3[x]
				c00 += x0 * y0
				c01 += x0 * y1
				c02 += x0 * y2
				c03 += x0 * y3
				c10 += x1 * y0
				c11 += x1 * y1
				c12 += x1 * y2
				c13 += x1 * y3
				c20 += x2 * y0
				c21 += x2 * y1
				c22 += x2 * y2
				c23 += x2 * y3
				c30 += x3 * y0
				c31 += x3 * y1
				c32 += x3 * y2
				c33 += x3 * y3
			}
			store4(c[i*n+j:i*n+j+4], c00, c01, c02, c03, acc)
			store4(c[(i+1)*n+j:(i+1)*n+j+4], c10, c11, c12, c13, acc)
			store4(c[(i+2)*n+j:(i+2)*n+j+4], c20, c21, c22, c23, acc)
			store4(c[(i+3)*n+j:(i+3)*n+j+4], c30, c31, c32, c33, acc)
		}
		for ; j < j1; j++ {
			bj := b[j*k : j*k+k]
			set(c, i*n+j, dot(a0, bj), acc)
			set(c, (i+1)*n+j, dot(a1, bj), acc)
			set(c, (i+2)*n+j, dot(a2, bj), acc)
			set(c, (i+3)*n+j, dot(a3, bj), acc)
		}
	}
	for ; i < i1; i++ {
		ai := a[i*k : i*k+k]
		for j := j0; j < j1; j++ {
			set(c, i*n+j, dot(ai, b[j*k:j*k+k]), acc)
		}
	}
}

func store4[T Float](c []T, v0, v1, v2, v3 T, acc bool) {
	c = c[:4]
	if acc {
		c[0] += v0
		c[1] += v1
		c[2] += v2
		c[3] += v3
	} else {
		c[0], c[1], c[2], c[3] = v0, v1, v2, v3
	}
}

func set[T Float](c []T, i int, v T, acc bool) {
	if acc {
		c[i] += v
	} else {
		c[i] = v
	}
}

// dot is a plain sequential dot product (the same order as mmBlock's inner
// loop, so edge elements round exactly like block elements).
func dot[T Float](a, b []T) T {
	if useAsm {
		if af, ok := any(a).([]float32); ok {
			return T(dotF32(af, any(b).([]float32)))
		}
	}
	var s T
	b = b[:len(a)]
	for i, x := range a {
		s += x * b[i]
	}
	return s
}

// dots sets out[j] = dot(q, k[j·stride:j·stride+len(q)]) for j < len(out).
func dots[T Float](q, k []T, stride int, out []T) {
	if useAsm {
		if qf, ok := any(q).([]float32); ok {
			dotsF32(qf, any(k).([]float32), stride, any(out).([]float32))
			return
		}
	}
	hd := len(q)
	for j := range out {
		out[j] = dot(q, k[j*stride:j*stride+hd])
	}
}

// axpy: dst[d] += a·x[d] (a rounded product, then a rounded sum).
func axpy[T Float](dst, x []T, a T) {
	if useAsm {
		if df, ok := any(dst).([]float32); ok {
			axpyF32(df, any(x).([]float32), float32(a))
			return
		}
	}
	x = x[:len(dst)]
	for d := range dst {
		dst[d] += a * x[d]
	}
}

// attnBack3 is one (query i, key j) term of the attention backward pass:
// dvj += pj·do, then dqi += dsj·kj and dkj += dsj·qi.
func attnBack3[T Float](do, qi, dqi, kj, dkj, dvj []T, pj, dsj T) {
	if useAsm {
		if f, ok := any(do).([]float32); ok {
			attnBack3F32(f, any(qi).([]float32), any(dqi).([]float32), any(kj).([]float32),
				any(dkj).([]float32), any(dvj).([]float32), float32(pj), float32(dsj))
			return
		}
	}
	n := len(do)
	dvj = dvj[:n]
	for d := range dvj {
		dvj[d] += pj * do[d]
	}
	qi, dqi, kj, dkj = qi[:n], dqi[:n], kj[:n], dkj[:n]
	for d := range dqi {
		dqi[d] += dsj * kj[d]
		dkj[d] += dsj * qi[d]
	}
}

// expSlice sets dst[i] = math.Exp(src[i]) (vectorized, bit for bit the
// same results).
func expSlice(dst, src []float64) {
	if useAsm {
		expF64(dst, src)
		return
	}
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = math.Exp(x)
	}
}

// transpose writes the [cols,rows] transpose of the [rows,cols] matrix src.
func transpose[T Float](dst, src []T, rows, cols int) {
	if useAsm {
		if df, ok := any(dst).([]float32); ok {
			transposeF32(df, any(src).([]float32), rows, cols)
			return
		}
	}
	_ = dst[rows*cols-1]
	_ = src[rows*cols-1]
	const bs = 32
	parallelFor((rows+bs-1)/bs, bs*cols, func(lo, hi int) {
		for i0 := lo * bs; i0 < min(hi*bs, rows); i0 += bs {
			for j0 := 0; j0 < cols; j0 += bs {
				for i := i0; i < min(i0+bs, rows); i++ {
					for j := j0; j < min(j0+bs, cols); j++ {
						dst[j*rows+i] = src[i*cols+j]
					}
				}
			}
		}
	})
}

// sigmoids sets out[i] = sigmoid(float64(g[i])), bit for bit.
func sigmoids[T Float](out []float64, g []T) {
	// Branch-free (the signs are random): the argument is -|x| (for -0 the
	// scalar code takes exp(+0), the same 1), the numerator 1 for x >= 0
	// and e otherwise (for -0, e = 1 too). NaNs take the scalar path.
	out = out[:len(g)]
	nan := false
	for i, v := range g {
		x := float64(v)
		nan = nan || x != x
		out[i] = math.Float64frombits(math.Float64bits(x) | 1<<63)
	}
	if nan {
		for i, v := range g {
			out[i] = sigmoid(float64(v))
		}
		return
	}
	expSlice(out, out)
	const one = 0x3FF0000000000000
	for i, v := range g {
		e := out[i]
		m := uint64(int64(math.Float64bits(float64(v))) >> 63) // all ones if x < 0 (or -0)
		num := math.Float64frombits(math.Float64bits(e)&m | one&^m)
		out[i] = num / (1 + e)
	}
}

// fmax is math.Max, with the common case (distinct, ordered arguments)
// first.
func fmax(x, y float64) float64 {
	if y > x {
		return y
	}
	if x > y {
		return x
	}
	return math.Max(x, y)
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}
