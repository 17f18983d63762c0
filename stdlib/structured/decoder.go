package structured

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Machine is a schema compiled for constrained decoding: the fixed text
// between an object's values and the length of the shortest document of
// every node. It is immutable and shared by all the Decoders of a schema.
type Machine struct {
	root *Node
	info map[*Node]*nodeInfo
}

type nodeInfo struct {
	lits []string // object: lits[i] precedes property i's value; the last closes
	min  int      // characters of the shortest value
	rest []int    // object: rest[i] = shortest text from literal i to the end
}

// Compile prepares n for constrained decoding.
func Compile(n *Node) *Machine {
	m := &Machine{root: n, info: map[*Node]*nodeInfo{}}
	m.prepare(n)
	return m
}

func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return string(bytes.TrimRight(b.Bytes(), "\n"))
}

func runes(s string) int { return utf8.RuneCountInString(s) }

func (m *Machine) prepare(n *Node) int {
	if in, ok := m.info[n]; ok {
		return in.min
	}
	in := &nodeInfo{}
	m.info[n] = in
	switch n.Kind {
	case Object:
		k := len(n.Props)
		in.lits = make([]string, k+1)
		for i, p := range n.Props {
			sep := ","
			if i == 0 {
				sep = "{"
			}
			in.lits[i] = sep + quote(p.Name) + ":"
		}
		in.lits[k] = "}"
		if k == 0 {
			in.lits[0] = "{}"
		}
		in.rest = make([]int, k+1)
		in.rest[k] = runes(in.lits[k])
		for i := k - 1; i >= 0; i-- {
			in.rest[i] = runes(in.lits[i]) + m.prepare(n.Props[i].Node) + in.rest[i+1]
		}
		in.min = in.rest[0]
	case Array:
		m.prepare(n.Items)
		in.min = 2
	case String:
		in.min = 2
	case Bool, Null:
		in.min = 4
	case Dict:
		in.min = 2
		m.prepare(anyNode)
	case Any:
		in.min = 1
		for _, c := range anyKinds {
			m.prepare(c)
		}
		m.prepare(anyNum)
	default:
		in.min = 1
	}
	return in.min
}

// MinLength is the length, in characters, of the shortest document.
func (m *Machine) MinLength() int { return m.info[m.root].min }

// Vocabulary checks that a model whose vocabulary has the characters for
// which has is true can write every document of the schema's shortest
// form: the structural characters and property names, a quote, the
// digits, the letters of true and false.
func (m *Machine) Vocabulary(has func(rune) bool) error {
	need := func(s, what string) error {
		for _, r := range s {
			if !has(r) {
				return fmt.Errorf("the model's vocabulary has no %q, which %s needs", r, what)
			}
		}
		return nil
	}
	var nodes []*Node // depth first from the root: the first lack found is always the same
	var walk func(n *Node)
	walk = func(n *Node) {
		nodes = append(nodes, n)
		for _, p := range n.Props {
			walk(p.Node)
		}
		if n.Items != nil {
			walk(n.Items)
		}
	}
	walk(m.root)
	for _, n := range nodes {
		in := m.info[n]
		var err error
		switch n.Kind {
		case Object:
			for _, l := range in.lits {
				if err = need(l, "the structured response's "+fmt.Sprintf("%q", l)); err != nil {
					break
				}
			}
		case Array:
			err = need("[],", "an array")
		case String:
			err = need(`"`, "a string")
		case Number, Integer:
			err = need("0123456789", "a number")
		case Bool:
			err = need("truefals", "a boolean")
		case Dict, Any:
			err = need(`{}[]":,0123456789truefalsn`, "a JSON document")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// frame is one open value of a Decoder's stack.
type frame struct {
	node *Node
	info *nodeInfo
	st   int // state, per kind (below)
	pos  int // object: literal index; bool: characters written
	off  int // object: characters of the literal written; string: hex digits left
}

// Object states: st 0 writing literal pos, st 1 in the value of property pos.
// Array: 0 expects '[', 1 after '[', 2 after a value, 3 after ','.
// String: 0 expects '"', 1 in the body, 2 after '\', 3 in \uXXXX.
// Number: 0 start, 1 after '-', 2 a leading 0, 3 integer digits, 4 after
// '.', 5 fraction digits, 6 after e/E, 7 after the exponent's sign,
// 8 exponent digits.
// Bool: 0 expects t or f, 1 in true, 2 in false. Null: pos characters
// of null written. Any: nothing yet (the first character replaces the
// frame by its value's). Dict: 0 expects '{', 1 after it, 2 in a key,
// 3 expects ':', 4 in a value, 5 after a value, 6 after ','.

// Decoder is the state of one document being written: a pushdown
// automaton over characters.
type Decoder struct {
	m       *Machine
	stack   []frame
	done    bool
	scratch []frame // Allowed's copy of stack, reused
}

// NewDecoder starts a document.
func (m *Machine) NewDecoder() *Decoder {
	d := &Decoder{m: m}
	d.stack = []frame{m.frame(m.root)}
	return d
}

func (m *Machine) frame(n *Node) frame { return frame{node: n, info: m.info[n]} }

// Complete reports whether the text pushed so far is a whole document.
func (d *Decoder) Complete() bool { return d.done }

// Allowed reports whether r may come next such that the document can still
// be completed within left more characters after it.
func (d *Decoder) Allowed(r rune, left int) bool {
	if d.done {
		return false
	}
	c := Decoder{m: d.m, stack: append(d.scratch[:0], d.stack...)}
	ok := c.push(r) && c.MinClose() <= left
	d.scratch = c.stack[:0]
	return ok
}

// Push appends r, which must be Allowed.
func (d *Decoder) Push(r rune) {
	if !d.push(r) {
		panic(fmt.Sprintf("structured: %q pushed where it is not allowed", r))
	}
}

// MinClose is the fewest characters that complete the document.
func (d *Decoder) MinClose() int {
	total := 0
	for i := range d.stack {
		f := &d.stack[i]
		switch f.node.Kind {
		case Object:
			k := len(f.node.Props)
			if f.st == 1 {
				total += f.info.rest[f.pos+1]
				continue
			}
			total += runes(f.info.lits[f.pos]) - f.off
			if f.pos < k {
				total += d.m.info[f.node.Props[f.pos].Node].min + f.info.rest[f.pos+1]
			}
		case Array:
			total += [...]int{2, 1, 1, d.m.info[f.node.Items].min + 1}[f.st]
		case String:
			switch f.st {
			case 0, 2:
				total += 2
			case 1:
				total++
			case 3:
				total += f.off + 1
			}
		case Bool:
			switch f.st {
			case 0:
				total += 4
			case 1:
				total += 4 - f.pos
			case 2:
				total += 5 - f.pos
			}
		case Null:
			total += 4 - f.pos
		case Any:
			total++
		case Dict:
			total += [...]int{2, 1, 3, 3, 1, 1, 5}[f.st]
		default:
			switch f.st {
			case 2, 3, 5, 8:
			default:
				total++
			}
		}
	}
	return total
}

// push feeds r to the innermost open value; it reports whether r is
// acceptable.
func (d *Decoder) push(r rune) bool {
	for {
		if len(d.stack) == 0 {
			return false
		}
		f := &d.stack[len(d.stack)-1]
		switch f.node.Kind {
		case Object:
			if f.st == 1 { // the value's frame sits above this one
				return false
			}
			lit := f.info.lits[f.pos]
			want, size := utf8.DecodeRuneInString(lit[byteOffset(lit, f.off):])
			if r != want || size == 0 {
				return false
			}
			f.off++
			if f.off < runes(lit) {
				return true
			}
			if f.pos == len(f.node.Props) {
				d.pop()
				return true
			}
			f.st, f.off = 1, 0
			d.stack = append(d.stack, d.m.frame(f.node.Props[f.pos].Node))
			return true
		case Array:
			switch {
			case f.st == 0:
				if r != '[' {
					return false
				}
				f.st = 1
				return true
			case r == ']' && (f.st == 1 || f.st == 2):
				d.pop()
				return true
			case r == ',' && f.st == 2:
				f.st = 3
				return true
			case f.st == 1 || f.st == 3:
				f.st = 2
				d.stack = append(d.stack, d.m.frame(f.node.Items))
				continue // the value's first character
			}
			return false
		case String:
			switch f.st {
			case 0:
				if r != '"' {
					return false
				}
				f.st = 1
			case 1:
				switch {
				case r == '"':
					d.pop()
				case r == '\\':
					f.st = 2
				case r < 0x20 || r == utf8.RuneError:
					return false
				}
			case 2:
				switch r {
				case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
					f.st = 1
				case 'u':
					f.st, f.off = 3, 4
				default:
					return false
				}
			case 3:
				if !isHex(r) {
					return false
				}
				if f.off--; f.off == 0 {
					f.st = 1
				}
			}
			return true
		case Bool:
			const t, fl = "true", "false"
			switch f.st {
			case 0:
				switch r {
				case 't':
					f.st = 1
				case 'f':
					f.st = 2
				default:
					return false
				}
				f.pos = 1
			default:
				lit := t
				if f.st == 2 {
					lit = fl
				}
				if rune(lit[f.pos]) != r {
					return false
				}
				f.pos++
				if f.pos == len(lit) {
					d.pop()
				}
			}
			return true
		case Null:
			if rune("null"[f.pos]) != r {
				return false
			}
			if f.pos++; f.pos == 4 {
				d.pop()
			}
			return true
		case Any: // the first character says which value it is
			n := anyKinds[r]
			if r == '-' || r >= '0' && r <= '9' {
				n = anyNum
			}
			if n == nil {
				return false
			}
			*f = d.m.frame(n)
			continue
		case Dict:
			switch {
			case f.st == 0 && r == '{':
				f.st = 1
				return true
			case (f.st == 1 || f.st == 5) && r == '}':
				d.pop()
				return true
			case (f.st == 1 || f.st == 6) && r == '"':
				f.st = 2
				d.stack = append(d.stack, d.m.frame(anyKinds['"']))
				continue // the key's opening quote
			case f.st == 3 && r == ':':
				f.st = 4
				d.stack = append(d.stack, d.m.frame(anyNode))
				return true
			case f.st == 5 && r == ',':
				f.st = 6
				return true
			}
			return false
		default:
			next, ok := numberStep(f.st, r, f.node.Kind == Integer)
			if ok && (next == 3 || next == 8) {
				// At most maxDigits integer digits and maxExponent
				// exponent digits, so every number is a float64
				// (datasets hold no larger one).
				if f.st == next {
					f.off++
				} else {
					f.off = 1
				}
				if next == 3 && f.off > maxDigits || next == 8 && f.off > maxExponent {
					ok = false
				}
			}
			if ok {
				f.st = next
				return true
			}
			switch f.st {
			case 2, 3, 5, 8: // a whole number, ended by r: r is the parent's
				d.pop()
				continue
			}
			return false
		}
	}
}

// pop closes the innermost value; its object parent moves past it.
func (d *Decoder) pop() {
	d.stack = d.stack[:len(d.stack)-1]
	if len(d.stack) == 0 {
		d.done = true
		return
	}
	switch p := &d.stack[len(d.stack)-1]; {
	case p.node.Kind == Object && p.st == 1:
		p.st, p.pos, p.off = 0, p.pos+1, 0
	case p.node.Kind == Dict && (p.st == 2 || p.st == 4): // past a key, a value
		p.st++
	}
}

// maxDigits and maxExponent bound the integer digits and the exponent
// digits of a number: at most about 1e115 in magnitude.
const (
	maxDigits   = 16
	maxExponent = 2
)

func numberStep(st int, r rune, integer bool) (int, bool) {
	digit := r >= '0' && r <= '9'
	switch st {
	case 0:
		switch {
		case r == '-':
			return 1, true
		case r == '0':
			return 2, true
		case digit:
			return 3, true
		}
	case 1:
		switch {
		case r == '0':
			return 2, true
		case digit:
			return 3, true
		}
	case 2, 3:
		switch {
		case digit && st == 3:
			return 3, true
		case integer:
		case r == '.':
			return 4, true
		case r == 'e' || r == 'E':
			return 6, true
		}
	case 4, 5:
		if digit {
			return 5, true
		}
		if st == 5 && (r == 'e' || r == 'E') {
			return 6, true
		}
	case 6:
		if r == '+' || r == '-' {
			return 7, true
		}
		if digit {
			return 8, true
		}
	case 7, 8:
		if digit {
			return 8, true
		}
	}
	return 0, false
}

func isHex(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'
}

// byteOffset is the byte offset of the n-th character of s.
func byteOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}
