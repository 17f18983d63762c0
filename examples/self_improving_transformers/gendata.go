//go:build ignore

// gendata rewrites this example's data/ (labeled.jsonl, unlabeled.jsonl,
// test.jsonl): reversed addition of 1 to 10 digits in a fixed frame of 10
// columns. The generator itself is examples/internal/sitdata, whose package
// doc describes the format; `ouro init --template
// self_improving_transformers` runs the same code, so the files it writes
// are these, byte for byte.
//
//	go run gendata.go
package main

import (
	"github.com/ouroloop/ouro/examples/internal/jsonl"
	"github.com/ouroloop/ouro/examples/internal/sitdata"
)

func main() {
	for _, f := range sitdata.Files() {
		jsonl.Write(f.Path, f.Rows)
	}
}
