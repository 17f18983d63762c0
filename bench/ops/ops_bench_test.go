package opsbench_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/runtimetest"
	"github.com/ouroloop/ouro/stdlib"
	"github.com/ouroloop/ouro/stdlib/ops"
	"github.com/ouroloop/ouro/stdlib/ops/opstest"
)

var words = []string{"the", "model", "answer", "is", "correct", "when", "sum", "of", "two", "digits", "equals", "value", "rationale", "step", "carry", "one"}

func records(n int) []cty.Value {
	out := make([]cty.Value, n)
	s := uint64(1)
	for i := range out {
		s = s*6364136223846793005 + 1442695040888963407
		text := ""
		for j := 0; j < 12; j++ {
			text += words[(s>>(j*4))%uint64(len(words))] + " "
		}
		out[i] = cty.ObjectVal(map[string]cty.Value{
			"id":    cty.NumberIntVal(int64(i)),
			"text":  cty.StringVal(fmt.Sprintf("%s#%d", text, i%(n/2+1))),
			"score": cty.NumberFloatVal(float64(s>>11) / (1 << 53)),
			"label": cty.StringVal([]string{"a", "b", "c"}[i%3]),
		})
	}
	return out
}

func op(name string) runtime.Operator {
	for _, o := range ops.Operators() {
		if o.Name() == name {
			return o
		}
	}
	panic(name)
}

func bench(b *testing.B, n int, name string, c runtimetest.Call) {
	env := runtimetest.New(b, stdlib.Functions())
	in := env.Dataset(b, records(n))
	c.Sig, _ = stdlib.NewRegistry().Operator(name)
	if c.Params == nil {
		c.Params = map[string]cty.Value{}
	}
	c.Params["input"] = in
	x := env.Exec(b, c)
	o := op(name)
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := o.Run(context.Background(), x); err != nil {
			b.Fatal(err)
		}
	}
	report(b, n, cpuTime()-cpu)
}

// report reports records/s (wall time) and records/cpu-s (user + system
// CPU time of the process over the timed loop: on a machine shared with
// other jobs, the throughput of the CPU time the benchmark got; with
// GOMAXPROCS=1 it is the one-core rate, GC included).
func report(b *testing.B, n int, cpu time.Duration) {
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if cpu > 0 {
		b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "records/cpu-s")
	}
}

func BenchmarkFilter(b *testing.B) {
	bench(b, 100000, "filter", runtimetest.Call{Items: map[string]string{"where": "item.score > 0.5"}})
}

func BenchmarkMap(b *testing.B) {
	bench(b, 100000, "map", runtimetest.Call{Items: map[string]string{"fields": "{ label = upper(item.label) }"}, Params: map[string]cty.Value{"drop": cty.ListVal([]cty.Value{cty.StringVal("score")})}})
}

func BenchmarkDedupeExact(b *testing.B) {
	bench(b, 100000, "dedupe", runtimetest.Call{Items: map[string]string{"key": "item.text"}})
}

func BenchmarkDedupeExactWholeRecord(b *testing.B) {
	bench(b, 100000, "dedupe", runtimetest.Call{})
}

func BenchmarkDedupeMinhash(b *testing.B) {
	bench(b, 50000, "dedupe", runtimetest.Call{Params: map[string]cty.Value{"method": cty.StringVal("minhash")}, Items: map[string]string{"text": "item.text"}})
}

// BenchmarkDedupeMinhashPlanted runs MinHash dedupe (defaults: threshold
// 0.7, 3-word shingles, 128 permutations) over a planted-duplicates set of
// short documents (opstest.NewPlanted: 50,000 bases, about 75,000
// documents) and reports, beside the speed, recall and precision against
// the planted truth (a planted duplicate has exact Jaccard ≥ 0.7 with the
// earlier document of its pair).
func BenchmarkDedupeMinhashPlanted(b *testing.B) {
	p := opstest.NewPlanted(50000, 3, 1)
	recs := make([]cty.Value, len(p.Texts))
	for i, t := range p.Texts {
		recs[i] = cty.ObjectVal(map[string]cty.Value{"id": cty.NumberIntVal(int64(i)), "text": cty.StringVal(t)})
	}
	env := runtimetest.New(b, stdlib.Functions())
	x := env.Exec(b, runtimetest.Call{Sig: sig("dedupe"), Params: map[string]cty.Value{"input": env.Dataset(b, recs), "method": cty.StringVal("minhash")}, Items: map[string]string{"text": "item.text"}})
	var out cty.Value
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		var err error
		if out, err = op("dedupe").Run(context.Background(), x); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	report(b, len(recs), cpuTime()-cpu)
	kept := make([]bool, len(recs))
	for _, r := range env.ReadAll(b, out) {
		id, _ := r.GetAttr("id").AsBigFloat().Int64()
		kept[id] = true
	}
	recall, precision, dups, removed, _ := p.Score(kept, 0.7)
	b.ReportMetric(recall, "recall")
	b.ReportMetric(precision, "precision")
	b.ReportMetric(float64(dups), "planted")
	b.ReportMetric(float64(removed), "removed")
}

func BenchmarkDatasetJSONL(b *testing.B) {
	env := runtimetest.New(b, stdlib.Functions())
	recs := records(100000)
	exp := env.Exec(b, runtimetest.Call{Sig: sig("export"), Params: map[string]cty.Value{"input": env.Dataset(b, recs), "path": cty.StringVal("in.jsonl")}})
	if _, err := op("export").Run(context.Background(), exp); err != nil {
		b.Fatal(err)
	}
	x := env.Exec(b, runtimetest.Call{Sig: sig("dataset"), Params: map[string]cty.Value{"source": cty.StringVal("in.jsonl")}, Schemas: map[string]cty.Type{"schema": recs[0].Type()}})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := op("dataset").Run(context.Background(), x); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func sig(name string) *compiler.Signature { s, _ := stdlib.NewRegistry().Operator(name); return s }
