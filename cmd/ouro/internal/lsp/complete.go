package lsp

import (
	"bytes"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	protocol "github.com/tliron/glsp/protocol_3_16"
	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang"
)

// Completion reads the text before the cursor, not the syntax tree: while
// a name is half typed the buffer rarely parses. A small scanner (frames)
// finds the blocks open at the cursor and the argument being written;
// the compiler supplies what `item.` holds there.

// frame is a block (or an expression's braces, typ "") open at the cursor.
type frame struct {
	typ    string
	labels []string
	attr   string // the argument of this block last started before the cursor
	start  int    // byte offset of the block's "{"
}

var (
	headerRe = regexp.MustCompile(`^\s*([A-Za-z_][\w-]*)((?:\s+"[^"]*"|\s+[A-Za-z_][\w-]*)*)\s*$`)
	labelRe  = regexp.MustCompile(`"([^"]*)"`)
	attrRe   = regexp.MustCompile(`^\s*([A-Za-z_][\w-]*)\s*$`)

	stageLabelRe = regexp.MustCompile(`^\s*stage\s+"([\w-]*)$`)
	providerRe   = regexp.MustCompile(`^\s*provider\s*=\s*"([\w-]*)$`)
	traversalRe  = regexp.MustCompile(`(?:^|[^\w.])([A-Za-z_][\w]*)((?:\.[\w-]+)*)\.([\w-]*)$`)
	bareRe       = regexp.MustCompile(`^\s*([\w-]*)$`)
	exprRe       = regexp.MustCompile(`=[^=]*?(?:^|[^\w."])([A-Za-z_][\w]*)?$`)
	providerIn   = regexp.MustCompile(`provider\s*=\s*"([\w-]+)"`)
)

// frames scans src (the text before the cursor) and returns the blocks
// open at its end, outermost first, below a root frame for the file. It
// skips strings (and their templates), comments and heredocs.
func frames(src []byte) []frame {
	stack := []frame{{typ: "file"}}
	lineStart := 0
	inString, tmpl := false, 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		if inString {
			switch {
			case c == '\\':
				i++
			case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{':
				tmpl++
				i++
			case c == '}' && tmpl > 0:
				tmpl--
			case c == '"' && tmpl == 0:
				inString = false
			case c == '\n':
				lineStart = i + 1
			}
			continue
		}
		switch {
		case c == '\n':
			lineStart = i + 1
		case c == '"':
			inString = true
		case c == '#' || (c == '/' && i+1 < len(src) && src[i+1] == '/'):
			for i < len(src) && src[i] != '\n' {
				i++
			}
			i--
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			if j := bytes.Index(src[i+2:], []byte("*/")); j >= 0 {
				i += j + 3
			} else {
				i = len(src)
			}
		case c == '<' && bytes.HasPrefix(src[i:], []byte("<<")):
			rest := src[i+2:]
			rest = bytes.TrimPrefix(rest, []byte("-"))
			nl := bytes.IndexByte(rest, '\n')
			if nl < 0 {
				break
			}
			marker := strings.TrimSpace(string(rest[:nl]))
			if marker == "" {
				break
			}
			j := i + (len(src[i:]) - len(rest)) + nl + 1
			for j < len(src) {
				e := bytes.IndexByte(src[j:], '\n')
				line := src[j:]
				if e >= 0 {
					line = src[j : j+e]
				}
				if strings.TrimSpace(string(line)) == marker {
					break
				}
				if e < 0 {
					j = len(src)
					break
				}
				j += e + 1
			}
			i = j
		case c == '{':
			f := frame{start: i}
			if m := headerRe.FindSubmatch(src[lineStart:i]); m != nil {
				f.typ = string(m[1])
				for _, l := range labelRe.FindAllSubmatch(m[2], -1) {
					f.labels = append(f.labels, string(l[1]))
				}
			}
			stack = append(stack, f)
		case c == '}':
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
		case c == '=':
			next := byte(0)
			if i+1 < len(src) {
				next = src[i+1]
			}
			if next == '=' || next == '>' || i > 0 && strings.IndexByte("=!<>", src[i-1]) >= 0 {
				break
			}
			if top := &stack[len(stack)-1]; top.typ != "" {
				if m := attrRe.FindSubmatch(src[lineStart:i]); m != nil {
					top.attr = string(m[1])
				}
			}
		}
	}
	return stack
}

func (s *server) completion(uri string, pos protocol.Position) *protocol.CompletionList {
	path := uriPath(uri)
	src := s.text(path)
	off := offset(src, pos)
	before := src[:off]
	line := string(before[bytes.LastIndexByte(before, '\n')+1:])
	fs := frames(before)
	top := fs[len(fs)-1]
	list := &protocol.CompletionList{Items: []protocol.CompletionItem{}}
	switch {
	case stageLabelRe.MatchString(line):
		for _, n := range s.opts.Registry.OperatorNames() {
			sig, _ := s.opts.Registry.Operator(n)
			list.Items = append(list.Items, item(n, protocol.CompletionItemKindClass, string(sig.Family), sig.Doc))
		}
	case providerRe.MatchString(line):
		for _, n := range s.opts.Registry.ProviderNames() {
			sig, _ := s.opts.Registry.Provider(n)
			list.Items = append(list.Items, item(n, protocol.CompletionItemKindClass, "model provider", sig.Doc))
		}
	case traversalRe.MatchString(line):
		m := traversalRe.FindStringSubmatch(line)
		patched := append(append([]byte(nil), src[:off-len(m[3])-1]...), src[off:]...)
		list.Items = s.traversalItems(path, patched, fs, m[1], m[2])
	case bareRe.MatchString(line) && top.typ != "":
		list.Items = s.bodyItems(path, src, off, top)
	case exprRe.MatchString(line):
		names := make([]string, 0, len(s.opts.Functions))
		for n := range s.opts.Functions {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			list.Items = append(list.Items, item(n, protocol.CompletionItemKindFunction, "function", ""))
		}
	}
	return list
}

func item(label string, kind protocol.CompletionItemKind, detail, doc string) protocol.CompletionItem {
	it := protocol.CompletionItem{Label: label, Kind: &kind}
	if detail != "" {
		it.Detail = &detail
	}
	if doc != "" {
		it.Documentation = doc
	}
	return it
}

// bodyItems are the block types and argument names a block's body may
// hold at the start of a line.
func (s *server) bodyItems(path string, src []byte, off int, top frame) []protocol.CompletionItem {
	var items []protocol.CompletionItem
	kw := func(names ...string) {
		for _, n := range names {
			items = append(items, item(n, protocol.CompletionItemKindKeyword, "block", ""))
		}
	}
	attrs := func(names ...string) {
		for _, n := range names {
			items = append(items, item(n, protocol.CompletionItemKindProperty, "argument", ""))
		}
	}
	params := func(sig *compiler.Signature) {
		if sig == nil {
			return
		}
		for _, p := range sig.Params {
			items = append(items, item(p.Name, protocol.CompletionItemKindProperty, p.Mode.String()+" argument of "+sig.Name, s.opts.ArgDoc(sig, p)))
		}
	}
	switch top.typ {
	case "file":
		kw("variable", "locals", "model", "dataset", "stage", "loop", "module", "output", "settings")
	case "loop":
		attrs("rounds", "state", "next", "until")
		kw("stage", "module")
	case "module":
		attrs("source", "count", "for_each")
		if len(top.labels) == 0 {
			break
		}
		// The module's variables, from the spec with the half-typed line
		// cut out (a bare name does not parse).
		lineStart := bytes.LastIndexByte(src[:off], '\n') + 1
		patched := append(append([]byte(nil), src[:lineStart]...), src[off:]...)
		if m := moduleNamed(s.analyze(path, patched).cfg, top.labels[0]); m != nil && m.Config != nil {
			for _, v := range m.Config.Variables {
				items = append(items, item(v.Name, protocol.CompletionItemKindProperty, "variable of module "+m.Name, v.Description))
			}
		}
	case "stage":
		if len(top.labels) > 0 {
			sig, _ := s.opts.Registry.Operator(top.labels[0])
			params(sig)
		}
		kw("resources")
	case "dataset":
		sig, _ := s.opts.Registry.Operator("dataset")
		params(sig)
	case "model":
		attrs("provider")
		end := bytes.Index(src[off:], []byte("\n}"))
		if end < 0 {
			end = len(src) - off
		}
		if m := providerIn.FindSubmatch(src[top.start : off+end]); m != nil {
			sig, _ := s.opts.Registry.Provider(string(m[1]))
			params(sig)
		}
	case "variable":
		attrs("type", "default", "description", "sensitive")
		kw("validation")
	case "validation":
		attrs("condition", "error_message")
	case "output":
		attrs("value", "description")
	case "settings":
		attrs("seed", "parallelism", "description")
	case "resources":
		attrs("queue")
	}
	return items
}

// traversalItems completes root.path. (root being item or another per-item
// name of the argument, or var, local, model, dataset, stage, loop) from
// the spec compiled with the half-typed name cut off (patched).
func (s *server) traversalItems(path string, patched []byte, fs []frame, root, rest string) []protocol.CompletionItem {
	a := s.analyze(path, patched)
	var items []protocol.CompletionItem
	if rest == "" && a.cfg != nil {
		var names []string
		switch root {
		case "var":
			for _, v := range a.cfg.Variables {
				names = append(names, v.Name)
			}
		case "local":
			for _, l := range a.cfg.Locals {
				names = append(names, l.Name)
			}
		case "model":
			for _, m := range a.cfg.Models {
				names = append(names, m.Name)
			}
		case "dataset":
			for _, d := range a.cfg.Datasets {
				names = append(names, d.Name)
			}
		case "loop":
			for _, l := range a.cfg.Loops {
				names = append(names, l.Name)
			}
		case "module":
			// Top-level modules, and those of the loop the cursor is in.
			var loop string
			if l := enclosing(fs, "loop"); l != nil && len(l.labels) > 0 {
				loop = l.labels[0]
			}
			for _, m := range a.cfg.Modules {
				if m.Loop == nil || m.Loop.Name == loop {
					names = append(names, m.Name)
				}
			}
		case "stage":
			for _, st := range a.cfg.Stages {
				names = append(names, st.Name)
			}
			if l := enclosing(fs, "loop"); l != nil && len(l.labels) > 0 {
				for _, cl := range a.cfg.Loops {
					if cl.Name == l.labels[0] {
						for _, st := range cl.Stages {
							names = append(names, st.Name)
						}
					}
				}
			}
		}
		if names != nil {
			for _, n := range names {
				items = append(items, item(n, protocol.CompletionItemKindVariable, root, ""))
			}
			return items
		}
	}
	// module.NAME. : the module's outputs.
	if name := strings.TrimPrefix(rest, "."); root == "module" && rest != "" && !strings.Contains(name, ".") && a.cfg != nil {
		if m := moduleNamed(a.cfg, name); m != nil && m.Config != nil {
			for _, o := range m.Config.Outputs {
				items = append(items, item(o.Name, protocol.CompletionItemKindField, "output of module "+m.Name, o.Description))
			}
		}
		return items
	}
	st := enclosing(fs, "stage")
	if st == nil || len(st.labels) < 2 || st.attr == "" {
		return nil
	}
	addr := "stage." + st.labels[1]
	if l := enclosing(fs, "loop"); l != nil && len(l.labels) > 0 {
		addr = "loop." + l.labels[0] + "." + addr
	}
	var scope map[string]cty.Type
	if a.result != nil {
		scope = a.result.ItemScope(addr, st.attr)
	}
	if scope == nil {
		s.mu.Lock()
		last := s.last[filepath.Dir(path)]
		s.mu.Unlock()
		if last != nil {
			scope = last.result.ItemScope(addr, st.attr)
		}
	}
	t, ok := scope[root]
	if !ok {
		return nil
	}
	for _, step := range strings.Split(strings.TrimPrefix(rest, "."), ".") {
		if step == "" {
			continue
		}
		if !t.IsObjectType() || !t.HasAttribute(step) {
			return nil
		}
		t = t.AttributeType(step)
	}
	if !t.IsObjectType() {
		return nil
	}
	names := make([]string, 0, len(t.AttributeTypes()))
	for n := range t.AttributeTypes() {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		items = append(items, item(n, protocol.CompletionItemKindField, compiler.TypeString(t.AttributeType(n)), ""))
	}
	return items
}

// enclosing is the innermost open block of a type.
func enclosing(fs []frame, typ string) *frame {
	for i := len(fs) - 1; i >= 0; i-- {
		if fs[i].typ == typ {
			return &fs[i]
		}
	}
	return nil
}

// moduleNamed is the module block called name in cfg (top level or in a
// loop), nil when there is none.
func moduleNamed(cfg *lang.Config, name string) *lang.Module {
	if cfg == nil {
		return nil
	}
	for _, m := range cfg.Modules {
		if m.Name == name {
			return m
		}
	}
	return nil
}
