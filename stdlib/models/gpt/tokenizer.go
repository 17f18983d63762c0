package gpt

import "strings"

// Special token ids. Character tokens follow, in the order of Config.Vocab.
const (
	tokPAD     = 0 // padding; never predicted nor trained on
	tokBOS     = 1 // starts every sequence
	tokEOS     = 2 // ends a completion
	tokUNK     = 3 // any character outside the vocabulary
	numSpecial = 4
)

// tokenizer maps characters to ids and back.
type tokenizer struct {
	runes []rune
	ids   map[rune]int
}

func newTokenizer(vocab string) *tokenizer {
	t := &tokenizer{ids: map[rune]int{}}
	for _, r := range vocab {
		t.ids[r] = len(t.runes) + numSpecial
		t.runes = append(t.runes, r)
	}
	return t
}

// encode appends the ids of s to dst; unknown characters become UNK.
func (t *tokenizer) encode(dst []int, s string) []int {
	for _, r := range s {
		id, ok := t.ids[r]
		if !ok {
			id = tokUNK
		}
		dst = append(dst, id)
	}
	return dst
}

// piece is the text of one token ("" for specials, U+FFFD for UNK).
func (t *tokenizer) piece(id int) string {
	if id == tokUNK {
		return "\uFFFD"
	}
	if id < numSpecial || id-numSpecial >= len(t.runes) {
		return ""
	}
	return string(t.runes[id-numSpecial])
}

func (t *tokenizer) decode(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(t.piece(id))
	}
	return b.String()
}
