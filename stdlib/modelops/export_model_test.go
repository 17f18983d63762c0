package modelops_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/modelops"
	"github.com/ouroloop/ouro/stdlib/models/gpt"
	"github.com/ouroloop/ouro/stdlib/providers"
)

func exportOp() runtime.Operator { return &modelops.ExportModelOp{} }

func TestExportModelStage(t *testing.T) {
	h := newHarness(t)
	model := h.tinyModel(1)
	for _, c := range []struct{ format, path, check string }{
		{"gguf", "out/m.gguf", "out/m.gguf"},
		{"hf", "out/hf", "out/hf/model.safetensors"},
	} {
		t.Run(c.format, func(t *testing.T) {
			x := h.exec("export_model", map[string]cty.Value{"model": model, "path": cty.StringVal(c.path), "format": cty.StringVal(c.format)}, nil)
			if got := exportOp().(runtime.FileWriter).OutputFiles(x); len(got) != 1 || got[0] != c.path {
				t.Errorf("OutputFiles = %v", got)
			}
			for i := 0; i < 2; i++ { // the second export replaces the first
				v, err := exportOp().Run(context.Background(), x)
				if err != nil {
					t.Fatal(err)
				}
				if !v.RawEquals(model) {
					t.Errorf("value %#v, want the model", v)
				}
			}
			if _, err := os.Stat(filepath.Join(h.env.SpecDir, c.check)); err != nil {
				t.Fatal(err)
			}
			ents, _ := os.ReadDir(filepath.Join(h.env.SpecDir, "out"))
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), ".") {
					t.Errorf("left behind %s", e.Name())
				}
			}
		})
	}
	gg, err := os.ReadFile(filepath.Join(h.env.SpecDir, "out/m.gguf"))
	if err != nil || string(gg[:4]) != "GGUF" {
		t.Fatalf("not a GGUF file: %v", err)
	}
}

func TestExportModelStageErrors(t *testing.T) {
	h := newHarness(t)
	sig, _ := h.reg.Provider("builtin")
	px := &runtime.Exec{Node: &compiler.Node{Address: "model.nope"}, Sig: sig, Blobs: h.blobs, Env: h.env, Params: map[string]cty.Value{
		"layers": cty.NumberIntVal(1), "dim": cty.NumberIntVal(16), "heads": cty.NumberIntVal(2), "max_seq": cty.NumberIntVal(16),
		"seed": cty.NumberIntVal(0), "positions": cty.StringVal("none"), "vocab": cty.StringVal("ab"), "hidden": cty.NumberIntVal(0),
	}}
	nope, err := (&providers.Builtin{}).Resolve(context.Background(), px)
	if err != nil {
		t.Fatal(err)
	}
	openai := compiler.ModelVal(compiler.ModelRef{Address: "model.remote", Provider: "openai", Digest: "sha256:00"})
	for _, c := range []struct {
		name  string
		model cty.Value
		want  string
	}{
		{"nope", compiler.ModelVal(nope), "NoPE"},
		{"not builtin", openai, `exports builtin models; model is a "openai" model`},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := h.exec("export_model", map[string]cty.Value{"model": c.model, "path": cty.StringVal("bad.gguf")}, nil)
			_, err := exportOp().Run(context.Background(), x)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "stage.export_model") {
				t.Fatalf("err = %v, want one naming the stage and %q", err, c.want)
			}
			if _, err := os.Stat(filepath.Join(h.env.SpecDir, "bad.gguf")); err == nil {
				t.Error("a file was written")
			}
		})
	}
}

func TestExportModelRefusesForeignFolder(t *testing.T) {
	m, err := gpt.New(gpt.Config{Layers: 1, Dim: 16, Heads: 2, MaxSeq: 16}, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keep := filepath.Join(dir, "notes.txt")
	os.WriteFile(keep, []byte("mine"), 0o644)
	if err := modelops.ExportModel(m, "hf", dir); err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(keep); string(b) != "mine" {
		t.Fatal("the folder was touched")
	}
	if err := modelops.ExportModel(m, "gguf", dir); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Fatalf("gguf over a folder: err = %v", err)
	}
	if err := modelops.ExportModel(m, "onnx", filepath.Join(dir, "x")); err == nil || !strings.Contains(err.Error(), "unknown export format") {
		t.Fatalf("err = %v", err)
	}
}
