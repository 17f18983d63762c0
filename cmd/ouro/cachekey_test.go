package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestSourceKeyHasExtension: a dataset's key holds each source file's
// extension (the format "auto" reads by), so the same bytes renamed from
// .csv to .jsonl are read again, as JSONL, not taken from the cache.
func TestSourceKeyHasExtension(t *testing.T) {
	dir := t.TempDir()
	spec := `dataset "d" {
  source = "data/*"
}

output "n" {
  value = dataset.d
}
`
	if err := os.WriteFile(filepath.Join(dir, "s.loop.hcl"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	// One line that is a CSV header (no rows) and a JSONL record.
	csv := filepath.Join(dir, "data", "x.csv")
	if err := os.WriteFile(csv, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	status := func() (string, string) {
		var out, errb bytes.Buffer
		run([]string{"run", "--json", "--progress=none", dir}, &out, &errb)
		var r struct {
			Stages []struct{ Address, Status string }
		}
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("--json: %v\n%s%s", err, out.String(), errb.String())
		}
		for _, s := range r.Stages {
			if s.Address == "dataset.d" {
				return s.Status, out.String() + errb.String()
			}
		}
		t.Fatalf("no dataset.d in\n%s", out.String())
		return "", ""
	}
	status()
	if s, out := status(); s != "cached" {
		t.Fatalf("second run: dataset.d %s\n%s", s, out)
	}
	if err := os.Rename(csv, filepath.Join(dir, "data", "x.jsonl")); err != nil {
		t.Fatal(err)
	}
	if s, out := status(); s == "cached" {
		t.Fatalf("after renaming x.csv to x.jsonl, dataset.d was taken from the cache:\n%s", out)
	}
}
