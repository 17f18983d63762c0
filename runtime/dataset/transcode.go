package dataset

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"golang.org/x/text/unicode/norm"
)

// Transcoder rewrites a JSON object straight into the canonical line of a
// record of a flat schema (every attribute a string, number or bool), with
// no cty values in between: the bytes are the ones Writer.Write gives for
// the record that Decode (with AllowExtra) builds from the same line. Like
// Decode it is a fast path: Append reports ok = false for anything else
// (syntax, a wrong type, a missing field, an unusual string or number) and
// the caller takes the general path.
type Transcoder struct {
	schema cty.Type
	names  []string // sorted
	kinds  []cty.Type
	index  map[string]int
	opt    []bool
	// per call
	slots []span
	buf   []byte
	p     fastParser
}

type span struct{ start, end int }

// NewTranscoder returns a transcoder for schema, or nil when schema is not
// a flat object of strings, numbers and bools.
func NewTranscoder(schema cty.Type) *Transcoder {
	if !schema.IsObjectType() {
		return nil
	}
	t := &Transcoder{schema: schema, index: map[string]int{}}
	for name := range schema.AttributeTypes() {
		t.names = append(t.names, name)
	}
	sort.Strings(t.names)
	for i, name := range t.names {
		at := schema.AttributeType(name)
		if at != cty.String && at != cty.Number && at != cty.Bool {
			return nil
		}
		t.kinds = append(t.kinds, at)
		t.opt = append(t.opt, schema.AttributeOptional(name))
		t.index[name] = i
	}
	t.slots = make([]span, len(t.names))
	return t
}

// Clone returns a transcoder for the same schema that can be used on
// another goroutine (Append keeps per-call state).
func (t *Transcoder) Clone() *Transcoder {
	c := *t
	c.slots = make([]span, len(t.names))
	c.buf, c.p = nil, fastParser{}
	return &c
}

// Append appends the canonical line (without newline) for the JSON object
// in line.
func (t *Transcoder) Append(dst, line []byte) ([]byte, bool) {
	for i := range t.slots {
		t.slots[i] = span{-1, -1}
	}
	t.buf = t.buf[:0]
	p := &t.p
	*p = fastParser{b: line, str: p.str}
	p.ws()
	ok := p.fields(func(key []byte) bool {
		i, known := t.index[string(key)]
		if !known {
			return p.skip()
		}
		if t.slots[i].start >= 0 {
			return false // duplicate
		}
		start := len(t.buf)
		if p.lit("null") {
			t.buf = append(t.buf, "null"...)
			t.slots[i] = span{start, len(t.buf)}
			return true
		}
		if p.i >= len(p.b) {
			return false
		}
		switch t.kinds[i] {
		case cty.String:
			if p.b[p.i] != '"' {
				return false
			}
			if end, plain := plainString(p.b, p.i); plain {
				// Printable ASCII without escapes is its own canonical form.
				t.buf = append(t.buf, p.b[p.i:end]...)
				p.i = end
				break
			}
			s, ok := p.stringBytes()
			if !ok {
				return false
			}
			if !isASCII(s) {
				if !utf8.Valid(s) {
					return false
				}
				if !norm.NFC.IsNormal(s) {
					s = norm.NFC.Bytes(s)
				}
			}
			t.buf = appendString(t.buf, string(s))
		case cty.Number:
			s, ok := p.number()
			if !ok {
				return false
			}
			if canonicalDecimal(s) {
				t.buf = append(t.buf, s...)
				break
			}
			if t.buf, ok = appendNumberText(t.buf, s); !ok {
				return false
			}
		case cty.Bool:
			switch {
			case p.lit("true"):
				t.buf = append(t.buf, "true"...)
			case p.lit("false"):
				t.buf = append(t.buf, "false"...)
			default:
				return false
			}
		}
		t.slots[i] = span{start, len(t.buf)}
		return true
	})
	if !ok {
		return dst, false
	}
	p.ws()
	if p.i != len(p.b) {
		return dst, false
	}
	dst = append(dst, '{')
	for i, name := range t.names {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, name)
		dst = append(dst, ':')
		sp := t.slots[i]
		if sp.start < 0 {
			if !t.opt[i] {
				return dst, false
			}
			dst = append(dst, "null"...)
			continue
		}
		dst = append(dst, t.buf[sp.start:sp.end]...)
	}
	return append(dst, '}'), true
}

// plainString reports whether the JSON string starting at b[i] (a quote)
// is printable ASCII without escapes, and where it ends.
func plainString(b []byte, i int) (end int, ok bool) {
	for j := i + 1; j < len(b); j++ {
		c := b[j]
		if c == '"' {
			return j + 1, true
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return 0, false
		}
	}
	return 0, false
}

// canonicalDecimal reports whether the JSON number s is already in the
// canonical form appendNumber writes: plain digits (no exponent, no
// leading or trailing zeros, not "-0"), at most 15 significant digits
// (so the float64 nearest to s has s as its shortest form, and the 512-bit
// value of s reads back from it), and a magnitude in [1e-6, 1e21) or
// zero, where the canonical layout is plain.
func canonicalDecimal(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) {
		return false
	}
	sig := 0    // significant digits
	intLen := 0 // digits before the point
	lead := 0   // zeros after the point before the first significant digit
	if s[i] == '0' {
		i++
		if i == len(s) {
			return i == 1 // "0", not "-0"
		}
		if s[i] != '.' {
			return false
		}
	} else {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			intLen++
		}
		sig = intLen
		if intLen == 0 {
			return false
		}
		if i == len(s) {
			return intLen <= 15
		}
		if s[i] != '.' {
			return false
		}
	}
	i++ // the point
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if sig == 0 && s[i] == '0' {
			lead++
		} else {
			sig++
		}
		i++
	}
	if i != len(s) || i == start || s[i-1] == '0' || sig == 0 || sig > 15 {
		return false // an exponent, an empty or zero-ended fraction, too many digits
	}
	return intLen > 0 || lead < 6 // >= 1e-6
}

func isASCII(s []byte) bool {
	for _, c := range s {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// appendNumberText appends the canonical form of the number JSON literal
// s denotes (as appendNumber does for ParseNumber(s)) without big.Float
// in the common cases:
//
//   - s is exactly a float64 (exactFloat): appendFloat of it;
//   - s is an integer of magnitude below 2^63: its digits;
//   - s has at most 19 significant digits and a magnitude between 1e-101
//     and 1e100: appendFloat of strconv.ParseFloat(s). appendNumber rounds
//     the 512-bit value ParseNumber gives, not s itself, to float64, but
//     the two agree. An integral s is below 2^333, so parsed exactly. Any
//     other s that is not itself a midpoint M·2^j between two float64s is
//     further from one, relative to its size, than 2^-453 (with n <= 120
//     decimal places, s − M·2^j is a nonzero multiple of 1/(10^n·2^-j)),
//     and 512-bit rounding moves it by at most 2^-512; a midpoint has 54
//     bits and is parsed exactly.
//
// Anything else takes ParseNumber and appendNumber.
func appendNumberText(buf []byte, s string) ([]byte, bool) {
	if f, ok := exactFloat(s); ok {
		out, err := appendFloat(buf, f, "")
		return out, err == nil
	}
	var d [40]byte
	digits, e, ok := normDecimal(d[:0], s)
	if ok {
		neg := len(digits) > 0 && digits[0] == '-'
		sig := digits
		if neg {
			sig = digits[1:]
		}
		switch {
		case len(sig) == 0:
			return append(buf, '0'), true
		case e >= len(sig) && (e < 19 || e == 19 && string(sig)+strings.Repeat("0", 19-len(sig)) < "9223372036854775808"):
			// An integer below 2^63 (19 digits compare as text).
			buf = append(buf, digits...)
			for i := len(sig); i < e; i++ {
				buf = append(buf, '0')
			}
			return buf, true
		case len(sig) <= 19 && e > -100 && e <= 100:
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				out, err := appendFloat(buf, f, "")
				return out, err == nil
			}
		}
	}
	v, err := ParseNumber(s)
	if err != nil {
		return buf, false
	}
	out, err := appendNumber(buf, v.AsBigFloat(), "")
	if err != nil {
		return buf, false
	}
	return out, true
}

// normDecimal reduces a decimal literal to sign and significant digits
// (no leading or trailing zeros) and the exponent E of 0.ddd×10^E. ok is
// false when there are too many digits to bother.
func normDecimal(dst []byte, s string) ([]byte, int, bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		dst = append(dst, '-')
		i++
	}
	sign := len(dst)
	e, started, dot := 0, false, false
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			dot = true
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		if !started && c == '0' {
			if dot {
				e--
			}
			continue
		}
		started = true
		if !dot {
			e++
		}
		if len(dst) >= cap(dst) {
			return dst, 0, false
		}
		dst = append(dst, c)
	}
	if i < len(s) {
		x, err := strconv.Atoi(s[i+1:])
		if err != nil || x > 1<<20 || x < -1<<20 {
			return dst, 0, false
		}
		e += x
	}
	for len(dst) > sign && dst[len(dst)-1] == '0' {
		dst = dst[:len(dst)-1]
	}
	return dst, e, true
}
