// Package jsonl writes the JSON Lines data files of the examples' data
// generators: one json.Encoder line per row, so a generator's output is the
// same byte for byte on every run.
package jsonl

import (
	"encoding/json"
	"os"
)

// Write writes rows to the file name, one JSON object a line. A generator
// has nothing to recover from, so Write panics on an error.
func Write[T any](name string, rows []T) {
	f, err := os.Create(name)
	if err != nil {
		panic(err)
	}
	enc := json.NewEncoder(f)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			panic(err)
		}
	}
	if err := f.Close(); err != nil {
		panic(err)
	}
}
