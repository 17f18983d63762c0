package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLspNeovim runs `ouro lsp` under a client no one here wrote: Neovim's
// built-in LSP client, headless. It opens a spec with a type error and
// checks that the diagnostic arrives with validate's message at the right
// place, and that hover, definition and completion answer. Skipped when
// nvim is absent, unless OURO_REQUIRE_NVIM=1 (CI) makes that a failure.
func TestLspNeovim(t *testing.T) {
	nvim, err := exec.LookPath("nvim")
	if err != nil {
		if os.Getenv("OURO_REQUIRE_NVIM") == "1" {
			t.Fatal("nvim not found and OURO_REQUIRE_NVIM=1")
		}
		t.Skip("nvim not found: install Debian's neovim package to run the editor test (set OURO_REQUIRE_NVIM=1 to make this a failure)")
	}
	bin := buildOuro(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "main.loop.hcl")
	if err := os.WriteFile(file, []byte(lspSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "outputs.loop.hcl"), []byte(lspOutputs), 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs("testdata/lsp/client.lua")
	if err != nil {
		t.Fatal(err)
	}
	output := filepath.Join(t.TempDir(), "out.json")
	typed := "    where = item."
	params := map[string]any{
		"ouro": bin, "dir": dir, "file": file, "output": output,
		"wait_ms":    120000,
		"hover":      pos(18, column(t, lspSpec, 18, "generate")+2),
		"definition": pos(20, column(t, lspSpec, 20, "dataset.problems")+3),
		"complete":   map[string]any{"line": 26, "text": typed},
	}
	paramsFile := filepath.Join(t.TempDir(), "params.json")
	b, _ := json.Marshal(params)
	if err := os.WriteFile(paramsFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// The deadline only stops a hung editor; every wait inside ends as
	// soon as its answer arrives.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nvim, "--headless", "--clean", "-c", "luafile "+script)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "OURO_LSP_PARAMS="+paramsFile, "HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_STATE_HOME="+filepath.Join(home, "state"), "XDG_CACHE_HOME="+filepath.Join(home, "cache"))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("nvim: %v\n%s", err, stderr.String())
	}
	raw, err := os.ReadFile(output)
	if err != nil {
		t.Fatalf("nvim wrote no results: %v\n%s", err, stderr.String())
	}
	t.Logf("neovim received: %s", raw)
	var got struct {
		Error       string `json:"error"`
		Diagnostics []struct {
			Lnum     int    `json:"lnum"`
			Col      int    `json:"col"`
			EndLnum  int    `json:"end_lnum"`
			EndCol   int    `json:"end_col"`
			Message  string `json:"message"`
			Source   string `json:"source"`
			Severity int    `json:"severity"`
		} `json:"diagnostics"`
		Hover struct {
			Contents struct{ Value string }
		} `json:"hover"`
		Definition struct {
			URI   string `json:"uri"`
			Range struct {
				Start struct{ Line, Character int }
			}
		} `json:"definition"`
		Completion struct {
			Items []struct{ Label string }
		} `json:"completion"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.Error != "" {
		t.Fatalf("the Lua client failed: %s\n%s", got.Error, stderr.String())
	}

	// Neovim stores diagnostic columns as byte offsets, converted from the
	// UTF-16 characters the server sent: the line has "é😀" before the
	// error, so a server sending bytes or graphemes lands elsewhere.
	vdir := t.TempDir()
	os.WriteFile(filepath.Join(vdir, "main.loop.hcl"), []byte(lspSpec), 0o644)
	want := load(vdir, &specFlags{}).diags
	if len(got.Diagnostics) != 1 || len(want) != 1 {
		t.Fatalf("diagnostics in neovim = %+v, validate's = %v", got.Diagnostics, want)
	}
	d, w := got.Diagnostics[0], want[0]
	if d.Lnum != w.Subject.Start.Line-1 || d.Col != w.Subject.Start.Byte-lineStart(lspSpec, w.Subject.Start.Byte) ||
		d.EndLnum != w.Subject.End.Line-1 || d.EndCol != w.Subject.End.Byte-lineStart(lspSpec, w.Subject.End.Byte) {
		t.Errorf("diagnostic at %d:%d-%d:%d (0-based line:byte), validate's subject %s", d.Lnum, d.Col, d.EndLnum, d.EndCol, w.Subject)
	}
	if line := strings.Split(lspSpec, "\n")[d.Lnum]; d.Col > len(line) || d.EndCol > len(line) || line[d.Col:d.EndCol] != ".answr" {
		t.Errorf("diagnostic marks %q, want .answr", line[min(d.Col, len(line)):min(d.EndCol, len(line))])
	}
	if d.Message != w.Summary+": "+w.Detail || d.Severity != 1 || d.Source != "ouro" {
		t.Errorf("diagnostic %q (severity %d, source %q), validate's %q: %q", d.Message, d.Severity, d.Source, w.Summary, w.Detail)
	}
	if !strings.Contains(got.Hover.Contents.Value, "operator generate (acquisition)") {
		t.Errorf("hover on generate = %q", got.Hover.Contents.Value)
	}
	if got.Definition.URI != "file://"+file || got.Definition.Range.Start.Line != 5 {
		t.Errorf("definition of dataset.problems = %+v, want %s line 5", got.Definition, file)
	}
	labels := map[string]bool{}
	for _, it := range got.Completion.Items {
		labels[it.Label] = true
	}
	for _, f := range []string{"answer", "completion", "question"} {
		if !labels[f] {
			t.Errorf("completion after item. lacks %q: %v", f, got.Completion.Items)
		}
	}
}

// lineStart is the byte offset of the line holding byte off.
func lineStart(src string, off int) int {
	return strings.LastIndexByte(src[:off], '\n') + 1
}
