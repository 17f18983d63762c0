// Command gendata writes 2-digit addition problems into ./data: a training
// set (data/train.jsonl, 2,000 problems) for the short "pretrain" stage that
// gives the builtin model something to work on, and a held-out test set
// (data/test.jsonl, 100 problems, none of them in the training set).
//
// Six example folders share this data: best_of_n, rest_em,
// self_consistency, self_refine, self_rewarding and spin. Each has a
// gendata.go whose go:generate line runs this command in that folder:
//
//	cd examples/spin && go generate gendata.go
//
// The generator is seeded, so the data is the same byte for byte on every
// run; the other examples (star, self_instruct,
// self_improving_transformers) have generators of their own.
package main

import (
	"fmt"
	"math/rand/v2"

	"github.com/ouroloop/ouro/examples/internal/jsonl"
)

type problem struct {
	Question string `json:"question"`
	Answer   int    `json:"answer"`
}

func main() {
	r := rand.New(rand.NewPCG(2023, 11171))
	seen := map[string]bool{}
	next := func() problem {
		for {
			a, b := 10+r.IntN(90), 10+r.IntN(90)
			q := fmt.Sprintf("%d+%d", a, b)
			if !seen[q] {
				seen[q] = true
				return problem{q, a + b}
			}
		}
	}
	var train, test []problem
	for range 100 {
		test = append(test, next())
	}
	for range 2000 {
		train = append(train, next())
	}
	jsonl.Write("data/train.jsonl", train)
	jsonl.Write("data/test.jsonl", test)
}
