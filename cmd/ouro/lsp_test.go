package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sourcegraph/jsonrpc2"
	protocol "github.com/tliron/glsp/protocol_3_16"

	"github.com/ouroloop/ouro/cmd/ouro/internal/lsp"
	"github.com/ouroloop/ouro/stdlib"
)

// lspSpec has one type error (item.answr, line 27), a non-ASCII prompt and
// a reference of each kind the server navigates. It is written to a
// folder beside a second file, so the folder is one spec.
const lspSpec = `variable "rounds" {
  type    = number
  default = 2
}

dataset "problems" {
  source = "problems.jsonl"
  schema = object({ question = string, answer = number })
}

model "base" {
  provider = "builtin"
}

loop "star" {
  rounds = var.rounds
  state  = { policy = model.base }

  stage "generate" "attempts" {
    model  = state.policy
    input  = dataset.problems
    prompt = "é😀 Q: ${item.question}\nA:"
  }

  stage "filter" "correct" {
    input = stage.attempts
    where = "é😀" != "" && item.answr == 1
  }

  next = { policy = state.policy }
}
`

const lspOutputs = `output "kept" {
  value = loop.star.rounds[*].correct
}
`

// lspClient is the test's side of an in-memory connection to the server.
type lspClient struct {
	t     *testing.T
	conn  *jsonrpc2.Conn
	diags chan protocol.PublishDiagnosticsParams
}

func startLsp(t *testing.T) *lspClient {
	t.Helper()
	server, client := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = lsp.Serve(ctx, server, lspOptions())
	}()
	c := &lspClient{t: t, diags: make(chan protocol.PublishDiagnosticsParams, 100)}
	c.conn = jsonrpc2.NewConn(ctx, jsonrpc2.NewBufferedStream(client, jsonrpc2.VSCodeObjectCodec{}),
		jsonrpc2.HandlerWithError(func(_ context.Context, _ *jsonrpc2.Conn, req *jsonrpc2.Request) (any, error) {
			if req.Method == protocol.ServerTextDocumentPublishDiagnostics && req.Params != nil {
				var p protocol.PublishDiagnosticsParams
				if err := json.Unmarshal(*req.Params, &p); err == nil {
					c.diags <- p
				}
			}
			return nil, nil
		}))
	t.Cleanup(func() {
		_ = c.conn.Close()
		cancel()
		<-done
	})
	var init json.RawMessage
	c.call(protocol.MethodInitialize, map[string]any{"processId": nil, "rootUri": nil, "capabilities": map[string]any{}}, &init)
	if !strings.Contains(string(init), `"hoverProvider":true`) || !strings.Contains(string(init), `"definitionProvider":true`) {
		t.Fatalf("initialize result %s lacks hover or definition", init)
	}
	if err := c.conn.Notify(ctx, protocol.MethodInitialized, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *lspClient) call(method string, params, result any) {
	c.t.Helper()
	if err := c.conn.Call(context.Background(), method, params, result); err != nil {
		c.t.Fatalf("%s: %v", method, err)
	}
}

// waitDiags returns the next diagnostics published for uri. Generous: it
// ends as soon as they arrive.
func (c *lspClient) waitDiags(uri string) []protocol.Diagnostic {
	c.t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case p := <-c.diags:
			if p.URI == uri {
				return p.Diagnostics
			}
		case <-timeout:
			c.t.Fatalf("no diagnostics for %s", uri)
		}
	}
}

func pos(line, char uint32) map[string]any {
	return map[string]any{"line": line, "character": char}
}

func docPos(uri string, line, char uint32) map[string]any {
	return map[string]any{"textDocument": map[string]any{"uri": uri}, "position": pos(line, char)}
}

// column returns the UTF-16 offset of the first sub on 0-based line.
func column(t *testing.T, src string, line int, sub string) uint32 {
	t.Helper()
	l := strings.Split(src, "\n")[line]
	i := strings.Index(l, sub)
	if i < 0 {
		t.Fatalf("%q not on line %d: %q", sub, line, l)
	}
	n := 0
	for _, r := range l[:i] {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return uint32(n)
}

func TestLspProtocol(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "main.loop.hcl")
	// On disk the spec is valid; the editor's unsaved buffer has the error.
	valid := strings.Replace(lspSpec, "item.answr", "item.answer", 1)
	if err := os.WriteFile(file, []byte(valid), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "outputs.loop.hcl"), []byte(lspOutputs), 0o644); err != nil {
		t.Fatal(err)
	}
	uri := "file://" + file
	c := startLsp(t)
	if err := c.conn.Notify(context.Background(), protocol.MethodTextDocumentDidOpen, map[string]any{
		"textDocument": map[string]any{"uri": uri, "languageId": "hcl", "version": 1, "text": lspSpec},
	}); err != nil {
		t.Fatal(err)
	}

	// Diagnostics: validate's, with the range in UTF-16 units.
	diags := c.waitDiags(uri)
	vdir := t.TempDir()
	os.WriteFile(filepath.Join(vdir, "main.loop.hcl"), []byte(lspSpec), 0o644)
	want := load(vdir, &specFlags{}) // what ouro validate reports
	if len(diags) != 1 || len(want.diags) != 1 {
		t.Fatalf("diagnostics = %+v, validate's = %v", diags, want.diags)
	}
	d, wd := diags[0], want.diags[0]
	if d.Message != wd.Summary+": "+wd.Detail {
		t.Errorf("message %q, validate's %q: %q", d.Message, wd.Summary, wd.Detail)
	}
	// validate's subject is `.answr` on line 27, after "é😀": é is one
	// column and one UTF-16 unit, 😀 one column but two units.
	start := column(t, lspSpec, 26, ".answr")
	if wd.Subject.Start.Line != 27 || uint32(wd.Subject.Start.Column-1) != start-1 {
		t.Fatalf("validate's subject %s, want line 27, column %d", wd.Subject, start-1)
	}
	wantRange := protocol.Range{Start: protocol.Position{Line: 26, Character: start}, End: protocol.Position{Line: 26, Character: start + uint32(len(".answr"))}}
	if d.Range != wantRange || *d.Severity != protocol.DiagnosticSeverityError {
		t.Errorf("diagnostic range %+v (severity %v), want %+v (validate: %s)", d.Range, *d.Severity, wantRange, wd.Subject)
	}

	// Hover on an operator: ouro doc's text.
	var hover protocol.Hover
	c.call(protocol.MethodTextDocumentHover, docPos(uri, 18, column(t, lspSpec, 18, "generate")+2), &hover)
	var doc strings.Builder
	writeDoc(&doc, stdlib.NewRegistry(), "generate")
	if got := hoverText(t, hover); !strings.Contains(got, strings.TrimSpace(doc.String())) {
		t.Errorf("hover on generate = %q, want ouro doc generate:\n%s", got, doc.String())
	}
	// ... on an argument, a provider and a function.
	for _, h := range []struct {
		line uint32
		at   string
		want string
	}{
		{21, "prompt", "argument prompt of operator generate"},
		{11, "builtin", "model provider builtin"},
	} {
		var hv protocol.Hover
		c.call(protocol.MethodTextDocumentHover, docPos(uri, h.line, column(t, lspSpec, int(h.line), h.at)+1), &hv)
		if got := hoverText(t, hv); !strings.Contains(got, h.want) {
			t.Errorf("hover on %s = %q, want %q", h.at, got, h.want)
		}
	}

	// Definition of each kind of reference; references of stage.attempts.
	for _, r := range []struct {
		line     uint32
		at       string
		wantLine uint32
		wantFile string
	}{
		{15, "var.rounds", 0, file},
		{16, "model.base", 10, file},
		{19, "state.policy", 16, file},
		{20, "dataset.problems", 5, file},
		{25, "stage.attempts", 18, file},
	} {
		var loc protocol.Location
		c.call(protocol.MethodTextDocumentDefinition, docPos(uri, r.line, column(t, lspSpec, int(r.line), r.at)+1), &loc)
		if uriPathOf(loc.URI) != r.wantFile || loc.Range.Start.Line != r.wantLine {
			t.Errorf("definition of %s = %+v, want %s line %d", r.at, loc, r.wantFile, r.wantLine)
		}
	}
	// loop.star from the other file of the folder.
	outURI := "file://" + filepath.Join(dir, "outputs.loop.hcl")
	var loc protocol.Location
	c.call(protocol.MethodTextDocumentDefinition, docPos(outURI, 1, column(t, lspOutputs, 1, "loop.star")+1), &loc)
	if loc.URI != uri || loc.Range.Start.Line != 14 {
		t.Errorf("definition of loop.star = %+v, want %s line 14", loc, uri)
	}
	var refs []protocol.Location
	c.call(protocol.MethodTextDocumentReferences, map[string]any{
		"textDocument": map[string]any{"uri": uri}, "position": pos(18, column(t, lspSpec, 18, "attempts")+1),
		"context": map[string]any{"includeDeclaration": true},
	}, &refs)
	if len(refs) != 2 || refs[0].Range.Start.Line != 18 || refs[1].Range.Start.Line != 25 {
		t.Errorf("references of stage attempts = %+v, want the declaration and line 25", refs)
	}
	c.call(protocol.MethodTextDocumentReferences, map[string]any{
		"textDocument": map[string]any{"uri": uri}, "position": pos(19, column(t, lspSpec, 19, "state")+1),
		"context": map[string]any{"includeDeclaration": false},
	}, &refs)
	if len(refs) != 2 || refs[0].Range.Start.Line != 19 || refs[1].Range.Start.Line != 29 {
		t.Errorf("references of state = %+v, want lines 19 and 29", refs)
	}

	// Completion after item. in the filter: the generate's record fields,
	// with the half-typed buffer as the editor has it.
	typing := strings.Replace(lspSpec, "item.answr == 1", "item.", 1)
	c.conn.Notify(context.Background(), protocol.MethodTextDocumentDidChange, map[string]any{
		"textDocument":   map[string]any{"uri": uri, "version": 2},
		"contentChanges": []any{map[string]any{"text": typing}},
	})
	c.waitDiags(uri)
	labels := c.complete(uri, 26, column(t, typing, 26, "item.")+5)
	for _, f := range []string{"answer", "completion", "question"} {
		if !labels[f] {
			t.Errorf("completion after item. lacks %q: %v", f, labels)
		}
	}
	// Operators after stage ", arguments of the stage's operator, block types.
	typing2 := strings.Replace(lspSpec, `  next = {`, "  stage \"fil\n  next = {", 1)
	c.conn.Notify(context.Background(), protocol.MethodTextDocumentDidChange, map[string]any{
		"textDocument":   map[string]any{"uri": uri, "version": 3},
		"contentChanges": []any{map[string]any{"text": typing2}},
	})
	c.waitDiags(uri)
	if labels := c.complete(uri, 29, uint32(len(`  stage "fil`))); !labels["filter"] || !labels["generate"] {
		t.Errorf("completion of operator names = %v", labels)
	}
	if labels := c.complete(uri, 21, 0); !labels["temperature"] || !labels["samples"] {
		t.Errorf("completion in a generate stage = %v", labels)
	}
	if labels := c.complete(uri, 4, 0); !labels["dataset"] || !labels["loop"] || !labels["stage"] {
		t.Errorf("completion at top level = %v", labels)
	}

	// Names after stage. (this loop's stages too) and functions in an
	// expression.
	typing3 := strings.Replace(lspSpec, "    input = stage.attempts", "    input = stage.", 1)
	typing3 = strings.Replace(typing3, "    where = \"é😀\" != \"\" && item.answr == 1", "    where = le", 1)
	c.conn.Notify(context.Background(), protocol.MethodTextDocumentDidChange, map[string]any{
		"textDocument":   map[string]any{"uri": uri, "version": 4},
		"contentChanges": []any{map[string]any{"text": typing3}},
	})
	c.waitDiags(uri)
	if labels := c.complete(uri, 25, uint32(len("    input = stage."))); !labels["attempts"] || !labels["correct"] {
		t.Errorf("completion after stage. = %v", labels)
	}
	if labels := c.complete(uri, 26, uint32(len("    where = le"))); !labels["length"] || !labels["extract_number"] {
		t.Errorf("completion of functions = %v", labels)
	}

	// Formatting is ouro fmt.
	messy := strings.Replace(valid, "  rounds = var.rounds", "  rounds =     var.rounds", 1)
	c.conn.Notify(context.Background(), protocol.MethodTextDocumentDidChange, map[string]any{
		"textDocument":   map[string]any{"uri": uri, "version": 5},
		"contentChanges": []any{map[string]any{"text": messy}},
	})
	if diags := c.waitDiags(uri); len(diags) != 0 {
		t.Errorf("diagnostics of the fixed buffer = %+v, want none", diags)
	}
	var edits []protocol.TextEdit
	c.call(protocol.MethodTextDocumentFormatting, map[string]any{"textDocument": map[string]any{"uri": uri}, "options": map[string]any{"tabSize": 2, "insertSpaces": true}}, &edits)
	if len(edits) != 1 || edits[0].NewText != valid {
		t.Errorf("formatting edits = %+v, want the whole text as ouro fmt writes it", edits)
	}
}

func (c *lspClient) complete(uri string, line, char uint32) map[string]bool {
	c.t.Helper()
	var list protocol.CompletionList
	c.call(protocol.MethodTextDocumentCompletion, docPos(uri, line, char), &list)
	labels := map[string]bool{}
	for _, it := range list.Items {
		labels[it.Label] = true
	}
	return labels
}

func hoverText(t *testing.T, h protocol.Hover) string {
	t.Helper()
	b, _ := json.Marshal(h.Contents)
	var mc protocol.MarkupContent
	if err := json.Unmarshal(b, &mc); err != nil {
		t.Fatalf("hover contents %s", b)
	}
	return mc.Value
}

func uriPathOf(uri string) string { return strings.TrimPrefix(uri, "file://") }

// TestLspModules: completion knows module blocks (at top level and in a
// loop), a module block's arguments (source, count, for_each and the
// module's variables), the names after module. (a loop's modules only
// inside that loop) and a module's outputs after module.NAME.; definition
// of module.NAME goes to the block.
func TestLspModules(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"acc/acc.loop.hcl": "variable \"k\" {\n  type        = number\n  description = \"how many\"\n}\n\noutput \"double\" {\n  value = var.k * 2\n}\n\noutput \"half\" {\n  value = var.k / 2\n}\n",
	})
	spec := `module "top" {
  source = "./acc"
  k      = 1
}

loop "l" {
  rounds = 1

  module "inner" {
    source = "./acc"
    k      = module.top.double
  }
}

output "x" {
  value = module.top.half
}
`
	file := filepath.Join(dir, "main.loop.hcl")
	if err := os.WriteFile(file, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	uri := "file://" + file
	c := startLsp(t)
	open := func(version int, text string) []protocol.Diagnostic {
		t.Helper()
		method := protocol.MethodTextDocumentDidChange
		params := map[string]any{"textDocument": map[string]any{"uri": uri, "version": version}, "contentChanges": []any{map[string]any{"text": text}}}
		if version == 1 {
			method = protocol.MethodTextDocumentDidOpen
			params = map[string]any{"textDocument": map[string]any{"uri": uri, "languageId": "hcl", "version": 1, "text": text}}
		}
		if err := c.conn.Notify(context.Background(), method, params); err != nil {
			t.Fatal(err)
		}
		return c.waitDiags(uri)
	}
	if diags := open(1, spec); len(diags) != 0 {
		t.Fatalf("diagnostics of the valid spec: %+v", diags)
	}
	var loc protocol.Location
	c.call(protocol.MethodTextDocumentDefinition, docPos(uri, 15, column(t, spec, 15, "module.top")+1), &loc)
	if loc.URI != uri || loc.Range.Start.Line != 0 {
		t.Errorf("definition of module.top = %+v, want line 0", loc)
	}
	if labels := c.complete(uri, 4, 0); !labels["module"] || !labels["loop"] {
		t.Errorf("completion at top level = %v, want module among them", labels)
	}
	if labels := c.complete(uri, 7, 2); !labels["module"] || !labels["stage"] {
		t.Errorf("completion in a loop = %v, want module and stage", labels)
	}
	// In a module block: its arguments, the module's variable among them.
	typing := strings.Replace(spec, "  k      = 1\n", "  \n", 1)
	open(2, typing)
	if labels := c.complete(uri, 2, 2); !labels["source"] || !labels["count"] || !labels["for_each"] || !labels["k"] {
		t.Errorf("completion in a module block = %v, want source, count, for_each and k", labels)
	}
	// After module. inside the loop: both modules; outside: the top one.
	typing = strings.Replace(spec, "    k      = module.top.double", "    k      = module.", 1)
	typing = strings.Replace(typing, "  value = module.top.half", "  value = module.", 1)
	open(3, typing)
	if labels := c.complete(uri, 10, uint32(len("    k      = module."))); !labels["top"] || !labels["inner"] {
		t.Errorf("completion after module. in the loop = %v, want top and inner", labels)
	}
	if labels := c.complete(uri, 15, uint32(len("  value = module."))); !labels["top"] || labels["inner"] {
		t.Errorf("completion after module. outside the loop = %v, want top and not inner", labels)
	}
	// After module.top.: its outputs.
	typing = strings.Replace(spec, "  value = module.top.half", "  value = module.top.", 1)
	open(4, typing)
	if labels := c.complete(uri, 15, uint32(len("  value = module.top."))); !labels["double"] || !labels["half"] {
		t.Errorf("completion after module.top. = %v, want double and half", labels)
	}
}
