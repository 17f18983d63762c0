package compiler_test

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzCompile feeds arbitrary bytes to the parser and the compiler: whatever
// the spec, they report diagnostics and never panic. Seeds are every
// example spec, every error file and countSpec.
//
//	go test -run='^$' -fuzz=FuzzCompile -fuzztime=3m ./compiler/
func FuzzCompile(f *testing.F) {
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
	f.Fuzz(func(t *testing.T, src []byte) {
		res, diags := compileSource(t, src, "fuzz.loop.hcl")
		if res != nil && !diags.HasErrors() && res.Plan == nil {
			t.Fatal("no errors but no plan")
		}
	})
}
