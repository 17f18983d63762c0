package pattern

import (
	"errors"
	"fmt"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
	"github.com/zclconf/go-cty/cty"
)

// CaptureType is the type of a capture: what text it accepts and which cty
// type its value has.
type CaptureType string

const (
	Number CaptureType = "number" // a decimal number, cty.Number
	Int    CaptureType = "int"    // a number with an integral value, cty.Number
	String CaptureType = "string" // the shortest text up to what follows, cty.String
	Word   CaptureType = "word"   // a run of non-space characters, cty.String
	Line   CaptureType = "line"   // the rest of the line, cty.String
	JSON   CaptureType = "json"   // one JSON value, cty.DynamicPseudoType
)

// CaptureTypes lists the capture types in the order the docs give them.
var CaptureTypes = []CaptureType{Number, Int, String, Word, Line, JSON}

// CtyType is the cty type of the values the capture type produces.
func (t CaptureType) CtyType() cty.Type {
	switch t {
	case Number, Int:
		return cty.Number
	case String, Word, Line:
		return cty.String
	default:
		return cty.DynamicPseudoType
	}
}

func (t CaptureType) valid() bool {
	for _, c := range CaptureTypes {
		if t == c {
			return true
		}
	}
	return false
}

// Capture is one {name:type} in a pattern.
type Capture struct {
	Name     string
	Type     CaptureType
	Optional bool // inside an optional group: the value may be null
	// Offset and End delimit the capture, braces included, in Pattern.Source.
	Offset, End int
}

// Pattern is a parsed and compiled extraction pattern. It is immutable and
// safe for concurrent use.
type Pattern struct {
	Source   string
	Captures []Capture // in source order

	norm    string
	objType cty.Type
	prog    []inst
	// required lists the literals outside optional groups, in order; a text
	// that does not contain them in this order cannot match.
	required []string
	hasJSON  bool
}

// MustParse is Parse that panics on error, for patterns in Go source.
func MustParse(src string) *Pattern {
	p, err := Parse(src)
	if err != nil {
		panic(err)
	}
	return p
}

// Parse parses and compiles a pattern. The error, if any, is an ErrorList
// of every problem found, each with exact byte offsets into src.
func Parse(src string) (*Pattern, error) {
	if strings.TrimSpace(src) == "" {
		return nil, ErrorList{{Offset: 0, End: len(src), Summary: "empty pattern",
			Detail: "A pattern needs at least one literal or capture, e.g. \"Answer: {answer:number}\"."}}
	}
	if errs := checkTokens(src); len(errs) > 0 {
		return nil, errs.sorted()
	}
	tree, err := parser().ParseString("", src)
	if err != nil {
		return nil, ErrorList{syntaxError(src, err)}
	}
	p := &Pattern{Source: src}
	var errs ErrorList
	var b strings.Builder
	c := compiler{p: p, errs: &errs, seen: map[string]int{}, norm: &b}
	c.elements(tree.Items, false)
	if len(errs) > 0 {
		return nil, errs.sorted()
	}
	p.prog = append(p.prog, inst{op: opEnd})
	p.norm = b.String()
	attrs := make(map[string]cty.Type, len(p.Captures))
	for _, c := range p.Captures {
		attrs[c.Name] = c.Type.CtyType()
		p.hasJSON = p.hasJSON || c.Type == JSON
	}
	p.objType = cty.Object(attrs)
	p.optimize()
	return p, nil
}

// checkTokens finds the errors best reported on the token stream: bad
// escapes, unbalanced braces and brackets, bad characters inside captures.
func checkTokens(src string) ErrorList {
	lex, err := patternLexer().LexString("", src)
	if err != nil { // cannot happen: every input lexes
		return ErrorList{{Offset: 0, End: len(src), Summary: "invalid pattern", Detail: err.Error()}}
	}
	sym := patternLexer().Symbols()
	var (
		errs     ErrorList
		brackets []lexer.Token
		capture  *lexer.Token // the open "{", if inside a capture
		badChar  *lexer.Token // first bad character of the current capture
	)
	for {
		tok, err := lex.Next()
		if err != nil {
			return ErrorList{{Offset: 0, End: len(src), Summary: "invalid pattern", Detail: err.Error()}}
		}
		if tok.EOF() {
			break
		}
		off, end := tok.Pos.Offset, tok.Pos.Offset+len(tok.Value)
		switch tok.Type {
		case sym["BadEscape"]:
			if tok.Value == `\` {
				errs = append(errs, &Error{off, end, "incomplete escape",
					`A backslash escapes one of { } [ ] \; write \\ for a literal backslash.`})
			} else {
				errs = append(errs, &Error{off, end, fmt.Sprintf("invalid escape %q", tok.Value),
					`Only \{ \} \[ \] and \\ are escapes; write \\ for a literal backslash.`})
			}
		case sym["Open"]:
			t := tok
			capture, badChar = &t, nil
		case sym["CaptureEnd"]:
			if badChar != nil {
				errs = append(errs, &Error{badChar.Pos.Offset, badChar.Pos.Offset + len(badChar.Value),
					fmt.Sprintf("invalid character %q in capture", badChar.Value),
					"A capture is {name:type}; names are letters, digits and _. Write \\{ for a literal brace."})
			}
			capture, badChar = nil, nil
		case sym["Bad"]:
			if badChar == nil {
				t := tok
				badChar = &t
			}
		case sym["Close"]:
			errs = append(errs, &Error{off, end, "unmatched }",
				`This } closes no capture; write \} for a literal brace.`})
		case sym["LBracket"]:
			brackets = append(brackets, tok)
		case sym["RBracket"]:
			if len(brackets) == 0 {
				errs = append(errs, &Error{off, end, "unmatched ]",
					`This ] closes no optional group; write \] for a literal bracket.`})
			} else {
				brackets = brackets[:len(brackets)-1]
			}
		}
	}
	if capture != nil {
		off := capture.Pos.Offset
		errs = append(errs, &Error{off, off + 1, "unclosed capture",
			`This { starts a capture that has no closing }; write \{ for a literal brace.`})
	}
	for _, tok := range brackets {
		off := tok.Pos.Offset
		errs = append(errs, &Error{off, off + 1, "unclosed optional group",
			`This [ starts an optional group that has no closing ]; write \[ for a literal bracket.`})
	}
	return errs
}

// syntaxError converts what participle reports after checkTokens passed,
// e.g. the second colon in {a:int:x}.
func syntaxError(src string, err error) *Error {
	var perr participle.Error
	if !errors.As(err, &perr) {
		return &Error{Offset: 0, End: len(src), Summary: "invalid pattern", Detail: err.Error()}
	}
	off := perr.Position().Offset
	end := off
	var uerr *participle.UnexpectedTokenError
	if errors.As(err, &uerr) {
		end = off + len(uerr.Unexpected.Value)
	}
	return &Error{Offset: off, End: end, Summary: "invalid capture",
		Detail: "A capture is {name:type}: " + perr.Message() + "."}
}

// compiler checks the syntax tree and turns it into Captures, the
// normalised source and the matcher program in one walk.
type compiler struct {
	p    *Pattern
	errs *ErrorList
	seen map[string]int // name -> offset of its first capture
	norm *strings.Builder
}

func (c *compiler) errorf(off, end int, detail, format string, args ...any) {
	*c.errs = append(*c.errs, &Error{Offset: off, End: end, Summary: fmt.Sprintf(format, args...), Detail: detail})
}

func (c *compiler) literal(s string) {
	prog := c.p.prog
	if n := len(prog); n > 0 && prog[n-1].op == opLit {
		prog[n-1].lit += s
		return
	}
	c.p.prog = append(prog, inst{op: opLit, lit: s})
}

func (c *compiler) elements(items []*elementNode, optional bool) {
	for _, it := range items {
		switch {
		case it.Text != nil:
			c.literal(*it.Text)
			c.norm.WriteString(*it.Text)
		case it.Escape != nil:
			c.literal((*it.Escape)[1:])
			c.norm.WriteString(*it.Escape)
		case it.Space != nil:
			c.p.prog = append(c.p.prog, inst{op: opSpace})
			c.norm.WriteByte(' ')
		case it.Capture != nil:
			c.capture(it.Capture, optional)
		case it.Group != nil:
			g := it.Group
			if len(g.Items) == 0 {
				c.errorf(g.Pos.Offset, g.EndPos.Offset, "An optional group holds literal text or captures, e.g. [ Confidence: {conf:int}].", "empty optional group")
			}
			split := len(c.p.prog)
			c.p.prog = append(c.p.prog, inst{op: opSplit})
			c.norm.WriteByte('[')
			c.elements(g.Items, true)
			c.norm.WriteByte(']')
			c.p.prog[split].skip = len(c.p.prog)
		}
	}
}

func (c *compiler) capture(n *captureNode, optional bool) {
	off, end := n.Pos.Offset, n.EndPos.Offset
	nameOff := off + 1
	typeOff := nameOff + len(n.Name) + 1
	typeEnd := typeOff + len(n.Type)
	ok := true
	switch {
	case n.Name == "":
		c.errorf(off, end, "A capture is {name:type}, e.g. {answer:number}.", "capture has no name")
		ok = false
	case n.Name[0] >= '0' && n.Name[0] <= '9':
		c.errorf(nameOff, nameOff+len(n.Name), "A capture name starts with a letter or _.", "invalid capture name %q", n.Name)
		ok = false
	default:
		if first, dup := c.seen[n.Name]; dup {
			c.errorf(nameOff, nameOff+len(n.Name), fmt.Sprintf("The name %q is already captured at byte %d; each capture needs its own name.", n.Name, first),
				"duplicate capture name %q", n.Name)
			ok = false
		} else {
			c.seen[n.Name] = off
		}
	}
	typ := CaptureType(n.Type)
	switch {
	case n.Type == "":
		name := n.Name
		if name == "" {
			name = "name"
		}
		if n.Name != "" { // a missing name was reported already
			c.errorf(off, end, fmt.Sprintf("Write {%s:string}; the types are %s.", name, typeList()), "capture %q has no type", n.Name)
		}
		ok = false
	case !typ.valid():
		detail := "The types are " + typeList() + "."
		if s := suggest(n.Type); s != "" {
			detail = fmt.Sprintf("Did you mean %q? ", s) + detail
		}
		c.errorf(typeOff, typeEnd, detail, "unknown capture type %q", n.Type)
		ok = false
	}
	c.norm.WriteString("{" + n.Name + ":" + n.Type + "}")
	if !ok {
		return
	}
	slot := len(c.p.Captures)
	c.p.Captures = append(c.p.Captures, Capture{Name: n.Name, Type: typ, Optional: optional, Offset: off, End: end})
	c.p.prog = append(c.p.prog, inst{op: opCapture, typ: typ, slot: slot})
}

func typeList() string {
	s := make([]string, len(CaptureTypes))
	for i, t := range CaptureTypes {
		s[i] = string(t)
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// suggest returns the capture type closest to an unknown one, if close.
func suggest(s string) string {
	best, bestD := "", 3
	if len(s) <= 3 {
		bestD = 2
	}
	for _, t := range CaptureTypes {
		if strings.EqualFold(s, string(t)) {
			return string(t)
		}
		if d := editDistance(strings.ToLower(s), string(t)); d < bestD {
			best, bestD = string(t), d
		}
	}
	switch strings.ToLower(s) { // common names from other languages
	case "float", "double", "decimal", "real", "num":
		return string(Number)
	case "integer", "int64", "long":
		return string(Int)
	case "str", "text":
		return string(String)
	case "object", "array", "list", "map":
		return string(JSON)
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// String returns the normalised source: every whitespace run becomes one
// space. Parse(p.String()) matches exactly what p matches.
func (p *Pattern) String() string { return p.norm }

// ObjectType is the type of MatchValue's result: an object with one
// attribute per capture.
func (p *Pattern) ObjectType() cty.Type { return p.objType }
