package compiler_test

import (
	"fmt"
	"strings"
	"testing"
)

// countBenchSpec is a chain of blocks stage repeated with count: stage s<i>
// has count instances, instance j reading instance j of s<i-1>.
func countBenchSpec(blocks, count int) []byte {
	var b strings.Builder
	b.WriteString("dataset \"d\" {\n  rows   = [{ x = 1 }]\n  schema = object({ x = number })\n}\n")
	for i := 0; i < blocks; i++ {
		input := "dataset.d"
		if i > 0 {
			input = fmt.Sprintf("stage.s%d[count.index]", i-1)
		}
		fmt.Fprintf(&b, "\nstage \"map\" \"s%d\" {\n  count  = %d\n  input  = %s\n  fields = { x = item.x + count.index }\n}\n", i, count, input)
	}
	return []byte(b.String())
}

// BenchmarkValidateCount is `ouro validate` (parse and compile) of a spec of
// 10,000 stages written as 100 blocks with count = 100 (issue 18's goal:
// ≤ 1 s and ≤ 100 MB allocated). docs/performance.md records the numbers.
//
//	go test -run '^$' -bench ValidateCount -benchmem ./compiler/
//
// The sub-benchmark plain is the same 10,000 stages written out one block
// each (stage s<i>_<j> reading s<i-1>_<j>), for comparison.
func BenchmarkValidateCount(b *testing.B) {
	bench := func(src []byte, nodes int) func(b *testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, diags := compileSource(b, src, "count.loop.hcl")
				if diags.HasErrors() || res.Plan == nil {
					b.Fatal(diags)
				}
				if len(res.Plan.Nodes) != nodes {
					b.Fatalf("%d nodes", len(res.Plan.Nodes))
				}
			}
		}
	}
	b.Run("count=100x100", bench(countBenchSpec(100, 100), 100*100+100+1))
	b.Run("plain=10000", bench(plainBenchSpec(100, 100), 100*100+1))
}

func plainBenchSpec(blocks, count int) []byte {
	var b strings.Builder
	b.WriteString("dataset \"d\" {\n  rows   = [{ x = 1 }]\n  schema = object({ x = number })\n}\n")
	for i := 0; i < blocks; i++ {
		for j := 0; j < count; j++ {
			input := "dataset.d"
			if i > 0 {
				input = fmt.Sprintf("stage.s%d_%d", i-1, j)
			}
			fmt.Fprintf(&b, "\nstage \"map\" \"s%d_%d\" {\n  input  = %s\n  fields = { x = item.x + %d }\n}\n", i, j, input, j)
		}
	}
	return []byte(b.String())
}
