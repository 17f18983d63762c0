package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestStarRunsEndToEnd runs the README's first example with small
// variables through the real CLI: every stage runs, the accuracy output has
// one entry per evaluated round, and a re-run is entirely cached.
func TestStarRunsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and trains a model")
	}
	bin := buildOuro(t)
	storeDir := filepath.Join(t.TempDir(), "store")
	args := []string{"run", "../../examples/star", "--store", storeDir, "--json", "--progress=none",
		"-var", "rounds=1", "-var", "base_steps=30", "-var", "tune_steps=30", "-var", "samples=1"}
	run := func() runOut {
		cmd := exec.Command(bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ouro run: %v\n%s", err, stderr.String())
		}
		var r runOut
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("bad json: %v\n%s", err, out)
		}
		return r
	}
	first := run()
	if first.Status != "ok" {
		t.Fatalf("status %s", first.Status)
	}
	var acc []float64
	if err := json.Unmarshal(first.Outputs["accuracy"], &acc); err != nil || len(acc) < 1 || len(acc) > 2 {
		t.Fatalf("accuracy output %s: want 1 or 2 rounds (base, round 0 unless until stopped it)", first.Outputs["accuracy"])
	}
	for _, s := range first.Stages {
		if s.Status != "ran" && s.Status != "skipped" {
			t.Errorf("first run: %s %s", s.Address, s.Status)
		}
	}
	second := run()
	for _, s := range second.Stages {
		if s.Status != "cached" && s.Status != "skipped" {
			t.Errorf("second run: %s %s, want cached", s.Address, s.Status)
		}
	}
	if string(second.Outputs["accuracy"]) != string(first.Outputs["accuracy"]) {
		t.Errorf("cached outputs differ: %s vs %s", second.Outputs["accuracy"], first.Outputs["accuracy"])
	}
}

// TestExamplesFormatted: every committed spec is as `ouro fmt` writes it
// (the style rule `ouro fmt --check examples`).
func TestExamplesFormatted(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"fmt", "--check", "../../examples"}, &out, &out); code != 0 {
		t.Fatalf("ouro fmt --check examples: exit %d; run `ouro fmt` on:\n%s", code, out.String())
	}
}
