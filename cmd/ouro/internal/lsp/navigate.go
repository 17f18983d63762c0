package lsp

import (
	"bytes"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	protocol "github.com/tliron/glsp/protocol_3_16"
	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
)

// definition is the declaration a reference under the cursor names.
func (s *server) definition(uri string, pos protocol.Position) *protocol.Location {
	path := uriPath(uri)
	a := s.analyze(path, nil)
	if a.result == nil {
		return nil
	}
	off := offset(a.sources[path], pos)
	for _, r := range a.result.References() {
		if r.Range.Filename == path && contains(r.Range, off) {
			loc := s.location(a, r.Target)
			return &loc
		}
	}
	return nil
}

// references lists every reference to the declaration under the cursor, or
// to the one named by the reference under it.
func (s *server) references(uri string, pos protocol.Position, withDecl bool) []protocol.Location {
	path := uriPath(uri)
	a := s.analyze(path, nil)
	if a.result == nil {
		return nil
	}
	off := offset(a.sources[path], pos)
	refs := a.result.References()
	var target *hcl.Range
	for _, r := range refs {
		if r.Range.Filename == path && contains(r.Range, off) {
			target = &r.Target
			break
		}
	}
	if target == nil {
		for _, r := range refs {
			if r.Target.Filename == path && contains(r.Target, off) {
				target = &r.Target
				break
			}
		}
	}
	if target == nil {
		return nil
	}
	out := []protocol.Location{}
	if withDecl {
		out = append(out, s.location(a, *target))
	}
	for _, r := range refs {
		if sameRange(r.Target, *target) {
			out = append(out, s.location(a, r.Range))
		}
	}
	return out
}

func sameRange(a, b hcl.Range) bool {
	return a.Filename == b.Filename && a.Start.Byte == b.Start.Byte && a.End.Byte == b.End.Byte
}

// format is `ouro fmt` of one buffer: one edit replacing the whole text, or
// none when it is formatted already. A buffer that does not parse is left
// alone, as `ouro fmt` leaves such a file.
func (s *server) format(uri string) ([]protocol.TextEdit, error) {
	path := uriPath(uri)
	src := s.text(path)
	if _, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos); diags.HasErrors() {
		return nil, nil
	}
	out := hclwrite.Format(src)
	if bytes.Equal(out, src) {
		return []protocol.TextEdit{}, nil
	}
	end := toLSP(src, hcl.Pos{Byte: len(src)})
	return []protocol.TextEdit{{Range: protocol.Range{End: end}, NewText: string(out)}}, nil
}

// hover documents what is under the cursor: an operator (a stage's first
// label), a model provider (a model's provider string), a function (a name
// before "("), or an argument of a stage's, dataset's or model's operator.
func (s *server) hover(uri string, pos protocol.Position) *protocol.Hover {
	path := uriPath(uri)
	src := s.text(path)
	off := offset(src, pos)
	f, _ := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	var body *hclsyntax.Body
	if f != nil {
		body, _ = f.Body.(*hclsyntax.Body)
	}
	text, rng := "", hcl.Range{}
	if body != nil {
		text, rng = s.hoverIn(body, off)
	}
	if text == "" {
		// A function name: an identifier followed by "(".
		start, end := word(src, off)
		if end < len(src) && src[end] == '(' && start < end {
			if doc, ok := s.opts.Doc(string(src[start:end])); ok {
				text = doc
				rng = hcl.Range{Start: hcl.Pos{Byte: start}, End: hcl.Pos{Byte: end}}
			}
		}
	}
	if text == "" {
		return nil
	}
	r := toLSPRange(src, rng)
	return &protocol.Hover{
		Contents: protocol.MarkupContent{Kind: protocol.MarkupKindMarkdown, Value: "```text\n" + strings.TrimRight(text, "\n") + "\n```"},
		Range:    &r,
	}
}

func (s *server) hoverIn(body *hclsyntax.Body, off int) (string, hcl.Range) {
	for _, b := range body.Blocks {
		if !contains(b.Range(), off) {
			continue
		}
		if b.Type == "stage" && len(b.Labels) > 0 && contains(b.LabelRanges[0], off) {
			if doc, ok := s.opts.Doc(b.Labels[0]); ok {
				return doc, b.LabelRanges[0]
			}
			return "", hcl.Range{}
		}
		if sig := s.signatureOf(b); sig != nil {
			for _, a := range b.Body.Attributes {
				if contains(a.NameRange, off) {
					if p := sig.Param(a.Name); p != nil {
						return s.opts.ArgDoc(sig, p), a.NameRange
					}
				}
			}
		}
		if b.Type == "model" {
			if a := b.Body.Attributes["provider"]; a != nil && contains(a.Expr.Range(), off) {
				if v, diags := a.Expr.Value(nil); !diags.HasErrors() && v.Type() == cty.String && v.IsKnown() {
					if doc, ok := s.opts.Doc(v.AsString()); ok {
						return doc, a.Expr.Range()
					}
				}
			}
		}
		return s.hoverIn(b.Body, off)
	}
	return "", hcl.Range{}
}

// signatureOf is the signature whose arguments a block's body holds: a
// stage's operator, the dataset operator, a model's provider.
func (s *server) signatureOf(b *hclsyntax.Block) *compiler.Signature {
	switch b.Type {
	case "stage":
		if len(b.Labels) > 0 {
			sig, _ := s.opts.Registry.Operator(b.Labels[0])
			return sig
		}
	case "dataset":
		sig, _ := s.opts.Registry.Operator("dataset")
		return sig
	case "model":
		if a := b.Body.Attributes["provider"]; a != nil {
			if v, diags := a.Expr.Value(nil); !diags.HasErrors() && v.Type() == cty.String && v.IsKnown() {
				sig, _ := s.opts.Registry.Provider(v.AsString())
				return sig
			}
		}
	}
	return nil
}

// word returns the identifier around off: [start, end).
func word(src []byte, off int) (int, int) {
	start, end := off, off
	for start > 0 && isIdent(src[start-1]) {
		start--
	}
	for end < len(src) && isIdent(src[end]) {
		end++
	}
	return start, end
}

func isIdent(c byte) bool {
	return c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
