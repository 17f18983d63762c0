package lsp

import (
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/sourcegraph/jsonrpc2"
	"github.com/tliron/glsp"
	protocol "github.com/tliron/glsp/protocol_3_16"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang"
)

// Options are what the server needs from the program that runs it.
type Options struct {
	// Registry and Functions are the compiler's inputs, those `ouro
	// validate` compiles with.
	Registry  compiler.Registry
	Functions map[string]function.Function
	// Doc returns the text `ouro doc NAME` prints for an operator, model
	// provider or function, and false when nothing has that name.
	Doc func(name string) (string, bool)
	// ArgDoc returns what `ouro doc` prints for one argument of an
	// operator or provider.
	ArgDoc  func(sig *compiler.Signature, p *compiler.Param) string
	Version string
}

// Serve runs the language server on one connection (stdin and stdout for
// `ouro lsp`) until the client exits or closes it.
func Serve(ctx context.Context, rwc io.ReadWriteCloser, opts Options) error {
	s := &server{opts: opts, docs: map[string]*document{}, published: map[string]map[string]bool{}, last: map[string]*analysis{}}
	h := s.handler()
	conn := jsonrpc2.NewConn(ctx, jsonrpc2.NewBufferedStream(rwc, jsonrpc2.VSCodeObjectCodec{}),
		jsonrpc2.HandlerWithError(func(ctx context.Context, conn *jsonrpc2.Conn, req *jsonrpc2.Request) (any, error) {
			gc := &glsp.Context{
				Method: req.Method,
				Notify: func(method string, params any) { _ = conn.Notify(ctx, method, params) },
				Call:   func(method string, params, result any) { _ = conn.Call(ctx, method, params, result) },
			}
			if req.Params != nil {
				gc.Params = *req.Params
			}
			r, validMethod, validParams, err := h.Handle(gc)
			switch {
			case req.Method == protocol.MethodExit:
				return nil, conn.Close()
			case !validMethod:
				return nil, &jsonrpc2.Error{Code: jsonrpc2.CodeMethodNotFound, Message: "method not supported: " + req.Method}
			case !validParams:
				msg := "invalid params"
				if err != nil {
					msg = err.Error()
				}
				return nil, &jsonrpc2.Error{Code: jsonrpc2.CodeInvalidParams, Message: msg}
			case err != nil:
				return nil, &jsonrpc2.Error{Code: jsonrpc2.CodeInvalidRequest, Message: err.Error()}
			}
			return r, nil
		}))
	select {
	case <-conn.DisconnectNotify():
	case <-ctx.Done():
		_ = conn.Close()
	}
	return nil
}

// document is one open editor buffer.
type document struct {
	uri  string // as the client sent it, used when publishing back
	path string
	text []byte
}

type server struct {
	opts Options

	mu   sync.Mutex
	docs map[string]*document // by path
	// published holds, per spec folder, the files last given diagnostics,
	// so a fixed file gets its (empty) list too.
	published map[string]map[string]bool
	// last is each folder's latest analysis whose compile got as far as
	// per-item scopes, for completion while the buffer does not parse.
	last map[string]*analysis
}

func (s *server) handler() *protocol.Handler {
	h := &protocol.Handler{}
	h.Initialize = func(_ *glsp.Context, _ *protocol.InitializeParams) (any, error) {
		caps := h.CreateServerCapabilities()
		full := protocol.TextDocumentSyncKindFull
		caps.TextDocumentSync = &protocol.TextDocumentSyncOptions{OpenClose: &protocol.True, Change: &full, Save: &protocol.True}
		caps.CompletionProvider = &protocol.CompletionOptions{TriggerCharacters: []string{".", "\""}}
		version := s.opts.Version
		return protocol.InitializeResult{Capabilities: caps, ServerInfo: &protocol.InitializeResultServerInfo{Name: "ouro", Version: &version}}, nil
	}
	h.Initialized = func(*glsp.Context, *protocol.InitializedParams) error { return nil }
	h.Shutdown = func(*glsp.Context) error { return nil }
	h.Exit = func(*glsp.Context) error { return nil }
	h.SetTrace = func(*glsp.Context, *protocol.SetTraceParams) error { return nil }
	h.TextDocumentDidOpen = func(ctx *glsp.Context, p *protocol.DidOpenTextDocumentParams) error {
		s.open(p.TextDocument.URI, []byte(p.TextDocument.Text))
		s.publish(ctx, p.TextDocument.URI)
		return nil
	}
	h.TextDocumentDidChange = func(ctx *glsp.Context, p *protocol.DidChangeTextDocumentParams) error {
		for _, c := range p.ContentChanges {
			switch c := c.(type) {
			case protocol.TextDocumentContentChangeEventWhole:
				s.open(p.TextDocument.URI, []byte(c.Text))
			case protocol.TextDocumentContentChangeEvent:
				s.edit(p.TextDocument.URI, c)
			}
		}
		s.publish(ctx, p.TextDocument.URI)
		return nil
	}
	h.TextDocumentDidSave = func(ctx *glsp.Context, p *protocol.DidSaveTextDocumentParams) error {
		if p.Text != nil {
			s.open(p.TextDocument.URI, []byte(*p.Text))
		}
		s.publish(ctx, p.TextDocument.URI)
		return nil
	}
	h.TextDocumentDidClose = func(ctx *glsp.Context, p *protocol.DidCloseTextDocumentParams) error {
		path := uriPath(p.TextDocument.URI)
		s.mu.Lock()
		delete(s.docs, path)
		s.mu.Unlock()
		// The file on disk now stands for it; re-check its folder.
		s.publish(ctx, p.TextDocument.URI)
		return nil
	}
	h.TextDocumentHover = func(_ *glsp.Context, p *protocol.HoverParams) (*protocol.Hover, error) {
		return s.hover(p.TextDocument.URI, p.Position), nil
	}
	h.TextDocumentDefinition = func(_ *glsp.Context, p *protocol.DefinitionParams) (any, error) {
		if loc := s.definition(p.TextDocument.URI, p.Position); loc != nil {
			return loc, nil
		}
		return nil, nil
	}
	h.TextDocumentReferences = func(_ *glsp.Context, p *protocol.ReferenceParams) ([]protocol.Location, error) {
		return s.references(p.TextDocument.URI, p.Position, p.Context.IncludeDeclaration), nil
	}
	h.TextDocumentCompletion = func(_ *glsp.Context, p *protocol.CompletionParams) (any, error) {
		return s.completion(p.TextDocument.URI, p.Position), nil
	}
	h.TextDocumentFormatting = func(_ *glsp.Context, p *protocol.DocumentFormattingParams) ([]protocol.TextEdit, error) {
		return s.format(p.TextDocument.URI)
	}
	return h
}

func (s *server) open(uri string, text []byte) {
	path := uriPath(uri)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docs[path] = &document{uri: uri, path: path, text: text}
}

// edit applies an incremental change (the server asks for full sync, but a
// client may send ranges anyway).
func (s *server) edit(uri string, c protocol.TextDocumentContentChangeEvent) {
	path := uriPath(uri)
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.docs[path]
	if d == nil || c.Range == nil {
		return
	}
	a, b := offset(d.text, c.Range.Start), offset(d.text, c.Range.End)
	text := append(append(append([]byte(nil), d.text[:a]...), c.Text...), d.text[b:]...)
	d.text = text
}

// text returns the current text of a document: the open buffer, or the
// file on disk.
func (s *server) text(path string) []byte {
	s.mu.Lock()
	d := s.docs[path]
	s.mu.Unlock()
	if d != nil {
		return d.text
	}
	b, _ := os.ReadFile(path)
	return b
}

// analysis is one spec folder loaded and compiled.
type analysis struct {
	sources map[string][]byte
	files   map[string]*hcl.File
	cfg     *lang.Config
	result  *compiler.Result
	// diags are exactly `ouro validate`'s: the compiler's only when the
	// spec decoded without errors. result may still be set then (compiled
	// for navigation, its diagnostics dropped).
	diags hcl.Diagnostics
}

// specFiles returns the files of the spec a document belongs to: every
// *.loop.hcl file of its folder on disk plus open buffers there that are
// not saved yet, or the document alone when it is no .loop.hcl file (as
// `ouro validate FILE`).
func (s *server) specFiles(path string) []string {
	if !strings.HasSuffix(path, lang.FileSuffix) {
		return []string{path}
	}
	dir := filepath.Dir(path)
	seen := map[string]bool{path: true}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), lang.FileSuffix) {
			seen[filepath.Join(dir, e.Name())] = true
		}
	}
	s.mu.Lock()
	for p := range s.docs {
		if filepath.Dir(p) == dir && strings.HasSuffix(p, lang.FileSuffix) {
			seen[p] = true
		}
	}
	s.mu.Unlock()
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// analyze loads and compiles the spec of path, with replace (when not nil)
// standing in for that one document's text.
func (s *server) analyze(path string, replace []byte) *analysis {
	names := s.specFiles(path)
	overlay := map[string][]byte{}
	s.mu.Lock()
	for _, n := range names {
		if d := s.docs[n]; d != nil {
			overlay[n] = d.text
		}
	}
	s.mu.Unlock()
	if replace != nil {
		overlay[path] = replace
	}
	p := lang.NewParser()
	cfg, diags := p.LoadFilesOverlay(names, overlay)
	a := &analysis{cfg: cfg, diags: diags}
	if cfg != nil {
		opts := compiler.Options{Registry: s.opts.Registry, Functions: s.opts.Functions}
		if !diags.HasErrors() {
			res, d := compiler.Compile(cfg, opts)
			a.result, a.diags = res, append(diags, d...)
		} else {
			a.result = compileQuietly(cfg, opts)
		}
	}
	a.files = p.Files()
	a.sources = map[string][]byte{}
	for name, f := range a.files {
		a.sources[name] = f.Bytes
	}
	if a.result != nil && replace == nil {
		s.mu.Lock()
		s.last[filepath.Dir(path)] = a
		s.mu.Unlock()
	}
	return a
}

// compileQuietly compiles a spec that did not decode cleanly, for
// navigation only: `ouro validate` stops before compiling such a spec, so
// its diagnostics are dropped, and so is a compiler that trips over what
// decoding could not make sense of.
func compileQuietly(cfg *lang.Config, opts compiler.Options) (res *compiler.Result) {
	defer func() {
		if recover() != nil {
			res = nil
		}
	}()
	res, _ = compiler.Compile(cfg, opts)
	return res
}

// publish checks the spec a document belongs to and sends the diagnostics
// of each of its files.
func (s *server) publish(ctx *glsp.Context, uri string) {
	path := uriPath(uri)
	a := s.analyze(path, nil)
	byFile := map[string][]protocol.Diagnostic{}
	for _, f := range s.specFiles(path) {
		byFile[f] = []protocol.Diagnostic{}
	}
	for _, d := range a.diags {
		file, rng := path, protocol.Range{}
		if d.Subject != nil {
			file = d.Subject.Filename
			rng = toLSPRange(a.sources[file], *d.Subject)
		}
		byFile[file] = append(byFile[file], toDiagnostic(d, rng))
	}
	dir := filepath.Dir(path)
	s.mu.Lock()
	for f := range s.published[dir] {
		if _, ok := byFile[f]; !ok {
			byFile[f] = []protocol.Diagnostic{}
		}
	}
	s.published[dir] = map[string]bool{}
	for f, ds := range byFile {
		if len(ds) > 0 {
			s.published[dir][f] = true
		}
	}
	s.mu.Unlock()
	files := make([]string, 0, len(byFile))
	for f := range byFile {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		ctx.Notify(protocol.ServerTextDocumentPublishDiagnostics, protocol.PublishDiagnosticsParams{URI: s.uriOf(f), Diagnostics: byFile[f]})
	}
}

// toDiagnostic is an hcl diagnostic as LSP has it: the summary and the
// detail in one message, as Terraform's language server writes them.
func toDiagnostic(d *hcl.Diagnostic, rng protocol.Range) protocol.Diagnostic {
	sev := protocol.DiagnosticSeverityError
	if d.Severity == hcl.DiagWarning {
		sev = protocol.DiagnosticSeverityWarning
	}
	msg := d.Summary
	if d.Detail != "" {
		msg += ": " + d.Detail
	}
	source := "ouro"
	return protocol.Diagnostic{Range: rng, Severity: &sev, Source: &source, Message: msg}
}

// uriPath is the file path of a file:// URI.
func uriPath(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "file" {
		return uri
	}
	return filepath.Clean(u.Path)
}

// uriOf is the URI of a path: the one the client used when it has the file
// open, a file:// URI otherwise.
func (s *server) uriOf(path string) string {
	s.mu.Lock()
	d := s.docs[path]
	s.mu.Unlock()
	if d != nil {
		return d.uri
	}
	return (&url.URL{Scheme: "file", Path: path}).String()
}

func (s *server) location(a *analysis, r hcl.Range) protocol.Location {
	return protocol.Location{URI: s.uriOf(r.Filename), Range: toLSPRange(a.sources[r.Filename], r)}
}
