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
