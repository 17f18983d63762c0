package compiler_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ouroloop/ouro/lang/fuzztest"
)

// FuzzCompile feeds arbitrary bytes to the parser and the compiler: whatever
// the spec, they report diagnostics and never panic. Seeds are every
// example spec, every error file and countSpec.
//
//	go test -run='^$' -fuzz=FuzzCompile -fuzztime=3m ./compiler/
func FuzzCompile(f *testing.F) {
	fuzztest.NoMinimize(f)
	var seeds []string
	for _, pat := range []string{"../examples/*/*.loop.hcl", "testdata/errors/*.loop.hcl"} {
		m, _ := filepath.Glob(pat)
		seeds = append(seeds, m...)
	}
	for _, s := range seeds {
		src, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte(countSpec)) // count and for_each, at top level and in a loop
	// Modules: sources are relative to the fuzzed file, here compiler/, so
	// these point at fixed folders of testdata/errors.
	f.Add([]byte(fuzzModuleSpec))
	for _, dir := range []string{"modules", "module_sources", "module_cycle", "module_inner"} {
		m, _ := filepath.Glob(filepath.Join("testdata/errors", dir, "*.loop.hcl"))
		for _, s := range m {
			src, err := os.ReadFile(s)
			if err != nil {
				f.Fatal(err)
			}
			// The same spec as if it were in compiler/: its sources
			// rewritten to reach the folder from there.
			f.Add(bytes.ReplaceAll(src, []byte(`"./`), []byte(`"./testdata/errors/`+dir+`/`)))
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		res, diags := compileSource(t, src, "fuzz.loop.hcl")
		if res != nil && !diags.HasErrors() && res.Plan == nil {
			t.Fatal("no errors but no plan")
		}
	})
}

// fuzzModuleSpec uses the scoring module of testdata/errors/modules
// correctly, from a file in compiler/.
const fuzzModuleSpec = `dataset "problems" {
  rows   = [{ question = "1+1", answer = 2 }]
  schema = object({ question = string, answer = number })
}

module "score" {
  source    = "./testdata/errors/modules/score"
  problems  = dataset.problems
  threshold = 1
}

output "kept" {
  value = module.score.kept
}
`
