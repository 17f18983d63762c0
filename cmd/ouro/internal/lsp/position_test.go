package lsp

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	protocol "github.com/tliron/glsp/protocol_3_16"
)

// A line with non-ASCII text: "é" is 2 bytes and 1 UTF-16 unit, "😀" 4 bytes
// and 2 units, and "e\u0301" (e + combining acute) one grapheme that hcl
// counts as one column but LSP as 2 units.
func TestPositionsNonASCII(t *testing.T) {
	src := []byte("a = 1\nb = \"é😀e\u0301\" + xx\n")
	f, diags := hclsyntax.ParseConfig(src, "t.loop.hcl", hcl.InitialPos)
	if f == nil {
		t.Fatal(diags)
	}
	// The operand `xx`, found by hcl.
	attrs, _ := f.Body.JustAttributes()
	var xx hcl.Range
	for _, tr := range attrs["b"].Expr.Variables() {
		xx = tr.SourceRange()
	}
	// 12 graphemes precede xx (b, space, =, space, ", é, 😀, é, ", space, +, space) ...
	if xx.Start.Column != 13 {
		t.Fatalf("hcl column of xx = %d, want 13", xx.Start.Column)
	}
	// ... but 14 UTF-16 units: 😀 is a surrogate pair, e + U+0301 two units.
	got := toLSPRange(src, xx)
	want := protocol.Range{Start: protocol.Position{Line: 1, Character: 14}, End: protocol.Position{Line: 1, Character: 16}}
	if got != want {
		t.Fatalf("toLSPRange(xx) = %+v, want %+v", got, want)
	}
	if off := offset(src, want.Start); off != xx.Start.Byte {
		t.Errorf("offset(%+v) = %d, want byte %d", want.Start, off, xx.Start.Byte)
	}
	// Past the end of a line clamps to the line's end; past the text to its end.
	if off := offset(src, protocol.Position{Line: 0, Character: 99}); off != 5 {
		t.Errorf("offset past line end = %d, want 5", off)
	}
	if off := offset(src, protocol.Position{Line: 9, Character: 0}); off != len(src) {
		t.Errorf("offset past the text = %d, want %d", off, len(src))
	}
}
