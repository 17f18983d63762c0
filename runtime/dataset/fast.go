package dataset

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
)

// A hand-written JSON decoder straight into cty values of a known type,
// without encoding/json's map[string]any in between. It is a fast path
// only: whenever the input is not plain valid JSON of the wanted type
// (syntax error, type mismatch, duplicate key, a missing field, anything
// unusual) it reports ok = false and the caller decodes the line again
// with the general (slow) path, which produces the error message. Values it
// does return are exactly the ones FromJSON builds from encoding/json's
// output for the same input.

// DecodeOptions says how Decode treats object fields.
type DecodeOptions struct {
	// AllowExtra ignores object fields the type does not have (otherwise
	// the fast path gives up on them).
	AllowExtra bool
	// Lenient lets missing object fields be null (otherwise only optional
	// attributes may be missing).
	Lenient bool
	// Only, when not nil, decodes just these top-level attributes; the
	// result is an object of them alone. Other top-level fields are
	// skipped (still checked for syntax).
	Only map[string]bool
}

// Decode decodes the JSON object in b as a value of object type ty. ok is
// false when the fast path cannot decode it; decode it then with FromJSON
// (or the caller's own slow path) to get the error.
func Decode(b []byte, ty cty.Type, o DecodeOptions) (v cty.Value, ok bool) {
	p := fastParser{b: b, o: o}
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '{' || !ty.IsObjectType() {
		return cty.NilVal, false
	}
	v, ok = p.object(ty, o.Only)
	if !ok {
		return cty.NilVal, false
	}
	p.ws()
	if p.i != len(p.b) {
		return cty.NilVal, false
	}
	return v, true
}

type fastParser struct {
	b   []byte
	i   int
	o   DecodeOptions
	str []byte // scratch for strings with escapes
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

func (p *fastParser) value(ty cty.Type) (cty.Value, bool) {
	p.ws()
	if p.i >= len(p.b) {
		return cty.NilVal, false
	}
	c := p.b[p.i]
	if c == 'n' {
		if p.lit("null") {
			return cty.NullVal(ty), true
		}
		return cty.NilVal, false
	}
	if ty == cty.DynamicPseudoType {
		return p.implied()
	}
	switch {
	case ty == cty.String:
		if c != '"' {
			return cty.NilVal, false
		}
		s, ok := p.string()
		if !ok {
			return cty.NilVal, false
		}
		return cty.StringVal(s), true
	case ty == cty.Number:
		s, ok := p.number()
		if !ok {
			return cty.NilVal, false
		}
		v, err := ParseNumber(s)
		return v, err == nil
	case ty == cty.Bool:
		if p.lit("true") {
			return cty.True, true
		}
		if p.lit("false") {
			return cty.False, true
		}
		return cty.NilVal, false
	case ty.IsListType(), ty.IsSetType():
		et := ty.ElementType()
		elems, ok := p.array(func(int) cty.Type { return et })
		if !ok {
			return cty.NilVal, false
		}
		if len(elems) == 0 {
			if ty.IsListType() {
				return cty.ListValEmpty(et.WithoutOptionalAttributesDeep()), true
			}
			return cty.SetValEmpty(et.WithoutOptionalAttributesDeep()), true
		}
		elems, err := Converter{}.Unify(elems, "")
		if err != nil {
			return cty.NilVal, false
		}
		if ty.IsListType() {
			return cty.ListVal(elems), true
		}
		return cty.SetVal(elems), true
	case ty.IsTupleType():
		ets := ty.TupleElementTypes()
		elems, ok := p.array(func(i int) cty.Type {
			if i < len(ets) {
				return ets[i]
			}
			return cty.NilType
		})
		if !ok || len(elems) != len(ets) {
			return cty.NilVal, false
		}
		return cty.TupleVal(elems), true
	case ty.IsMapType():
		return p.mapValue(ty.ElementType())
	case ty.IsObjectType():
		return p.object(ty, nil)
	}
	return cty.NilVal, false
}

// array decodes an array whose i-th element has type at(i) (cty.NilType:
// give up).
func (p *fastParser) array(at func(int) cty.Type) ([]cty.Value, bool) {
	if p.b[p.i] != '[' {
		return nil, false
	}
	p.i++
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return nil, true
	}
	var elems []cty.Value
	for {
		t := at(len(elems))
		if t == cty.NilType {
			return nil, false
		}
		v, ok := p.value(t)
		if !ok {
			return nil, false
		}
		elems = append(elems, v)
		p.ws()
		if p.i >= len(p.b) {
			return nil, false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return elems, true
		default:
			return nil, false
		}
	}
}

// fields walks an object's members, calling fn with each key (valid only
// during the call) positioned at the value; fn must consume the value.
func (p *fastParser) fields(fn func(key []byte) bool) bool {
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return false
	}
	p.i++
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return true
	}
	for {
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return false
		}
		key, ok := p.stringBytes()
		if !ok {
			return false
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return false
		}
		p.i++
		p.ws()
		if !fn(key) {
			return false
		}
		p.ws()
		if p.i >= len(p.b) {
			return false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return true
		default:
			return false
		}
	}
}

func (p *fastParser) object(ty cty.Type, only map[string]bool) (cty.Value, bool) {
	atys := ty.AttributeTypes()
	attrs := make(map[string]cty.Value, len(atys))
	ok := p.fields(func(key []byte) bool {
		at, known := atys[string(key)]
		if !known || (only != nil && !only[string(key)]) {
			if !known && !p.o.AllowExtra && only == nil {
				return false
			}
			return p.skip()
		}
		name := string(key)
		if _, dup := attrs[name]; dup {
			return false
		}
		v, ok := p.value(at)
		if !ok {
			return false
		}
		attrs[name] = v
		return true
	})
	if !ok {
		return cty.NilVal, false
	}
	for name, at := range atys {
		if only != nil && !only[name] {
			continue
		}
		if _, ok := attrs[name]; !ok {
			if !p.o.Lenient && !ty.AttributeOptional(name) {
				return cty.NilVal, false
			}
			attrs[name] = cty.NullVal(at)
		}
	}
	if len(attrs) == 0 {
		return cty.EmptyObjectVal, true
	}
	return cty.ObjectVal(attrs), true
}

func (p *fastParser) mapValue(et cty.Type) (cty.Value, bool) {
	m := map[string]cty.Value{}
	var keys []string
	ok := p.fields(func(key []byte) bool {
		k := string(key)
		if _, dup := m[k]; dup {
			return false
		}
		v, ok := p.value(et)
		if !ok {
			return false
		}
		m[k] = v
		keys = append(keys, k)
		return true
	})
	if !ok {
		return cty.NilVal, false
	}
	if len(m) == 0 {
		return cty.MapValEmpty(et.WithoutOptionalAttributesDeep()), true
	}
	elems := make([]cty.Value, len(keys))
	for i, k := range keys {
		elems[i] = m[k]
	}
	elems, err := Converter{}.Unify(elems, "")
	if err != nil {
		return cty.NilVal, false
	}
	for i, k := range keys {
		m[k] = elems[i]
	}
	return cty.MapVal(m), true
}

// implied decodes a value of unknown type as Implied does.
func (p *fastParser) implied() (cty.Value, bool) {
	switch c := p.b[p.i]; {
	case c == '"':
		s, ok := p.string()
		if !ok {
			return cty.NilVal, false
		}
		return cty.StringVal(s), true
	case c == 't' || c == 'f':
		return p.value(cty.Bool)
	case c == '[':
		elems, ok := p.array(func(int) cty.Type { return cty.DynamicPseudoType })
		if !ok {
			return cty.NilVal, false
		}
		if len(elems) == 0 {
			return cty.EmptyTupleVal, true
		}
		return cty.TupleVal(elems), true
	case c == '{':
		attrs := map[string]cty.Value{}
		ok := p.fields(func(key []byte) bool {
			k := string(key)
			if _, dup := attrs[k]; dup {
				return false
			}
			v, ok := p.value(cty.DynamicPseudoType)
			attrs[k] = v
			return ok
		})
		if !ok {
			return cty.NilVal, false
		}
		if len(attrs) == 0 {
			return cty.EmptyObjectVal, true
		}
		return cty.ObjectVal(attrs), true
	default:
		return p.value(cty.Number)
	}
}

// skip consumes one JSON value.
func (p *fastParser) skip() bool {
	p.ws()
	if p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		_, ok := p.stringBytes()
		return ok
	case c == 'n':
		return p.lit("null")
	case c == 't':
		return p.lit("true")
	case c == 'f':
		return p.lit("false")
	case c == '[':
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return true
		}
		for {
			if !p.skip() {
				return false
			}
			p.ws()
			if p.i >= len(p.b) {
				return false
			}
			switch p.b[p.i] {
			case ',':
				p.i++
			case ']':
				p.i++
				return true
			default:
				return false
			}
		}
	case c == '{':
		return p.fields(func([]byte) bool { return p.skip() })
	default:
		_, ok := p.number()
		return ok
	}
}

// number consumes a JSON number and returns its text.
func (p *fastParser) number() (string, bool) {
	b, start := p.b, p.i
	i := p.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return "", false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return "", false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return "", false
		}
	}
	p.i = i
	return string(b[start:i]), true
}

func (p *fastParser) string() (string, bool) {
	b, ok := p.stringBytes()
	return string(b), ok
}

// stringBytes consumes a JSON string and returns its decoded bytes, which
// alias the input or the parser's scratch (valid until the next call).
// It gives up on anything encoding/json would repair (invalid UTF-8, lone
// surrogates).
func (p *fastParser) stringBytes() ([]byte, bool) {
	b := p.b
	i := p.i + 1
	start := i
	for i < len(b) {
		c := b[i]
		if c == '"' {
			p.i = i + 1
			return b[start:i], true
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
		i++
	}
	out := append(p.str[:0], b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			p.i = i + 1
			p.str = out
			return out, true
		case c < 0x20:
			return nil, false
		case c == '\\':
			if i+1 >= len(b) {
				return nil, false
			}
			i += 2
			switch b[i-1] {
			case '"', '\\', '/':
				out = append(out, b[i-1])
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(b, i)
				if !ok {
					return nil, false
				}
				i += 4
				if utf16.IsSurrogate(r) {
					if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
						return nil, false
					}
					r2, ok := hex4(b, i+2)
					if !ok {
						return nil, false
					}
					r = utf16.DecodeRune(r, r2)
					if r == utf8.RuneError {
						return nil, false
					}
					i += 6
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, false
			}
		case c < 0x80:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				return nil, false
			}
			out = append(out, b[i:i+size]...)
			i += size
		}
	}
	return nil, false
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[i:i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}

// FieldBytes returns the JSON text of top-level field name of the object
// in line (for a canonical line: the field's canonical bytes, which are
// equal exactly when the values are). ok is false when line is not a
// well-formed object or has no such field.
func FieldBytes(line []byte, name string) (field []byte, ok bool) {
	p := fastParser{b: line}
	p.ws()
	found := false
	p.fields(func(key []byte) bool {
		start := p.i
		if !p.skip() {
			return false
		}
		if string(key) == name {
			field, found = line[start:p.i], true
			return false // stop: the rest is not needed
		}
		return true
	})
	return field, found
}

// EachField calls fn with each top-level field of the object in line: its
// decoded name (valid during the call) and its JSON text. ok is false when
// line is not a well-formed object or fn returned false.
func EachField(line []byte, fn func(name, value []byte) bool) bool {
	p := fastParser{b: line}
	p.ws()
	ok := p.fields(func(key []byte) bool {
		start := p.i
		if !p.skip() {
			return false
		}
		return fn(key, line[start:p.i])
	})
	if !ok {
		return false
	}
	p.ws()
	return p.i == len(line)
}

// UnquoteString decodes the JSON string literal that is the whole of b. The
// result aliases b when the string has no escapes, else scratch (returned
// grown for reuse). ok is false for anything the fast decoder gives up on.
func UnquoteString(b, scratch []byte) (s, scratchOut []byte, ok bool) {
	if len(b) < 2 || b[0] != '"' {
		return nil, scratch, false
	}
	p := fastParser{b: b, str: scratch[:0]}
	s, ok = p.stringBytes()
	if !ok || p.i != len(b) {
		return nil, p.str, false
	}
	return s, p.str, true
}
