package runtime_test

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/store"
)

// firstRunStagesFlag is how many trivial stages BenchmarkFirstRun runs:
// go test ./runtime -run '^$' -bench FirstRun -firstrun.stages 10000
var firstRunStagesFlag = flag.Int("firstrun.stages", 300, "stages in BenchmarkFirstRun's spec")

// BenchmarkFirstRun runs a spec of 300 (-firstrun.stages) independent
// one-record stages into
// an empty store, with parallelism 1 and 2: every stage runs and stores a
// fresh dataset blob and its entry, so the store's writes are most of the
// cost.
func BenchmarkFirstRun(b *testing.B) {
	firstRunStages := *firstRunStagesFlag
	var src strings.Builder
	for i := 0; i < firstRunStages; i++ {
		fmt.Fprintf(&src, "stage \"numbers\" \"s%d\" {\n  n    = 1\n  salt = %d\n}\n", i, i)
	}
	cfg, diags := lang.NewParser().LoadSource([]byte(src.String()), "bench.loop.hcl")
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	res, diags := compiler.Compile(cfg, compiler.Options{Registry: newReg(), Functions: funcs()})
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	for _, p := range []int{1, 2} {
		b.Run(fmt.Sprintf("p=%d", p), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				st, err := store.Open(b.TempDir(), store.Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				out, err := runtime.Run(context.Background(), res.Plan, runtime.Options{Store: st, Library: newLib(), Functions: funcs(), Parallelism: p})
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if n := len(out.Record.Stages); n != firstRunStages {
					b.Fatalf("%d stages in the run record, want %d", n, firstRunStages)
				}
				for _, s := range out.Record.Stages {
					if s.Status != "ran" {
						b.Fatalf("%s: %s", s.Address, s.Status)
					}
				}
				st.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(firstRunStages*b.N)/b.Elapsed().Seconds(), "stages/s")
		})
	}
}
