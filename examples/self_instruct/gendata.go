//go:build ignore

// gendata writes the Self-Instruct example's data from six small task
// families (add, double, reverse, uppercase, count letters, repeat):
//
//	data/seeds.jsonl     12 seed tasks (two per family), the loop's round-0 pool
//	data/pretrain.jsonl  3,000 (task, next task) pairs that teach the model the
//	                     "write another task" format (the paper's pretrained LM)
//	data/heldout.jsonl   60 held-out tasks (10 per family) to evaluate instruction following
//
//	go run gendata.go
package main

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/ouroloop/ouro/examples/internal/jsonl"
)

type task struct {
	Instruction string `json:"instruction"`
	Output      string `json:"output"`
}

type pair struct {
	Instruction string `json:"instruction"`
	Output      string `json:"output"`
	Next        string `json:"next"`
	NextOutput  string `json:"next_output"`
}

var words = strings.Fields("cat dog sun moon tree fish bird rock lamp star frog milk rain snow wind leaf ship road gold iron")

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

func gen(r *rand.Rand, family int) task {
	w := words[r.IntN(len(words))]
	switch family {
	case 0:
		a, b := 10+r.IntN(40), 10+r.IntN(40)
		return task{fmt.Sprintf("Add %d and %d.", a, b), fmt.Sprint(a + b)}
	case 1:
		a := 10 + r.IntN(40)
		return task{fmt.Sprintf("Double %d.", a), fmt.Sprint(2 * a)}
	case 2:
		return task{fmt.Sprintf("Reverse the word %s.", w), reverse(w)}
	case 3:
		return task{fmt.Sprintf("Uppercase the word %s.", w), strings.ToUpper(w)}
	case 4:
		return task{fmt.Sprintf("Count the letters in %s.", w), fmt.Sprint(len(w))}
	default:
		return task{fmt.Sprintf("Repeat %s twice.", w), w + " " + w}
	}
}

func main() {
	r := rand.New(rand.NewPCG(2022, 10560))
	seen := map[string]bool{}
	fresh := func(f int) task {
		for {
			t := gen(r, f)
			if !seen[t.Instruction] {
				seen[t.Instruction] = true
				return t
			}
		}
	}
	var seeds, heldout, pre []any
	for f := 0; f < 6; f++ {
		seeds = append(seeds, fresh(f), fresh(f))
	}
	for i := 0; i < 60; i++ {
		heldout = append(heldout, fresh(i%6))
	}
	for i := 0; i < 3000; i++ {
		a, b := gen(r, r.IntN(6)), gen(r, r.IntN(6))
		pre = append(pre, pair{a.Instruction, a.Output, b.Instruction, b.Output})
	}
	jsonl.Write("data/seeds.jsonl", seeds)
	jsonl.Write("data/heldout.jsonl", heldout)
	jsonl.Write("data/pretrain.jsonl", pre)
}
