package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ouroloop/ouro/stdlib/models/gpt"
)

func saveCheckpoint(t *testing.T, cfg gpt.Config) string {
	t.Helper()
	m, err := gpt.New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := m.Save(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExportVerb(t *testing.T) {
	ckpt := saveCheckpoint(t, gpt.Config{Layers: 1, Dim: 16, Heads: 2, MaxSeq: 32})
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"export", ckpt, "-o", filepath.Join(dir, "m.gguf")}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if b, err := os.ReadFile(filepath.Join(dir, "m.gguf")); err != nil || string(b[:4]) != "GGUF" {
		t.Fatalf("no GGUF file: %v", err)
	}
	if !strings.Contains(out.String(), "exported ") || !strings.Contains(out.String(), "(gguf)") {
		t.Errorf("stdout %q", out.String())
	}
	out.Reset()
	if code := run([]string{"export", ckpt, "-format", "hf", "-o", filepath.Join(dir, "hf")}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, f := range gpt.HFFiles {
		if _, err := os.Stat(filepath.Join(dir, "hf", f)); err != nil {
			t.Error(err)
		}
	}

	nope := saveCheckpoint(t, gpt.Config{Layers: 1, Dim: 16, Heads: 2, MaxSeq: 32, Positions: "none"})
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no output", []string{"export", ckpt}, exitUsage, "give the destination with -o PATH"},
		{"bad format", []string{"export", ckpt, "--format", "onnx", "-o", filepath.Join(dir, "x")}, exitUsage, `--format "onnx": want gguf or hf`},
		{"nope", []string{"export", nope, "-o", filepath.Join(dir, "nope.gguf")}, exitDiags, "NoPE"},
		{"hf of a hf export", []string{"export", filepath.Join(dir, "hf", "model.safetensors"), "-o", filepath.Join(dir, "y.gguf")}, exitDiags, "is not a builtin checkpoint"},
		{"not a checkpoint", []string{"export", filepath.Join(dir, "m.gguf"), "-o", filepath.Join(dir, "z.gguf")}, exitDiags, "is not a builtin checkpoint"},
		{"digest without store", []string{"export", "sha256:" + strings.Repeat("ab", 32), "--store", filepath.Join(dir, "nostore"), "-o", filepath.Join(dir, "d.gguf")}, exitDiags, "no store at"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(c.args, &out, &errb)
			if code != c.code || !strings.Contains(errb.String(), c.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errb.String(), c.code, c.want)
			}
		})
	}
	for _, f := range []string{"nope.gguf", "y.gguf", "z.gguf", "d.gguf"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s written by a failed export", f)
		}
	}
}

// TestExportModelInALoop trains in a spec and exports the trained model
// with the export_model stage; a re-run is cached, and deleting the file
// makes the stage run again.
func TestExportModelInALoop(t *testing.T) {
	dir := t.TempDir()
	spec := `model "base" {
  provider = "builtin"
  layers   = 1
  dim      = 16
  heads    = 2
  max_seq  = 32
}

dataset "pairs" {
  rows = [{ q = "ab", a = "ba" }, { q = "cd", a = "dc" }]
}

stage "sft" "tune" {
  base   = model.base
  data   = dataset.pairs
  prompt = item.q
  target = item.a
  steps  = 3
}

stage "export_model" "gguf" {
  model = stage.tune.model
  path  = "out/tuned.gguf"
}

stage "export_model" "hf" {
  model  = stage.tune.model
  path   = "out/tuned-hf"
  format = "hf"
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.loop.hcl"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"run", dir, "--progress=none"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errb.String(), out.String())
	}
	for _, f := range []string{"out/tuned.gguf", "out/tuned-hf/model.safetensors", "out/tuned-hf/config.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	os.Remove(filepath.Join(dir, "out/tuned.gguf"))
	out.Reset()
	if code := run([]string{"plan", dir}, &out, &errb); code != 0 {
		t.Fatalf("plan: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "output file out/tuned.gguf is missing") {
		t.Errorf("plan does not say the file is missing:\n%s", out.String())
	}
	if code := run([]string{"run", dir, "--progress=none"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "out/tuned.gguf")); err != nil {
		t.Error(err)
	}
}
