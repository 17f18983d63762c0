// Package opstest holds test data for stdlib/ops shared by its tests and
// the benchmarks in bench/ops: a planted-duplicates set for near-duplicate
// detection and the score of a dedupe against it. It imports nothing of
// ouro, so both can use it.
package opstest

import (
	"strings"
	"unicode"
)

// Planted is a set of short documents with near-duplicates planted at
// known Jaccard similarities. Some base documents get one variant (word
// substitutions, insertions, deletions, adjacent swaps, and changes of case
// and punctuation, which do not change the words); bases and variants are
// shuffled together. Of a pair, the document that comes first is the
// original and the later one the planted duplicate.
type Planted struct {
	Texts []string
	// Of[i] is the index of the earlier document of i's pair when i is the
	// later one, else -1.
	Of []int
	// J[i] is the exact Jaccard similarity of the word-shingle sets of i
	// and Of[i] (0 when Of[i] is -1), with the tokenisation of dedupe's
	// minhash method (lower-cased runs of letters and digits).
	J []float64
}

// NewPlanted makes about 1.5·bases documents of 10–30 words (half of the
// bases get a variant) from a fixed seed; shingle is the number of words
// per shingle for J.
func NewPlanted(bases int, shingle int, seed uint64) *Planted {
	rng := seed*0x9e3779b97f4a7c15 + 1
	next := func() uint64 { // splitmix64
		rng += 0x9e3779b97f4a7c15
		z := rng
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	intn := func(n int) int { return int(next() % uint64(n)) }
	unit := func() float64 { return float64(next()>>11) / (1 << 53) }

	syll := []string{"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "pe", "da", "shi", "gan", "tor", "bel", "ix", "um", "or", "en", "qua", "zel"}
	vocab := make([]string, 5000)
	for i := range vocab {
		var b strings.Builder
		for range 1 + intn(3) {
			b.WriteString(syll[intn(len(syll))])
		}
		vocab[i] = b.String()
	}
	word := func() string { // skewed towards the first words, as text is
		u := unit()
		return vocab[int(u*u*float64(len(vocab)))]
	}
	surface := func(words []string) string {
		var b strings.Builder
		for i, w := range words {
			if i > 0 {
				b.WriteByte(' ')
			}
			if unit() < 0.1 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			b.WriteString(w)
			if unit() < 0.1 {
				b.WriteString([]string{",", ".", "!", "?", ";"}[intn(5)])
			}
		}
		return b.String()
	}

	type doc struct {
		text string
		pair int // index into pairs of the pair, or -1
	}
	var docs []doc
	var pairs [][2]string
	for range bases {
		n := 10 + intn(21)
		words := make([]string, n)
		for j := range words {
			words[j] = word()
		}
		base := surface(words)
		if unit() >= 0.5 {
			docs = append(docs, doc{base, -1})
			continue
		}
		v := append([]string(nil), words...)
		edits := intn(9) // 0–8
		for range edits {
			switch intn(4) {
			case 0: // substitute
				v[intn(len(v))] = word()
			case 1: // insert
				p := intn(len(v) + 1)
				v = append(v[:p], append([]string{word()}, v[p:]...)...)
			case 2: // delete
				if len(v) > 3 {
					p := intn(len(v))
					v = append(v[:p], v[p+1:]...)
				}
			case 3: // swap neighbours
				if len(v) > 1 {
					p := intn(len(v) - 1)
					v[p], v[p+1] = v[p+1], v[p]
				}
			}
		}
		pairs = append(pairs, [2]string{base, surface(v)})
		docs = append(docs, doc{base, len(pairs) - 1}, doc{pairs[len(pairs)-1][1], len(pairs) - 1})
	}
	for i := len(docs) - 1; i > 0; i-- {
		j := intn(i + 1)
		docs[i], docs[j] = docs[j], docs[i]
	}
	p := &Planted{Texts: make([]string, len(docs)), Of: make([]int, len(docs)), J: make([]float64, len(docs))}
	first := map[int]int{} // pair → index of its earlier document
	for i, d := range docs {
		p.Texts[i], p.Of[i] = d.text, -1
		if d.pair < 0 {
			continue
		}
		if j, ok := first[d.pair]; ok {
			p.Of[i] = j
			p.J[i] = Jaccard(p.Texts[j], d.text, shingle)
		} else {
			first[d.pair] = i
		}
	}
	return p
}

// Jaccard is the exact Jaccard similarity of two texts' shingle sets: the
// texts lower-cased and split into runs of letters and digits, shingles of
// k consecutive words (the whole text when it has at most k words).
func Jaccard(a, b string, k int) float64 {
	sa, sb := Shingles(a, k), Shingles(b, k)
	if len(sa) == 0 && len(sb) == 0 {
		return 1
	}
	inter := 0
	for s := range sa {
		if sb[s] {
			inter++
		}
	}
	return float64(inter) / float64(len(sa)+len(sb)-inter)
}

// Shingles is the set of k-word shingles of text, each as its words joined
// by spaces.
func Shingles(text string, k int) map[string]bool {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	out := map[string]bool{}
	if len(words) <= k {
		if len(words) > 0 {
			out[strings.Join(words, " ")] = true
		}
		return out
	}
	for i := 0; i+k <= len(words); i++ {
		out[strings.Join(words[i:i+k], " ")] = true
	}
	return out
}

// Score compares a dedupe's result with the planted truth: kept[i] says
// whether document i was kept. A planted duplicate is a later document of a
// pair whose J is at least threshold. Recall is the fraction of planted
// duplicates removed, precision the fraction of removed documents that are
// planted duplicates (1 when nothing was removed).
func (p *Planted) Score(kept []bool, threshold float64) (recall, precision float64, dups, removed, hits int) {
	for i := range p.Texts {
		dup := p.Of[i] >= 0 && p.J[i] >= threshold
		if dup {
			dups++
		}
		if !kept[i] {
			removed++
			if dup {
				hits++
			}
		}
	}
	recall, precision = 1, 1
	if dups > 0 {
		recall = float64(hits) / float64(dups)
	}
	if removed > 0 {
		precision = float64(hits) / float64(removed)
	}
	return recall, precision, dups, removed, hits
}
