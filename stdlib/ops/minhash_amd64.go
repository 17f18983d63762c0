package ops

import "os"

// minsAVX512 is minhasher.mins for the first nperm permutations (a
// multiple of 8) with AVX-512: eight permutations per register, exactly
// the same integer arithmetic as the Go loop.
//
//go:noescape
func minsAVX512(a, b, hashes, sig *uint64, nperm, nhash int)

func cpuid(eax, ecx uint32) (a, b, c, d uint32)
func xgetbv() uint32

// useAVX512 is true when the CPU has AVX-512 F and DQ (VPMULLQ) and the OS
// saves the ZMM registers. OURO_OPS_NOASM=1 forces the Go loop (the result
// is the same).
var useAVX512 = func() bool {
	if os.Getenv("OURO_OPS_NOASM") != "" {
		return false
	}
	max, _, _, _ := cpuid(0, 0)
	if max < 7 {
		return false
	}
	_, _, c1, _ := cpuid(1, 0)
	const osxsave = 1 << 27
	if c1&osxsave == 0 {
		return false
	}
	// XMM, YMM, opmask and both halves of the ZMM state enabled by the OS.
	if xgetbv()&0xe6 != 0xe6 {
		return false
	}
	_, b7, _, _ := cpuid(7, 0)
	const avx512f, avx512dq = 1 << 16, 1 << 17
	return b7&avx512f != 0 && b7&avx512dq != 0
}()
