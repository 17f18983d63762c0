// Command gen writes the two workflows of the no-op re-run benchmark
// (bench/noop/run.sh, issue 3): a 1,000-stage ouro spec and a Snakefile with
// the same shape, 1,000 rules whose outputs are small files.
//
//	go run ./bench/noop/gen -dir /tmp/noop -stages 1000
//
// writes DIR/ouro/noop.loop.hcl and DIR/snakemake/Snakefile.
//
// Shape: one inline dataset (stage 0), then stages 1 … n-1. Stage i is a
// concat of stages i-1, i-4 and i-7 when i is a multiple of 10 (fan-in),
// otherwise a filter (odd i) or a map (even i) of stage i-1, except that the
// stage right after a fan-in dedupes by id (so the row count stays at five
// instead of tripling every ten stages). Every stage has
// the dataset's record type, so the fan-ins type-check. The last stage is the
// spec's output and Snakemake's target; it depends on every other stage.
// In the Snakefile the dataset rule writes the rows with printf (braces
// doubled for Snakemake's formatting), a filter or
// map rule is `cp {input} {output}`, a concat rule is `cat {input} > {output}`
// and a dedupe rule is `sort -u {input} > {output}`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ouroloop/ouro/bench/noop"
)

func main() {
	dir := flag.String("dir", ".", "directory to write ouro/ and snakemake/ into")
	n := flag.Int("stages", 1000, "stages, counting the dataset (Snakemake rules, not counting `all`)")
	flag.Parse()
	if *n < 2 {
		fmt.Fprintln(os.Stderr, "gen: -stages must be at least 2")
		os.Exit(2)
	}
	for sub, data := range map[string][]byte{
		"ouro/noop.loop.hcl":  noop.Ouro(*n),
		"snakemake/Snakefile": noop.Snakefile(*n),
	} {
		p := filepath.Join(*dir, sub)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
