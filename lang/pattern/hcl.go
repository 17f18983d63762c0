package pattern

import (
	"strings"

	"github.com/apparentlymart/go-textseg/v15/textseg"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// ParseExpr parses a pattern written as an HCL string literal, e.g.
//
//	extract = "Answer: {answer:number}"
//
// The expression must be a literal string (a quoted string or heredoc
// without interpolations or directives). Each pattern error becomes one
// diagnostic whose Subject covers the offending characters inside the
// string, counting HCL escapes (\" \\ \n \r $${ %%{) at their width in the
// file. When the source cannot be reconstructed exactly (\t or \u escapes,
// indented <<- heredocs, JSON syntax), the Subject is the whole string.
func ParseExpr(expr hcl.Expression) (*Pattern, hcl.Diagnostics) {
	src, m, ok := literalString(expr)
	if !ok {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid extraction pattern",
			Detail:   `The pattern must be a literal string, e.g. "Answer: {answer:number}", without ${...} interpolations or %{...} directives.`,
			Subject:  expr.Range().Ptr(),
		}}
	}
	p, err := Parse(src)
	if err == nil {
		return p, nil
	}
	var diags hcl.Diagnostics
	for _, e := range err.(ErrorList) {
		rng := m.rangeOf(e.Offset, e.End)
		detail := e.Detail
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid extraction pattern: " + e.Summary,
			Detail:   detail,
			Subject:  &rng,
			Context:  expr.Range().Ptr(),
		})
	}
	return nil, diags
}

// literalString returns the value of a literal string expression and a map
// from offsets in it to positions in the file.
func literalString(expr hcl.Expression) (string, srcMap, bool) {
	whole := srcMap{whole: expr.Range()}
	switch e := expr.(type) {
	case *hclsyntax.TemplateExpr:
		quoted := e.SrcRange.Start.Line == e.SrcRange.End.Line
		var b strings.Builder
		m := whole
		for _, part := range e.Parts {
			lit, ok := part.(*hclsyntax.LiteralValueExpr)
			if !ok || lit.Val.Type() != cty.String || lit.Val.IsNull() || !lit.Val.IsKnown() {
				return "", whole, false
			}
			val := lit.Val.AsString()
			m.parts = append(m.parts, newPartMap(b.Len(), val, lit.SrcRange, quoted))
			b.WriteString(val)
		}
		return b.String(), m, true
	case *hclsyntax.TemplateWrapExpr, *hclsyntax.ScopeTraversalExpr, *hclsyntax.FunctionCallExpr:
		return "", whole, false
	}
	if len(expr.Variables()) > 0 {
		return "", whole, false
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", whole, false
	}
	return v.AsString(), whole, true
}

// srcMap maps byte offsets in a pattern to ranges in an HCL file.
type srcMap struct {
	whole hcl.Range
	parts []partMap
}

// partMap maps one literal part. raw is the part's text as it must appear
// in the file, reconstructed from its value; exact says the reconstruction
// has the length of the part's range, so offsets in raw are file offsets.
type partMap struct {
	start int // offset of the part in the pattern
	raw   string
	rawOf []int // pattern offset - start -> offset in raw
	rng   hcl.Range
	exact bool
}

func newPartMap(start int, val string, rng hcl.Range, quoted bool) partMap {
	var raw strings.Builder
	rawOf := make([]int, len(val)+1)
	for i := 0; i < len(val); i++ {
		rawOf[i] = raw.Len()
		c := val[i]
		switch {
		case quoted && c == '"':
			raw.WriteString(`\"`)
		case quoted && c == '\\':
			raw.WriteString(`\\`)
		case quoted && c == '\n':
			raw.WriteString(`\n`)
		case quoted && c == '\r':
			raw.WriteString(`\r`)
		case (c == '$' || c == '%') && i+1 < len(val) && val[i+1] == '{':
			raw.WriteByte(c)
			raw.WriteByte(c)
		default:
			raw.WriteByte(c)
		}
	}
	rawOf[len(val)] = raw.Len()
	return partMap{start: start, raw: raw.String(), rawOf: rawOf, rng: rng,
		exact: raw.Len() == rng.End.Byte-rng.Start.Byte}
}

func (m srcMap) rangeOf(off, end int) hcl.Range {
	for i, p := range m.parts {
		last := i == len(m.parts)-1
		if off < p.start || off > p.start+len(p.rawOf)-1 || off == p.start+len(p.rawOf)-1 && !last {
			continue
		}
		if !p.exact {
			return p.rng
		}
		end = min(max(end, off), p.start+len(p.rawOf)-1)
		return hcl.Range{
			Filename: p.rng.Filename,
			Start:    p.pos(p.rawOf[off-p.start]),
			End:      p.pos(p.rawOf[end-p.start]),
		}
	}
	return m.whole
}

// pos is the file position of an offset into raw.
func (p partMap) pos(rawOff int) hcl.Pos {
	pos := p.rng.Start
	prefix := p.raw[:rawOff]
	if i := strings.LastIndexByte(prefix, '\n'); i >= 0 {
		pos.Line += strings.Count(prefix, "\n")
		pos.Column = 1
		prefix = prefix[i+1:]
	}
	pos.Column += graphemes(prefix)
	pos.Byte += rawOff
	return pos
}

func graphemes(s string) int {
	n := 0
	for len(s) > 0 {
		adv, _, err := textseg.ScanGraphemeClusters([]byte(s), true)
		if err != nil || adv == 0 {
			adv = 1
		}
		s = s[adv:]
		n++
	}
	return n
}
