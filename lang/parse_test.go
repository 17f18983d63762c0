package lang_test

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/ouroloop/ouro/lang"
)

func load(t *testing.T, src string) (*lang.Config, hcl.Diagnostics) {
	t.Helper()
	return lang.NewParser().LoadSource([]byte(src), "test.loop.hcl")
}

func TestLoadDirectory(t *testing.T) {
	cfg, diags := lang.NewParser().LoadPath("testdata/multi")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := cfg.FileNames(); len(got) != 2 || !strings.HasSuffix(got[0], "a.loop.hcl") || !strings.HasSuffix(got[1], "b.loop.hcl") {
		t.Errorf("files = %v", got)
	}
	if len(cfg.Variables) != 1 || len(cfg.Datasets) != 1 || len(cfg.Loops) != 1 || len(cfg.Outputs) != 1 {
		t.Errorf("decoded %d variables, %d datasets, %d loops, %d outputs", len(cfg.Variables), len(cfg.Datasets), len(cfg.Loops), len(cfg.Outputs))
	}
	l := cfg.Loops[0]
	if len(l.Stages) != 1 || l.Stages[0].Loop != l || l.Stages[0].Operator != "filter" || l.Stages[0].Name != "kept" {
		t.Errorf("loop stages = %+v", l.Stages)
	}
	if all := cfg.AllStages(); len(all) != 1 {
		t.Errorf("AllStages = %d", len(all))
	}
	if cfg.Sources[cfg.FileNames()[1]] == nil {
		t.Error("sources not kept")
	}
}

func TestRanges(t *testing.T) {
	cfg, diags := load(t, `
stage "filter" "kept" {
  input = dataset.x
  where = true
}
`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	s := cfg.Stages[0]
	check := func(what string, r hcl.Range, line, col int) {
		t.Helper()
		if r.Start.Line != line || r.Start.Column != col || r.Filename != "test.loop.hcl" {
			t.Errorf("%s at %s, want line %d column %d", what, r, line, col)
		}
	}
	check("stage", s.DeclRange, 2, 1)
	check("operator", s.OperatorRange, 2, 7)
	check("name", s.NameRange, 2, 16)
}

// TestDecodeErrors checks lang's own diagnostics, each with the line it
// must point at.
func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name, src, want string
		line            int
	}{
		{"unknown block", "stag \"filter\" \"x\" {\n}\n", "Unsupported block type", 1},
		{"duplicate across kinds is fine, within is not", "dataset \"a\" {\n}\nmodel \"a\" {\n  provider = \"builtin\"\n}\ndataset \"a\" {\n}\n", "Duplicate dataset \"a\"", 6},
		{"duplicate loop stage", "stage \"filter\" \"x\" {\n}\nloop \"l\" {\n  rounds = 1\n  stage \"filter\" \"x\" {\n  }\n}\n", "Duplicate stage \"x\"", 5},
		{"duplicate settings", "settings {\n}\nsettings {\n}\n", "Duplicate settings block", 3},
		{"next without state", "loop \"l\" {\n  rounds = 1\n  next = {}\n}\n", "Missing loop state", 3},
		{"loop without rounds", "loop \"l\" {\n}\n", "Missing required argument", 1},
		{"unknown loop attribute", "loop \"l\" {\n  rounds = 1\n  untill = true\n}\n", "Unsupported argument", 3},
		{"model without provider", "model \"m\" {\n}\n", "Missing required argument", 1},
		{"bad variable type", "variable \"v\" {\n  type = numbr\n}\n", "Invalid type specification", 2},
		{"default of wrong type", "variable \"v\" {\n  type = number\n  default = \"x\"\n}\n", "Invalid default value for variable", 3},
		{"invalid name", "dataset \"1abc\" {\n}\n", "Invalid dataset name", 1},
		{"output without value", "output \"o\" {\n}\n", "Missing required argument", 1},
		{"syntax error", "locals {\n  a = \n}\n", "Invalid expression", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := load(t, tc.src)
			for _, d := range diags {
				if d.Subject != nil && d.Subject.Start.Line == tc.line && strings.Contains(d.Summary, tc.want) {
					return
				}
			}
			t.Errorf("no %q on line %d; got %v", tc.want, tc.line, diags)
		})
	}
}

func TestUnknownBlockSuggestion(t *testing.T) {
	_, diags := load(t, "datset \"x\" {\n}\n")
	if !diags.HasErrors() || !strings.Contains(diags[0].Detail, `Did you mean "dataset"?`) {
		t.Errorf("got %v", diags)
	}
}

func TestLoadPathErrors(t *testing.T) {
	if _, diags := lang.NewParser().LoadPath("testdata/missing"); !diags.HasErrors() {
		t.Error("missing path: no error")
	}
	if _, diags := lang.NewParser().LoadPath(t.TempDir()); !diags.HasErrors() || diags[0].Summary != "No spec files" {
		t.Errorf("empty dir: %v", diags)
	}
}

func TestVarFile(t *testing.T) {
	entries, diags := lang.NewParser().LoadVarFile("testdata/vars.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(entries) != 2 || entries[0].Name != "rounds" || entries[1].Name != "name" {
		t.Errorf("entries = %+v", entries)
	}
}

func TestLoadFilesOverlay(t *testing.T) {
	names := []string{"testdata/multi/a.loop.hcl", "testdata/multi/b.loop.hcl"}
	// An unsaved buffer replaces b's disk contents; a is read from disk.
	overlay := map[string][]byte{names[1]: []byte("output \"only\" {\n  value = 1\n}\n")}
	cfg, diags := lang.NewParser().LoadFilesOverlay(names, overlay)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(cfg.Outputs) != 1 || cfg.Outputs[0].Name != "only" || cfg.Outputs[0].DeclRange.Filename != names[1] {
		t.Errorf("outputs = %+v, want the overlay's", cfg.Outputs)
	}
	if len(cfg.Variables) != 1 {
		t.Errorf("variables = %d, want a's from disk", len(cfg.Variables))
	}
}
