//go:build !amd64

package gpt

const useAsm = false

func mmBlockF32(c, a, b []float32, n, k, i0, i1, j0, j1 int, acc bool) {
	panic("unreachable")
}

func dotF32(a, b []float32) float32 { panic("unreachable") }
