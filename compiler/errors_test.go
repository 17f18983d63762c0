package compiler_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang"
	"github.com/ouroloop/ouro/stdlib"
)

// compileSource parses and compiles one spec held in memory, the way
// `ouro validate` does, returning every diagnostic. Compile runs only when
// decoding succeeded, as in the CLI.
func compileSource(t testing.TB, src []byte, name string, vars ...compiler.VarInput) (*compiler.Result, hcl.Diagnostics) {
	t.Helper()
	cfg, diags := lang.NewParser().LoadSource(src, name)
	if diags.HasErrors() || cfg == nil {
		return nil, diags
	}
	res, d := compiler.Compile(cfg, compiler.Options{
		Registry:  stdlib.NewRegistry(),
		Functions: stdlib.Functions(),
		Vars:      vars,
	})
	return res, append(diags, d...)
}

// expectation is one `# ERROR: summary` (or `# ERROR@col: summary`)
// comment: an error whose summary or detail contains text must have its
// Subject start on line (and at col, when given).
type expectation struct {
	line, col int
	text      string
}

var errorComment = regexp.MustCompile(`#\s*ERROR(?:@(\d+))?:\s*(.+?)\s*$`)

func expectations(t *testing.T, src []byte) []expectation {
	t.Helper()
	var out []expectation
	sc := bufio.NewScanner(bytes.NewReader(src))
	for line := 1; sc.Scan(); line++ {
		m := errorComment.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		e := expectation{line: line, text: m[2]}
		if m[1] != "" {
			e.col, _ = strconv.Atoi(m[1])
		}
		out = append(out, e)
	}
	return out
}

func (e expectation) matches(d *hcl.Diagnostic) bool {
	if d.Severity != hcl.DiagError || d.Subject == nil || d.Subject.Start.Line != e.line {
		return false
	}
	if e.col != 0 && d.Subject.Start.Column != e.col {
		return false
	}
	return strings.Contains(d.Summary, e.text) || strings.Contains(d.Detail, e.text)
}

func formatDiag(d *hcl.Diagnostic) string {
	pos := "(no range)"
	if d.Subject != nil {
		pos = fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column)
	}
	return fmt.Sprintf("%s %s: %s", pos, d.Summary, d.Detail)
}

// errorVars are -var values some error files need (declared per file name).
var errorVars = map[string][]compiler.VarInput{
	"variable_validation.loop.hcl": {{Name: "rounds", Raw: "50", IsRaw: true}},
}

// TestErrorFiles checks every spec of testdata/errors: each `# ERROR:`
// comment must be matched by an error starting on its line, and every error
// must be expected.
func TestErrorFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.loop.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no error files: %v", err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, lang.FileSuffix), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := expectations(t, src)
			if len(want) == 0 {
				t.Fatalf("%s has no # ERROR: comment", name)
			}
			_, diags := compileSource(t, src, name, errorVars[name]...)
			used := make([]bool, len(diags))
			for _, e := range want {
				found := false
				for i, d := range diags {
					if e.matches(d) {
						used[i], found = true, true
					}
				}
				if !found {
					t.Errorf("line %d: no error containing %q", e.line, e.text)
				}
			}
			for i, d := range diags {
				if !used[i] && d.Severity == hcl.DiagError {
					t.Errorf("unexpected error: %s", formatDiag(d))
				}
			}
			if t.Failed() {
				for _, d := range diags {
					t.Logf("got: %s", formatDiag(d))
				}
			}
		})
	}
}

// TestErrorFilesNeverPanic compiles every error file, and every prefix of
// it cut at each line, asserting that nothing panics.
func TestErrorFilesNeverPanic(t *testing.T) {
	files, _ := filepath.Glob("testdata/errors/*.loop.hcl")
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.SplitAfter(src, []byte("\n"))
		for i := 0; i <= len(lines); i++ {
			cut := bytes.Join(lines[:i], nil)
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s cut after line %d: panic: %v", path, i, r)
					}
				}()
				compileSource(t, cut, filepath.Base(path))
			}()
		}
	}
}
