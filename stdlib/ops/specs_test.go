package ops_test

import (
	"path/filepath"
	"testing"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang"
	"github.com/ouroloop/ouro/stdlib"
)

// TestSpecsValidate compiles every spec under testdata/specs with the
// standard registry, as `ouro validate` does.
func TestSpecsValidate(t *testing.T) {
	files, err := filepath.Glob("testdata/specs/*.loop.hcl")
	if err != nil || len(files) == 0 {
		t.Fatal("no specs", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p := lang.NewParser()
			cfg, diags := p.LoadPath(f)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			res, diags := compiler.Compile(cfg, compiler.Options{Registry: stdlib.NewRegistry(), Functions: stdlib.Functions()})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			for _, d := range diags {
				t.Errorf("warning: %s: %s", d.Summary, d.Detail)
			}
			if res.Plan == nil {
				t.Fatal("no plan")
			}
		})
	}
}

// TestTypeErrors: a wrong field name or type in a data operator is a
// compile error with a range.
func TestTypeErrors(t *testing.T) {
	for name, src := range map[string]string{
		"unknown field": `
dataset "d" {
  rows   = [{ q = "a" }]
  schema = object({ q = string })
}
stage "filter" "f" {
  input = dataset.d
  where = item.answr == 1
}`,
		"wrong type": `
dataset "d" {
  rows   = [{ q = "a" }]
  schema = object({ q = string })
}
stage "top" "t" {
  input = dataset.d
  by    = item.q
  k     = 1
}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "x.loop.hcl")
			writeFile(t, path, src)
			cfg, diags := lang.NewParser().LoadPath(path)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			_, diags = compiler.Compile(cfg, compiler.Options{Registry: stdlib.NewRegistry(), Functions: stdlib.Functions()})
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			if d := diags[0]; d.Subject == nil || d.Subject.Start.Line == 0 {
				t.Fatalf("error without a range: %v", d)
			}
		})
	}
}
