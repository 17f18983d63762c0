package compiler_test

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang"
	"github.com/ouroloop/ouro/stdlib"
)

// exampleSpecs lists the specs the compiler is checked against: the small
// inline-row sketches of testdata/specs (one file each) and every paper
// folder of examples/.
func exampleSpecs(t testing.TB) []string {
	t.Helper()
	specs, err := filepath.Glob("testdata/specs/*" + lang.FileSuffix)
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := filepath.Glob("../examples/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if files, _ := filepath.Glob(filepath.Join(d, "*"+lang.FileSuffix)); len(files) > 0 {
			specs = append(specs, d)
		}
	}
	sort.Strings(specs)
	if len(specs) == 0 {
		t.Fatal("no example specs")
	}
	return specs
}

// TestExamplesValidate checks that every shipped spec compiles with no
// errors and no warnings, and that together they use every operator family.
func TestExamplesValidate(t *testing.T) {
	reg := stdlib.NewRegistry()
	families := map[compiler.Family][]string{}
	for _, path := range exampleSpecs(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			p := lang.NewParser()
			cfg, diags := p.LoadPath(path)
			if !diags.HasErrors() {
				res, d := compiler.Compile(cfg, compiler.Options{Registry: reg, Functions: stdlib.Functions()})
				diags = append(diags, d...)
				if res != nil && res.Plan != nil {
					for _, n := range res.Plan.Nodes {
						if n.Operator == "" {
							continue
						}
						if sig, ok := reg.Operator(n.Operator); ok {
							families[sig.Family] = append(families[sig.Family], filepath.Base(path)+":"+n.Operator)
						}
					}
				}
			}
			for _, d := range diags {
				t.Errorf("%s", formatDiag(d))
			}
		})
	}
	for _, f := range []compiler.Family{compiler.Acquisition, compiler.Selection, compiler.Optimization, compiler.Refinement, compiler.Evaluation} {
		if len(families[f]) == 0 {
			t.Errorf("no example uses an operator of the %s family", f)
		}
	}
}

// TestExamplesPlanRoundTrip encodes each example's plan and decodes it.
func TestExamplesPlanRoundTrip(t *testing.T) {
	for _, path := range exampleSpecs(t) {
		cfg, diags := lang.NewParser().LoadPath(path)
		if diags.HasErrors() {
			continue // reported by TestExamplesValidate
		}
		res, diags := compiler.Compile(cfg, compiler.Options{Registry: stdlib.NewRegistry(), Functions: stdlib.Functions()})
		if diags.HasErrors() {
			continue
		}
		f, err := os.CreateTemp(t.TempDir(), "plan")
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Plan.Encode(f); err != nil {
			t.Fatalf("%s: encode: %v", path, err)
		}
		f.Seek(0, 0)
		back, err := compiler.DecodePlan(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: decode: %v", path, err)
		}
		if len(back.Nodes) != len(res.Plan.Nodes) || back.SpecDigest != res.Plan.SpecDigest {
			t.Errorf("%s: plan changed in a round trip", path)
		}
	}
}
