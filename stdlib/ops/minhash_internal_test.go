package ops

import (
	"math"
	"strings"
	"testing"
	"unicode"

	"github.com/cespare/xxhash/v2"

	"github.com/ouroloop/ouro/stdlib/ops/opstest"
)

// referenceSignature is MinHash's definition written plainly (the
// implementation before 2026-12-07): strings.ToLower, strings.FieldsFunc,
// each shingle's words written to a digest, one permutation at a time.
func referenceSignature(m *minhasher, text string, sig []uint64) {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	var hashes []uint64
	k := m.shingle
	if len(words) <= k {
		if len(words) > 0 {
			hashes = append(hashes, xxhash.Sum64String(strings.Join(words, " ")))
		}
	} else {
		d := xxhash.New()
		for i := 0; i+k <= len(words); i++ {
			d.Reset()
			for j := i; j < i+k; j++ {
				d.WriteString(words[j])
				d.Write([]byte{' '})
			}
			hashes = append(hashes, d.Sum64())
		}
	}
	for i := range sig {
		sig[i] = math.MaxUint64
	}
	for _, h := range hashes {
		for i := range sig {
			if v := m.a[i]*h + m.b[i]; v < sig[i] {
				sig[i] = v
			}
		}
	}
}

// TestMinhashSignatureReference checks that signature computes exactly
// the reference signature: on the planted set, on texts of every length up
// to a few shingles, on non-ASCII and invalid UTF-8, for several shingle
// sizes and permutation counts (not multiples of the unrolling too), with
// the Go loop and, where the CPU has it, the AVX-512 kernel.
func TestMinhashSignatureReference(t *testing.T) {
	texts := []string{
		"", " ", "...", "a", "A", "a b", "a b c", "a b c d", "Hello, World!", "x1 y2  z3\t\nw4",
		"Write a short poem about the SEA and the wind at night, near the old harbour town!",
		"日本語 の 文章 を 書い て ください", "ÉCOLE Straße ǅemal İstanbul ΣΊΣΥΦΟΣ", "naïve café, déjà vu 123",
		"bad \xff utf8 \xc3 here", "tab\tsep\u00a0nbsp\u2003emsp", "MiXeD 42 ١٢٣ digits", "a\x00b\x7fc",
	}
	texts = append(texts, opstest.NewPlanted(300, 3, 5).Texts...)
	for i := range 40 {
		texts = append(texts, strings.Repeat("w"+strings.Repeat("o", i%5)+" ", i))
	}
	defer func(v bool) { useAVX512 = v }(useAVX512)
	paths := []bool{false}
	if useAVX512 {
		paths = append(paths, true)
	} else {
		t.Log("no AVX-512 here: the Go loop only")
	}
	for _, asm := range paths {
		useAVX512 = asm
		testSignatures(t, texts)
	}
}

func testSignatures(t *testing.T, texts []string) {
	for _, perms := range []int{1, 3, 4, 7, 8, 33, 72, 128, 130} {
		for _, k := range []int{1, 2, 3, 5} {
			m := newMinhasher(perms, k)
			var s sigScratch
			got, want := make([]uint64, perms), make([]uint64, perms)
			for _, text := range texts {
				m.signature(text, got, &s)
				referenceSignature(m, text, want)
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("avx512 %v, perms %d, shingle %d, %q: position %d is %x, want %x", useAVX512, perms, k, text, i, got[i], want[i])
					}
				}
			}
		}
	}
}
