//go:build ignore

// gendata writes the self-improving-transformers example's data: reversed
// addition problems of 1 to 10 digits. Both operands of an L-digit problem
// have exactly L digits; the answer is the sum written least-significant
// digit first and zero-padded to L+1 digits ("457+68" is not a problem: both
// operands have the same length; "457+683=" has answer "0411", 1140
// reversed).
//
//	go run gendata.go
//
// data/labeled.jsonl    labeled problems per length (the spec trains on the
//
//	lengths up to var.start only)
//
// data/unlabeled.jsonl  problems per length whose answer the loop never reads:
//
//	the model labels them itself
//
// data/test.jsonl       held-out problems per length
package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
)

const maxDigits = 10

type problem struct {
	Digits   int    `json:"digits"`
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// Reversed is a+b least-significant digit first, padded to digits+1.
func Reversed(a, b, digits int) string {
	s := []byte(fmt.Sprintf("%0*d", digits+1, a+b))
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	return string(s)
}

func write(name string, rows []problem) {
	f, err := os.Create(name)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			panic(err)
		}
	}
}

func main() {
	r := rand.New(rand.NewPCG(2025, 2502))
	seen := map[string]bool{}
	next := func(digits int) problem {
		for {
			lo, hi := 0, 10 // 1 digit: 0..9
			if digits > 1 {
				lo = 1
				for range digits - 1 {
					lo *= 10
				}
				hi = lo * 10
			}
			a, b := lo+r.IntN(hi-lo), lo+r.IntN(hi-lo)
			q := fmt.Sprintf("%d+%d=", a, b)
			if digits == 1 || !seen[q] {
				seen[q] = true
				return problem{digits, q, Reversed(a, b, digits)}
			}
		}
	}
	var labeled, unlabeled, test []problem
	for d := 1; d <= maxDigits; d++ {
		for range 100 { // held out first, so no training problem repeats one
			test = append(test, next(d))
		}
	}
	for d := 1; d <= maxDigits; d++ {
		for range 3000 {
			labeled = append(labeled, next(d))
		}
		for range 1000 {
			unlabeled = append(unlabeled, next(d))
		}
	}
	write("data/labeled.jsonl", labeled)
	write("data/unlabeled.jsonl", unlabeled)
	write("data/test.jsonl", test)
}
