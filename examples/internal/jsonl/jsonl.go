// Package jsonl writes the JSON Lines data files of the examples' data
// generators: one json.Encoder line per row, so a generator's output is the
// same byte for byte on every run.
package jsonl

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
)

// Encode writes rows to w, one JSON object a line, as it goes: nothing is
// held but the row being encoded.
func Encode[T any](w io.Writer, rows []T) error {
	enc := json.NewEncoder(w)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// Write writes rows to the file name, one JSON object a line. A generator
// has nothing to recover from, so Write panics on an error.
func Write[T any](name string, rows []T) {
	f, err := os.Create(name)
	if err != nil {
		panic(err)
	}
	w := bufio.NewWriter(f)
	err = Encode(w, rows)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		panic(err)
	}
}
