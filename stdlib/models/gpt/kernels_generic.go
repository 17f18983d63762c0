//go:build !amd64

package gpt

const useAsm = false

func mmBlockF32(c, a, b []float32, n, k, i0, i1, j0, j1 int, acc bool) {
	panic("unreachable")
}

func dotF32(a, b []float32) float32 { panic("unreachable") }

func dotsF32(q, k []float32, stride int, out []float32)                 { panic("unreachable") }
func axpyF32(dst, x []float32, a float32)                               { panic("unreachable") }
func attnBack3F32(do, qi, dqi, kj, dkj, dvj []float32, pj, dsj float32) { panic("unreachable") }
func transposeF32(dst, src []float32, rows, cols int)                   { panic("unreachable") }
func expF64(dst, src []float64)                                         { panic("unreachable") }
func adamF32(w, g, m, v []float32, k *[10]float64, decay bool) int      { panic("unreachable") }

func causalDotsF32(s []float32, ls int, a []float32, lda int, b []float32, ldb, L, k int) {
	panic("unreachable")
}

func lowerProductF32(out []float32, ldo int, m []float32, ldm int, x []float32, ldx, L, n int) {
	panic("unreachable")
}

func upperProductF32(out []float32, ldo int, m []float32, ldm int, x []float32, ldx, L, n int) {
	panic("unreachable")
}

func siluF32(g, u, sg, s []float32) { panic("unreachable") }

func siluBackF32(g, sg, u, ds, dg, du []float32) { panic("unreachable") }

func normBackF32(dx, dy, g, x []float32, ri, c float64) { panic("unreachable") }
func normGainF32(dg, dy, x []float32, r float32)        { panic("unreachable") }
