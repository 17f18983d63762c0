package lsp

import (
	"bytes"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	protocol "github.com/tliron/glsp/protocol_3_16"
)

// toLSP converts an hcl position in src to an LSP position. hcl gives the
// byte offset (and a 1-based line and grapheme column); LSP wants the
// 0-based line and the UTF-16 code units before the position on its line.
// Without the source, the grapheme column stands in for the character.
func toLSP(src []byte, p hcl.Pos) protocol.Position {
	if src == nil || p.Byte < 0 {
		return protocol.Position{Line: uint32(max(p.Line-1, 0)), Character: uint32(max(p.Column-1, 0))}
	}
	b := min(p.Byte, len(src))
	start := bytes.LastIndexByte(src[:b], '\n') + 1
	return protocol.Position{
		Line:      uint32(bytes.Count(src[:b], []byte{'\n'})),
		Character: uint32(utf16Len(src[start:b])),
	}
}

// toLSPRange converts an hcl range in src.
func toLSPRange(src []byte, r hcl.Range) protocol.Range {
	return protocol.Range{Start: toLSP(src, r.Start), End: toLSP(src, r.End)}
}

// offset converts an LSP position to a byte offset in src, clamped to the
// line's end (and the text's).
func offset(src []byte, p protocol.Position) int {
	off := 0
	for line := uint32(0); line < p.Line; line++ {
		i := bytes.IndexByte(src[off:], '\n')
		if i < 0 {
			return len(src)
		}
		off += i + 1
	}
	for units := uint32(0); units < p.Character && off < len(src) && src[off] != '\n'; {
		r, size := utf8.DecodeRune(src[off:])
		units += uint32(utf16Units(r))
		off += size
	}
	return off
}

func utf16Len(b []byte) int {
	n := 0
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		n += utf16Units(r)
		b = b[size:]
	}
	return n
}

func utf16Units(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

// contains reports whether byte offset off falls in r, its end included, so
// a cursor just after a name is on it.
func contains(r hcl.Range, off int) bool {
	return r.Start.Byte <= off && off <= r.End.Byte
}
