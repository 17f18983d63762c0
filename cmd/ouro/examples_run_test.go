package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// exampleDirs lists the paper folders of examples/ (those holding a spec).
func exampleDirs(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob("../../examples/*")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range dirs {
		if base := filepath.Base(d); base == "trainers" {
			continue
		}
		if files, _ := filepath.Glob(filepath.Join(d, "*.loop.hcl")); len(files) > 0 {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		t.Fatal("no example folders")
	}
	return out
}

// declaresVariable reports whether a spec folder declares variable name.
func declaresVariable(t *testing.T, dir, name string) bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.loop.hcl"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), `variable "`+name+`"`) {
			return true
		}
	}
	return false
}

func ouroCmd(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ouro %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

// TestExamplesValidateBothScales validates every example folder through the
// real CLI in its laptop configuration and, when it has a scale variable,
// in its cluster configuration (openai provider, command trainer).
func TestExamplesValidateBothScales(t *testing.T) {
	bin := buildOuro(t)
	for _, dir := range exampleDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			ouroCmd(t, bin, "validate", dir)
			if declaresVariable(t, dir, "scale") {
				args := []string{"validate", dir, "-var", "scale=cluster"}
				if declaresVariable(t, dir, "trainer") {
					args = append(args, "-var", "trainer=command")
				}
				ouroCmd(t, bin, args...)
			}
		})
	}
}

// quickRuns are the examples run end to end with small variables.
var quickRuns = map[string][]string{
	"self_consistency": {"-var", "pretrain_steps=20", "-var", "doublings=1", "-var", "questions=5"},
	"rest_em":          {"-var", "seeds=2", "-var", "pretrain_steps=20", "-var", "tune_steps=10", "-var", "iterations=1", "-var", "problems=10"},
	"spin":             {"-var", "seeds=2", "-var", "sft_steps=20", "-var", "dpo_epochs=1", "-var", "iterations=1", "-var", "problems=10"},
	"self_instruct":    {"-var", "pretrain_steps=20", "-var", "tune_steps=5", "-var", "rounds=1", "-var", "proposals=1"},
	"self_rewarding":   {"-var", "seeds=2", "-var", "labeled=10", "-var", "answerer_steps=10", "-var", "seed_steps=20", "-var", "dpo_epochs=1", "-var", "iterations=1", "-var", "prompts=5", "-var", "responses=2"},
	"self_refine":      {"-var", "seeds=2", "-var", "drafter_problems=10", "-var", "critic_problems=10", "-var", "draft_steps=20", "-var", "role_steps=10", "-var", "max_iterations=1", "-var", "questions=5"},
	"best_of_n":        {"-var", "pretrain_steps=20", "-var", "doublings=1", "-var", "questions=5"},
	"self_improving_transformers": {"-var", "rounds=1", "-var", "pretrain_steps=20", "-var", "round_steps=10",
		"-var", "problems=20", "-var", "train_per_length=50", "-var", "replay=20", "-var", "kept_dir=$TMP"},
}

// TestExamplesRunEndToEnd runs each quick example through the real CLI with
// small variables, then again: the second run must report every stage
// cached and the same outputs.
func TestExamplesRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and trains models")
	}
	bin := buildOuro(t)
	for _, dir := range exampleDirs(t) {
		vars, ok := quickRuns[filepath.Base(dir)]
		if !ok {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			store := filepath.Join(t.TempDir(), "store")
			args := []string{"run", dir, "--store", store, "--json", "--progress=none"}
			tmp := t.TempDir() // files an example writes go here, not into the repository
			for _, v := range vars {
				args = append(args, strings.ReplaceAll(v, "$TMP", tmp))
			}
			run := func() runOut {
				var r runOut
				out := ouroCmd(t, bin, args...)
				if err := json.Unmarshal(out, &r); err != nil {
					t.Fatalf("bad --json output: %v\n%s", err, out)
				}
				return r
			}
			before := listFiles(t, dir)
			first := run()
			if after := listFiles(t, dir); after != before {
				t.Errorf("the run wrote into the example's folder:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if first.Status != "ok" {
				t.Fatalf("status %s", first.Status)
			}
			if len(first.Outputs) == 0 {
				t.Fatal("no outputs")
			}
			second := run()
			if second.Status != "ok" {
				t.Fatalf("re-run status %s", second.Status)
			}
			for _, s := range second.Stages {
				if s.Status != "cached" && s.Status != "skipped" {
					t.Errorf("re-run: %s %s, want cached", s.Address, s.Status)
				}
			}
			for k, v := range first.Outputs {
				if string(second.Outputs[k]) != string(v) {
					t.Errorf("output %s differs on the cached re-run: %s vs %s", k, second.Outputs[k], v)
				}
			}
			// The second run found every stage cached: a run now takes the
			// no-op fast path and prints the same record (stages, keys,
			// per-round metrics, outputs), but for its id and times, as a
			// run that checks every stage (a --force naming no stage turns
			// the fast path off).
			rawJSON := func(extra ...string) map[string]any {
				var m map[string]any
				out := ouroCmd(t, bin, append(append([]string{}, args...), extra...)...)
				if err := json.Unmarshal(out, &m); err != nil {
					t.Fatalf("bad --json output: %v\n%s", err, out)
				}
				for _, k := range []string{"run_id", "started", "finished"} {
					delete(m, k)
				}
				// The command lines differ (--force below); the rest of
				// the provenance must not.
				if p, ok := m["provenance"].(map[string]any); ok {
					delete(p, "command")
				} else {
					t.Fatalf("--json has no provenance: %v", m["provenance"])
				}
				return m
			}
			full := rawJSON("--force", "no-such-stage")
			if _, err := os.Stat(filepath.Join(store, "runs.pending")); err == nil {
				t.Fatal("the full path left pending runs")
			}
			fast := rawJSON()
			if _, err := os.Stat(filepath.Join(store, "runs.pending")); err != nil {
				t.Errorf("no fast path: %v", err)
			}
			if a, b := mustJSON(t, full), mustJSON(t, fast); a != b {
				t.Errorf("full and fast no-op runs differ:\n%s\n%s", a, b)
			}
		})
	}
}

// listFiles lists the files under dir with their sizes and modification
// times, one per line, but for a developer's own stores (.ouro).
func listFiles(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".ouro" {
			return fs.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %s\n", p, info.Size(), info.ModTime().Format(time.RFC3339Nano))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
