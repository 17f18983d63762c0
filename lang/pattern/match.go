package pattern

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
)

// The matcher is a backtracking interpreter over a flat program, one
// instruction per element; an optional group is a split instruction that
// first tries its body and else jumps past it. Captures record their spans
// only while the successful path unwinds, so a failed branch never leaves a
// stale value behind. Once a search has taken more than memoAfter steps,
// failed (instruction, position, need) states are remembered, which bounds
// the work by O(len(program) * len(text)^2) even for adversarial inputs.
//
// need is true while the nearest preceding string capture still waits for
// the rest of the pattern to consume at least one byte: a lazy string
// followed by nothing but optional groups would otherwise always be empty.

type opcode uint8

const (
	opLit opcode = iota
	opSpace
	opCapture
	opSplit
	opEnd
)

type inst struct {
	op   opcode
	lit  string      // opLit: the text; opCapture of a string: the literal after it, if any
	typ  CaptureType // opCapture
	slot int         // opCapture: index into Captures
	skip int         // opSplit: the instruction after the group
	// opCapture of a string: what follows it, for skipping ahead.
	nextSpace bool
}

const memoAfter = 2000

// optimize fills in the hints the matcher uses and the prefilter.
func (p *Pattern) optimize() {
	depth := 0
	ends := map[int]int{} // skip target -> number of groups ending there
	for i := range p.prog {
		depth -= ends[i]
		in := &p.prog[i]
		switch in.op {
		case opSplit:
			depth++
			ends[in.skip]++
		case opLit:
			if depth == 0 {
				p.required = append(p.required, in.lit)
			}
		case opCapture:
			if in.typ == String {
				switch next := p.prog[i+1]; next.op {
				case opLit:
					in.lit = next.lit
				case opSpace:
					in.nextSpace = true
				}
			}
		}
	}
}

type matcher struct {
	prog       []inst
	text       string
	start, end []int
	json       map[int]cty.Value // values of json captures, by slot
	steps      int
	memo       []uint64
}

// Match finds the leftmost match of p in text and returns one value per
// capture; captures of optional groups that did not match are null.
func (p *Pattern) Match(text string) (map[string]cty.Value, bool) {
	var buf [16]int
	m := matcher{prog: p.prog, text: text}
	if n := len(p.Captures); 2*n <= len(buf) {
		m.start, m.end = buf[:n:n], buf[n:2*n]
	} else {
		m.start, m.end = make([]int, n), make([]int, n)
	}
	for i := range m.start {
		m.start[i] = -1
	}
	if p.hasJSON {
		m.json = map[int]cty.Value{}
	}
	if !m.search(p.required) {
		return nil, false
	}
	vals := make(map[string]cty.Value, len(p.Captures))
	for i, c := range p.Captures {
		if m.start[i] < 0 {
			vals[c.Name] = cty.NullVal(c.Type.CtyType())
			continue
		}
		s := text[m.start[i]:m.end[i]]
		switch c.Type {
		case Number, Int:
			vals[c.Name] = numberValue(s)
		case Word:
			vals[c.Name] = stringValue(s)
		case String, Line:
			vals[c.Name] = stringValue(strings.TrimFunc(s, unicode.IsSpace))
		case JSON:
			vals[c.Name] = m.json[i]
		}
	}
	return vals, true
}

// MatchValue is Match as one cty object of p.ObjectType(), or a null of that
// type when text does not match. A json attribute holds the parsed value's
// own type.
func (p *Pattern) MatchValue(text string) cty.Value {
	vals, ok := p.Match(text)
	if !ok {
		return cty.NullVal(p.objType)
	}
	return cty.ObjectVal(vals)
}

func (m *matcher) search(required []string) bool {
	text := m.text
	// Prefilter: the literals outside optional groups must occur in order.
	rest := text
	for _, lit := range required {
		i := strings.Index(rest, lit)
		if i < 0 {
			return false
		}
		rest = rest[i+len(lit):]
	}
	first := m.prog[0]
	for s := 0; s <= len(text); s++ {
		switch {
		case first.op == opLit:
			i := strings.Index(text[s:], first.lit)
			if i < 0 {
				return false
			}
			s += i
		case s < len(text) && !utf8.RuneStart(text[s]):
			continue
		}
		if m.run(0, s, false) {
			return true
		}
	}
	return false
}

func (m *matcher) failed(pc, pos int, need bool) bool {
	m.steps++
	if m.memo == nil {
		if m.steps < memoAfter {
			return false
		}
		bits := len(m.prog) * (len(m.text) + 1) * 2
		m.memo = make([]uint64, (bits+63)/64)
	}
	k := m.key(pc, pos, need)
	return m.memo[k/64]&(1<<(k%64)) != 0
}

func (m *matcher) key(pc, pos int, need bool) int {
	k := (pc*(len(m.text)+1) + pos) * 2
	if need {
		k++
	}
	return k
}

func (m *matcher) run(pc, pos int, need bool) bool {
	if m.failed(pc, pos, need) {
		return false
	}
	ok := m.step(pc, pos, need)
	if !ok && m.memo != nil {
		k := m.key(pc, pos, need)
		m.memo[k/64] |= 1 << (k % 64)
	}
	return ok
}

func (m *matcher) step(pc, pos int, need bool) bool {
	text := m.text
	in := &m.prog[pc]
	switch in.op {
	case opEnd:
		return !need
	case opLit:
		return strings.HasPrefix(text[pos:], in.lit) && m.run(pc+1, pos+len(in.lit), false)
	case opSpace:
		end := spaceEnd(text, pos)
		for e := end; e > pos; {
			if m.run(pc+1, e, false) {
				return true
			}
			_, size := utf8.DecodeLastRuneInString(text[pos:e])
			e -= size
		}
		return false
	case opSplit:
		return m.run(pc+1, pos, need) || m.run(in.skip, pos, need)
	}
	// opCapture
	switch in.typ {
	case Number, Int:
		e := scanNumber(text, pos, in.typ == Int)
		return e > pos && m.record(in.slot, pos, e, m.run(pc+1, e, false))
	case Word:
		end := pos
		for end < len(text) {
			r, size := decodeRune(text, end)
			if isSpace(r) {
				break
			}
			end += size
		}
		for e := end; e > pos; {
			if m.run(pc+1, e, false) {
				return m.record(in.slot, pos, e, true)
			}
			_, size := utf8.DecodeLastRuneInString(text[pos:e])
			e -= size
		}
		return false
	case Line:
		e := strings.IndexByte(text[pos:], '\n')
		if e < 0 {
			e = len(text)
		} else {
			e += pos
		}
		return m.record(in.slot, pos, e, m.run(pc+1, e, need && e == pos))
	case JSON:
		e := scanJSON(text, pos)
		if e <= pos {
			return false
		}
		v, ok := jsonValue(text[pos:e])
		if !ok || !m.run(pc+1, e, false) {
			return false
		}
		m.json[in.slot] = v
		return m.record(in.slot, pos, e, true)
	}
	// String: lazy, the shortest text after which the rest matches; before
	// the end of the text the rest must consume something.
	for e := pos; e <= len(text); {
		if e == len(text) {
			return m.record(in.slot, pos, e, m.run(pc+1, e, need && e == pos))
		}
		if m.run(pc+1, e, true) {
			return m.record(in.slot, pos, e, true)
		}
		switch {
		case in.lit != "":
			i := strings.Index(text[e+1:], in.lit)
			if i < 0 {
				e = len(text)
			} else {
				e += 1 + i
			}
		case in.nextSpace:
			e++
			for e < len(text) {
				r, size := decodeRune(text, e)
				if isSpace(r) {
					break
				}
				e += size
			}
		default:
			_, size := decodeRune(text, e)
			e += size
		}
	}
	return false
}

func (m *matcher) record(slot, start, end int, ok bool) bool {
	if ok {
		m.start[slot], m.end[slot] = start, end
	}
	return ok
}

func decodeRune(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

var asciiSpace = [256]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// isSpace is unicode.IsSpace, the whitespace of both patterns and texts.
func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiSpace[r]
	}
	return unicode.IsSpace(r)
}

func spaceEnd(text string, pos int) int {
	for pos < len(text) {
		r, size := decodeRune(text, pos)
		if !isSpace(r) {
			break
		}
		pos += size
	}
	return pos
}
