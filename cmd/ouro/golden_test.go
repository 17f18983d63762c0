package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// TestGolden checks `ouro plan` and `ouro graph` output against the txtar
// files of testdata/golden. Each archive's comment names the spec (a path
// relative to this directory, first line `spec: PATH`); each file of the
// archive is named by a command line (without the spec path, which is
// appended) and holds its stdout, then `[stderr]` and `[exit N]` sections
// when there is anything to show. Regenerate with go test ./cmd/ouro -update.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			spec := ""
			for _, line := range strings.Split(string(ar.Comment), "\n") {
				if s, ok := strings.CutPrefix(line, "spec: "); ok {
					spec = strings.TrimSpace(s)
				}
			}
			if spec == "" {
				t.Fatalf("%s: no `spec: PATH` line in the comment", path)
			}
			changed := false
			for i, f := range ar.Files {
				args := append(strings.Fields(f.Name), spec)
				got := runGolden(args)
				if got == string(f.Data) {
					continue
				}
				if *update {
					ar.Files[i].Data = []byte(got)
					changed = true
					continue
				}
				t.Errorf("ouro %s: output differs from %s (go test ./cmd/ouro -update to regenerate)\n--- got\n%s\n--- want\n%s", strings.Join(args, " "), path, got, f.Data)
			}
			if changed {
				if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// runGolden runs the CLI in-process and renders what it printed.
func runGolden(args []string) string {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	out := stdout.String()
	if stderr.Len() > 0 {
		out += "[stderr]\n" + stderr.String()
	}
	if code != 0 {
		out += fmt.Sprintf("[exit %d]\n", code)
	}
	return out
}
