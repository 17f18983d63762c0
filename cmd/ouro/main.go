// Command ouro compiles and runs LLM self-improvement loops written as
// .loop.hcl specs. It wires the standard library (package stdlib) into the
// compiler and the runtime; all language and execution logic lives in those
// packages.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
