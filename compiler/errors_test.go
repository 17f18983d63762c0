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
// must be expected. With OURO_UPDATE_ERRORS=1 it first rewrites the
// comments to what the compiler reports (see rewriteExpectations); review
// the diff.
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
			if updateErrors {
				src = rewriteExpectations(t, path, src, "", diags)
			}
			checkExpectations(t, expectations(t, src), diags)
		})
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			_, diags := compilePath(t, dir)
			var want []expectation
			err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(p, lang.FileSuffix) {
					return err
				}
				src, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				if updateErrors {
					src = rewriteExpectations(t, p, src, p, diags)
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
			if updateErrors {
				for _, d := range diags {
					if d.Severity == hcl.DiagError && (d.Subject == nil || !strings.HasPrefix(filepath.Clean(d.Subject.Filename), filepath.Clean(dir)+string(filepath.Separator))) {
						t.Errorf("cannot write an expectation for an error outside the case's files: %s", formatDiag(d))
					}
				}
			}
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

// updateErrors is set by OURO_UPDATE_ERRORS=1: TestErrorFiles rewrites the
// `# ERROR:` comments of testdata/errors from the diagnostics it gets.
var updateErrors = os.Getenv("OURO_UPDATE_ERRORS") != ""

// rewriteExpectations makes src's `# ERROR:` comments say what diags hold
// for it (file is the diagnostics' file name for a folder case, "" for a
// single file), writes the result to path and returns it. A comment still
// met by an error on its line is kept as written (authors choose short,
// stable substrings); one met by none is removed; a line with an error and
// no comment gets `# ERROR: <summary>`, with @col when the line holds
// errors at several columns. An error the comments cannot express (no
// range, or two summaries on one line at one column that no kept comment
// covers) is reported.
func rewriteExpectations(t *testing.T, path string, src []byte, file string, diags hcl.Diagnostics) []byte {
	t.Helper()
	byLine := map[int][]*hcl.Diagnostic{}
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		if d.Subject == nil {
			t.Errorf("cannot write an expectation for an error without a range: %s", formatDiag(d))
			continue
		}
		if file != "" && filepath.Clean(d.Subject.Filename) != filepath.Clean(file) {
			continue
		}
		byLine[d.Subject.Start.Line] = append(byLine[d.Subject.Start.Line], d)
	}
	lines := strings.SplitAfter(string(src), "\n")
	for i, text := range lines {
		line := i + 1
		body, nl := strings.TrimSuffix(text, "\n"), strings.HasSuffix(text, "\n")
		errs := byLine[line]
		if m := errorComment.FindStringSubmatchIndex(body); m != nil {
			e := expectation{file: file, line: line, text: body[m[4]:m[5]]}
			if m[2] >= 0 {
				e.col, _ = strconv.Atoi(body[m[2]:m[3]])
			}
			kept := false
			var rest []*hcl.Diagnostic
			for _, d := range errs {
				if e.matches(d) {
					kept = true
				} else {
					rest = append(rest, d)
				}
			}
			if kept {
				errs = rest
			} else {
				body = strings.TrimRight(body[:m[0]], " \t")
				if body == "" && len(errs) == 0 {
					lines[i] = "" // the comment was the whole line
					continue
				}
			}
			if kept && len(errs) > 0 {
				t.Errorf("%s:%d: the kept comment does not cover %d other error(s) on the line: %s", path, line, len(errs), formatDiag(errs[0]))
				errs = nil
			}
		}
		if len(errs) > 0 {
			cols := map[int]bool{}
			for _, d := range errs {
				cols[d.Subject.Start.Column] = true
				if d.Summary != errs[0].Summary {
					t.Errorf("%s:%d: errors with different summaries on one line (%q, %q): write the comment by hand", path, line, errs[0].Summary, d.Summary)
				}
			}
			comment := "# ERROR: " + errs[0].Summary
			if len(cols) > 1 {
				t.Errorf("%s:%d: errors at %d columns on one line: write the comment by hand", path, line, len(cols))
			}
			if body = strings.TrimRight(body, " \t"); body == "" {
				body = comment
			} else {
				body += " " + comment
			}
		}
		if nl {
			body += "\n"
		}
		lines[i] = body
	}
	out := []byte(strings.Join(lines, ""))
	if !bytes.Equal(out, src) {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the expectations of %s", path)
	}
	return out
}

// TestRewriteExpectations checks the OURO_UPDATE_ERRORS rewrite on one
// spec: a comment still met is kept as written, a stale one goes (with its
// line when it was alone), and an unexpected error gets its summary.
func TestRewriteExpectations(t *testing.T) {
	src := `dataset "d" {
  rows = [{ a = 1 }]
}

stage "filter" "f" {
  input = stage.nope # ERROR: undeclared
  where = item.b > 0
}
# ERROR: an error that went away

stage "filter" "g" {
  input = dataset.d # ERROR: stale text
  where = item.a > 0
}
`
	want := `dataset "d" {
  rows = [{ a = 1 }]
}

stage "filter" "f" {
  input = stage.nope # ERROR: undeclared
  where = item.b > 0
}

stage "filter" "g" {
  input = dataset.d
  where = item.a > 0
}
`
	_, diags := compileSource(t, []byte(src), "case.loop.hcl")
	path := filepath.Join(t.TempDir(), "case.loop.hcl")
	got := string(rewriteExpectations(t, path, []byte(src), "", diags))
	if got != want {
		t.Errorf("rewritten:\n%s\nwant:\n%s", got, want)
	}
	if onDisk, err := os.ReadFile(path); err != nil || string(onDisk) != got {
		t.Errorf("file on disk = %q, %v; want the rewritten text", onDisk, err)
	}

	// An error with no comment gets one with its summary.
	bare := strings.Replace(src, " # ERROR: undeclared", "", 1)
	_, diags = compileSource(t, []byte(bare), "case.loop.hcl")
	got = string(rewriteExpectations(t, path, []byte(bare), "", diags))
	if !strings.Contains(got, "  input = stage.nope # ERROR: Reference to undeclared stage\n") {
		t.Errorf("no summary written for the bare error:\n%s", got)
	}
}
