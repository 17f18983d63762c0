// Command ouro compiles and runs LLM self-improvement loops written as
// .loop.hcl specs. It wires the standard library (package stdlib) into the
// compiler and the runtime; all language and execution logic lives in those
// packages.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

func main() {
	// OURO_CPUPROFILE=FILE writes a CPU profile of the whole command (for
	// `go tool pprof`; see docs/performance.md).
	if path := os.Getenv("OURO_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "ouro: OURO_CPUPROFILE:", err)
			os.Exit(2)
		}
		code := run(os.Args[1:], os.Stdout, os.Stderr)
		pprof.StopCPUProfile()
		f.Close()
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
