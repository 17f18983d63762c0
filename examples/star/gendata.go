//go:build ignore

// gendata writes the STaR example's data: a few worked seed rationales,
// training questions without rationales, and held-out questions.
//
//	go run gendata.go
package main

import (
	"fmt"
	"math/rand/v2"

	"github.com/ouroloop/ouro/examples/internal/jsonl"
)

type problem struct {
	Question string `json:"question"`
	A        int    `json:"a"`
	B        int    `json:"b"`
	Answer   int    `json:"answer"`
}

type seed struct {
	Question  string `json:"question"`
	Rationale string `json:"rationale"`
}

// Rationale spells out column addition: ones, then tens with the carry.
func Rationale(a, b int) string {
	s0 := a%10 + b%10
	c := s0 / 10
	s1 := a/10 + b/10 + c
	return fmt.Sprintf("%d+%d=%d, %d+%d+%d=%d = %d", a%10, b%10, s0, a/10, b/10, c, s1, a+b)
}

func main() {
	r := rand.New(rand.NewPCG(2022, 3))
	seen := map[[2]int]bool{}
	next := func() (int, int) {
		for {
			a, b := 10+r.IntN(90), 10+r.IntN(90)
			if !seen[[2]int{a, b}] {
				seen[[2]int{a, b}] = true
				return a, b
			}
		}
	}
	var seeds, train, heldout []any
	for range 150 {
		a, b := next()
		seeds = append(seeds, seed{Question: fmt.Sprintf("%d+%d", a, b), Rationale: Rationale(a, b)})
	}
	for range 400 {
		a, b := next()
		train = append(train, problem{fmt.Sprintf("%d+%d", a, b), a, b, a + b})
	}
	for range 100 {
		a, b := next()
		heldout = append(heldout, problem{fmt.Sprintf("%d+%d", a, b), a, b, a + b})
	}
	jsonl.Write("data/seed.jsonl", seeds)
	jsonl.Write("data/train.jsonl", train)
	jsonl.Write("data/heldout.jsonl", heldout)
}
