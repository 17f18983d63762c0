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
	file      string // "" for a single-file case
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
	if e.file != "" && filepath.Clean(d.Subject.Filename) != filepath.Clean(e.file) {
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
		pos = fmt.Sprintf("%s:%d:%d", filepath.Base(d.Subject.Filename), d.Subject.Start.Line, d.Subject.Start.Column)
	}
	return fmt.Sprintf("%s %s: %s", pos, d.Summary, d.Detail)
}

// errorVars are -var values some error files need (declared per file name).
var errorVars = map[string][]compiler.VarInput{
	"variable_validation.loop.hcl": {{Name: "rounds", Raw: "50", IsRaw: true}},
}

// compilePath loads and compiles a spec folder (with its modules) the way
// `ouro validate DIR` does.
func compilePath(t testing.TB, path string) (*compiler.Result, hcl.Diagnostics) {
	t.Helper()
	cfg, diags := lang.NewParser().LoadPath(path)
	if diags.HasErrors() || cfg == nil {
		return nil, diags
	}
	res, d := compiler.Compile(cfg, compiler.Options{Registry: stdlib.NewRegistry(), Functions: stdlib.Functions()})
	return res, append(diags, d...)
}

// errorCases lists testdata/errors: each *.loop.hcl file is a case, and so
// is each folder (a spec of several files, or one using modules in its
// subfolders), whose expectations may be in any *.loop.hcl file under it.
func errorCases(t *testing.T) (files, dirs []string) {
	t.Helper()
	entries, err := os.ReadDir("testdata/errors")
	if err != nil || len(entries) == 0 {
		t.Fatalf("no error files: %v", err)
	}
	for _, e := range entries {
		p := filepath.Join("testdata/errors", e.Name())
		switch {
		case e.IsDir():
			dirs = append(dirs, p)
		case strings.HasSuffix(e.Name(), lang.FileSuffix):
			files = append(files, p)
		}
	}
	return files, dirs
}

// checkExpectations matches diagnostics against expectations: each must be
// met, and every error must be expected.
func checkExpectations(t *testing.T, want []expectation, diags hcl.Diagnostics) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("no # ERROR: comment")
	}
	used := make([]bool, len(diags))
	for _, e := range want {
		found := false
		for i, d := range diags {
			if e.matches(d) {
				used[i], found = true, true
			}
		}
		if !found {
			t.Errorf("%s line %d: no error containing %q", filepath.Base(e.file), e.line, e.text)
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
}

// TestErrorFiles checks every case of testdata/errors: each `# ERROR:`
// comment must be matched by an error starting on its line, and every error
// must be expected.
func TestErrorFiles(t *testing.T) {
	files, dirs := errorCases(t)
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, lang.FileSuffix), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, diags := compileSource(t, src, name, errorVars[name]...)
			checkExpectations(t, expectations(t, src), diags)
		})
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var want []expectation
			err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(p, lang.FileSuffix) {
					return err
				}
				src, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				for _, e := range expectations(t, src) {
					e.file = p
					want = append(want, e)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			_, diags := compilePath(t, dir)
			checkExpectations(t, want, diags)
		})
	}
}

// TestErrorFilesNeverPanic compiles every error file, and every prefix of
// it cut at each line, asserting that nothing panics.
func TestErrorFilesNeverPanic(t *testing.T) {
	files, dirs := errorCases(t)
	for _, dir := range dirs {
		// A folder's root files, cut the same way, with their modules.
		m, _ := filepath.Glob(filepath.Join(dir, "*"+lang.FileSuffix))
		files = append(files, m...)
	}
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
				name := filepath.Base(path)
				if filepath.Dir(path) != "testdata/errors" {
					name = path // module sources are relative to it
				}
				compileSource(t, cut, name)
			}()
		}
	}
}
