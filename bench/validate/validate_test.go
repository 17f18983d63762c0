package main

import (
	"fmt"
	"testing"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang"
	"github.com/ouroloop/ouro/stdlib"
)

// validate parses and compiles a spec the way `ouro validate` does.
func validate(tb testing.TB, src []byte) *compiler.Plan {
	cfg, diags := lang.NewParser().LoadSource(src, "big.loop.hcl")
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	res, diags := compiler.Compile(cfg, compiler.Options{Registry: stdlib.NewRegistry(), Functions: stdlib.Functions()})
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	return res.Plan
}

func TestGeneratedSpecsValidate(t *testing.T) {
	for _, n := range []int{10, 100, 1000} {
		p := validate(t, Generate(n))
		stages := 0
		for _, node := range p.Nodes {
			if node.Kind == compiler.KindStage {
				stages++
			}
		}
		if stages < n {
			t.Errorf("%d: only %d stages in the plan", n, stages)
		}
	}
}

func benchmarkValidate(b *testing.B, n int) {
	src := Generate(n)
	functions := stdlib.Functions()
	reg := stdlib.NewRegistry()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cfg, diags := lang.NewParser().LoadSource(src, "big.loop.hcl")
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		if _, diags := compiler.Compile(cfg, compiler.Options{Registry: reg, Functions: functions}); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}

// BenchmarkValidate1k and BenchmarkValidate10k parse and compile generated
// specs of 1,000 and 10,000 stage blocks (goal: ≤ 100 ms for 1,000 and
// linear growth).
func BenchmarkValidate1k(b *testing.B)  { benchmarkValidate(b, 1000) }
func BenchmarkValidate10k(b *testing.B) { benchmarkValidate(b, 10000) }

func BenchmarkValidateSizes(b *testing.B) {
	for _, n := range []int{100, 1000, 3000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchmarkValidate(b, n) })
	}
}
