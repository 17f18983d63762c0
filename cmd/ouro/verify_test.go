package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ouroloop/ouro/bench/noop"
	"github.com/ouroloop/ouro/runtime/store"
)

// TestCorruptBlobVerifyRepairRerun corrupts one dataset blob on disk:
// `ouro cache verify` reports it (exit 1) and repairs the store, and the
// next `ouro run` recomputes exactly the stages whose results used that
// blob and finishes ok with the same outputs.
func TestCorruptBlobVerifyRepairRerun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	bin := buildOuro(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "c.loop.hcl"), noop.Ouro(25), 0o644); err != nil {
		t.Fatal(err)
	}
	type record struct {
		Status string `json:"status"`
		Stages []struct {
			Address string `json:"address"`
			Status  string `json:"status"`
			Key     string `json:"key"`
		} `json:"stages"`
		Outputs map[string]json.RawMessage `json:"outputs"`
	}
	runJSON := func() record {
		t.Helper()
		cmd := exec.Command(bin, "run", dir, "--json", "--progress=none")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ouro run: %v\n%s", err, stderr.String())
		}
		var r record
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("bad --json output: %v\n%s", err, out)
		}
		return r
	}
	first := runJSON()
	if first.Status != "ok" || len(first.Stages) != 25 {
		t.Fatalf("first run: %s, %d stages", first.Status, len(first.Stages))
	}

	// Pick the blob of stage s12's result and find every stage whose
	// result references it (identical datasets share a blob).
	st, err := store.Open(filepath.Join(dir, ".ouro"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	users := map[string][]string{} // digest -> addresses
	var victim store.Digest
	for _, s := range first.Stages {
		e, ok, err := st.GetStage(s.Key)
		if err != nil || !ok {
			t.Fatalf("stage %s: entry %v, %v", s.Address, ok, err)
		}
		for _, d := range e.Blobs {
			users[string(d)] = append(users[string(d)], s.Address)
		}
		if s.Address == "stage.s12" {
			if len(e.Blobs) != 1 {
				t.Fatalf("stage.s12 references %d blobs", len(e.Blobs))
			}
			victim = e.Blobs[0]
		}
	}
	path, err := st.BlobPath(victim)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	want := users[string(victim)]
	t.Logf("corrupting %s, used by %v", victim, users[string(victim)])
	sort.Strings(want)

	// Corrupt it in place (blobs are read-only files).
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o444); err != nil {
		t.Fatal(err)
	}

	verify := exec.Command(bin, "cache", "verify", "--spec", dir)
	out, err := verify.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("cache verify: %v, want exit 1\n%s", err, out)
	}
	for _, w := range []string{"damaged", string(victim), "corrupt", "Repaired", "The next run recomputes"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("cache verify output lacks %q:\n%s", w, out)
		}
	}
	if out, err := exec.Command(bin, "cache", "verify", "--spec", dir).CombinedOutput(); err != nil || !strings.Contains(string(out), "All blobs verified.") {
		t.Errorf("second verify: %v\n%s", err, out)
	}

	second := runJSON()
	var ran []string
	for _, s := range second.Stages {
		switch s.Status {
		case "ran":
			ran = append(ran, s.Address)
		case "cached":
		default:
			t.Errorf("%s: %s", s.Address, s.Status)
		}
	}
	sort.Strings(ran)
	if second.Status != "ok" || strings.Join(ran, " ") != strings.Join(want, " ") {
		t.Errorf("re-run %s ran %v, want exactly the users of the blob %v", second.Status, ran, want)
	}
	if len(second.Outputs) == 0 || !equalJSON(first.Outputs, second.Outputs) {
		t.Errorf("outputs differ:\nfirst  %s\nsecond %s", first.Outputs, second.Outputs)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the blob was not written again: %v", err)
	}
	b[len(b)/2] ^= 0xff
	if !bytes.Equal(got, b) {
		t.Error("the recomputed blob differs from the original")
	}
	if third := runJSON(); third.Status != "ok" {
		t.Errorf("third run: %s", third.Status)
	} else {
		for _, s := range third.Stages {
			if s.Status != "cached" {
				t.Errorf("third run: %s %s", s.Address, s.Status)
			}
		}
	}
}

func equalJSON(a, b map[string]json.RawMessage) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
