//go:build !amd64

package ops

var useAVX512 = false

func minsAVX512(a, b, hashes, sig *uint64, nperm, nhash int) { panic("unreachable") }
