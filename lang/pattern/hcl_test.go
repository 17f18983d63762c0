package pattern

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

const hclSrc = `good    = "Answer: {answer:number}"
bad     = "Answer: {answer:numbr}"
escaped = "Say \"hi\"\n\\\\ $${x:word} {a:int} {b:wrd}"
unicode = "Réponse : {r:wrod}"
interp  = "Answer: ${var.x}"
number  = 42
heredoc = <<EOT
Reasoning: {why:line}
Answer: {a:nmber}
EOT
tabbed  = "a\tb {x:bad}"
`

func parseHCLAttrs(t *testing.T) hcl.Attributes {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(hclSrc), "test.loop.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	attrs, diags := f.Body.JustAttributes()
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return attrs
}

func TestParseExpr(t *testing.T) {
	attrs := parseHCLAttrs(t)
	lines := strings.Split(hclSrc, "\n")

	p, diags := ParseExpr(attrs["good"].Expr)
	if diags.HasErrors() || p.String() != "Answer: {answer:number}" {
		t.Fatalf("good: %v %v", p, diags)
	}

	type want struct {
		attr        string
		summary     string
		line, col   int // 1-based, Subject.Start
		endCol      int
		byteSubject string // the file bytes the subject covers
	}
	for _, w := range []want{
		{"bad", `Invalid extraction pattern: unknown capture type "numbr"`, 2, 28, 33, "numbr"},
		{"escaped", `Invalid extraction pattern: unknown capture type "wrd"`, 3, 51, 54, "wrd"},
		{"unicode", `Invalid extraction pattern: unknown capture type "wrod"`, 4, 25, 29, "wrod"},
		{"heredoc", `Invalid extraction pattern: unknown capture type "nmber"`, 9, 12, 17, "nmber"},
		// \t could be a tab or an escape: the subject falls back to the string
		{"tabbed", `Invalid extraction pattern: unknown capture type "bad"`, 11, 12, 24, `a\tb {x:bad}`},
		{"interp", "Invalid extraction pattern", 5, 11, 29, `"Answer: ${var.x}"`},
		{"number", "Invalid extraction pattern", 6, 11, 13, `42`},
	} {
		_, diags := ParseExpr(attrs[w.attr].Expr)
		if len(diags) != 1 {
			t.Errorf("%s: %d diagnostics, want 1: %v", w.attr, len(diags), diags)
			continue
		}
		d := diags[0]
		r := d.Subject
		if d.Summary != w.summary || r.Start.Line != w.line || r.Start.Column != w.col || r.End.Line != w.line || r.End.Column != w.endCol {
			t.Errorf("%s: %q at %d:%d-%d:%d, want %q at %d:%d-%d",
				w.attr, d.Summary, r.Start.Line, r.Start.Column, r.End.Line, r.End.Column, w.summary, w.line, w.col, w.endCol)
		}
		if got := hclSrc[r.Start.Byte:r.End.Byte]; got != w.byteSubject {
			t.Errorf("%s: subject bytes %q, want %q", w.attr, got, w.byteSubject)
		}
		if w.attr == "escaped" && !strings.Contains(lines[w.line-1], w.byteSubject) {
			t.Errorf("bad test")
		}
	}
}

// TestParseExprAllErrors checks that every error of a pattern gets its own
// diagnostic, in order.
func TestParseExprAllErrors(t *testing.T) {
	src := `p = "{a:int} {a:word} \\q"`
	f, diags := hclsyntax.ParseConfig([]byte(src), "x.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	attrs, _ := f.Body.JustAttributes()
	_, diags = ParseExpr(attrs["p"].Expr)
	if len(diags) != 1 || src[diags[0].Subject.Start.Byte:diags[0].Subject.End.Byte] != `\\q` {
		t.Fatalf("diags = %v", diags)
	}
	src = `p = "{a:int} {a:word} {b:x}"`
	f, _ = hclsyntax.ParseConfig([]byte(src), "x.hcl", hcl.InitialPos)
	attrs, _ = f.Body.JustAttributes()
	_, diags = ParseExpr(attrs["p"].Expr)
	var got []string
	for _, d := range diags {
		got = append(got, src[d.Subject.Start.Byte:d.Subject.End.Byte])
	}
	if strings.Join(got, ",") != "a,x" {
		t.Errorf("subjects = %q", got)
	}
}
