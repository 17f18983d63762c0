package gpt

const useAsm = false

func mmBlockF32(c, a, b []float32, n, k, i0, i1, j0, j1 int, acc bool) {
	panic("unreachable")
}
