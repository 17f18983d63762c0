// Package fuzztest holds what ouro's fuzz targets share: today, turning
// off Go's input minimization unless it was asked for. It sits in lang,
// the lowest layer, so every package's tests can import it; it imports
// nothing of ouro's and is imported only by tests.
package fuzztest

import (
	"flag"
	"testing"
)

// NoMinimize sets -test.fuzzminimizetime to 0 unless the command line gave
// it. Go minimizes every input that expands coverage before fuzzing on,
// by removing each span of bytes in turn: O(n²) runs of the target, which
// for a structured input (a checkpoint, a Parquet file, a spec) that
// rarely survives losing bytes means tens of seconds per new input with no
// execs reported (issue 15 item 8; docs/fuzzing.md). A crasher is then kept
// as found; pass -fuzzminimizetime 60s to minimize one.
func NoMinimize(f *testing.F) {
	f.Helper()
	set := false
	flag.Visit(func(fl *flag.Flag) { set = set || fl.Name == "test.fuzzminimizetime" })
	if set {
		return
	}
	if err := flag.Set("test.fuzzminimizetime", "0"); err != nil {
		f.Fatal(err)
	}
}
