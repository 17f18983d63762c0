//go:build ignore

// gendata writes the self-improving-transformers example's data: reversed
// addition of 1 to 10 digits in a fixed frame of 10 columns. Both operands
// of an L-digit problem have exactly L digits; they are written least-
// significant digit first, zero-padded to the frame, and placed at a random
// column offset in it (columns offset .. offset+L-1, zeros elsewhere). The
// answer is the sum in the same frame, 11 columns (the carry column
// included), also reversed: 457+683 = 1140 at offset 2 is
//
//	question "0075400000+0038600000="  answer "00041100000"
//
// so every problem has the same number of tokens and "one digit longer"
// means one more non-zero column. Each row records digits and offset (the
// spec's length filter needs them; they are not shown to the model).
//
//	go run gendata.go
//
// data/labeled.jsonl    5,000 labeled problems per length, lengths 1-7 (the
//
//	spec trains on the lengths up to var.start only)
//
// data/unlabeled.jsonl  5,000 problems per length, lengths 1-10, whose
//
//	answer the loop never reads: the model labels them itself
//
// data/test.jsonl       500 held-out problems per length, lengths 1-10
package main

import (
	"math/rand/v2"

	"github.com/ouroloop/ouro/examples/internal/jsonl"
)

const (
	frame      = 10 // operand columns; the answer has frame+1
	maxDigits  = 10
	maxLabeled = 7
	// Unlabeled problems per length: the first 1,000 are drawn alongside
	// the labeled ones, the rest after every other file's (so that adding
	// more leaves labeled.jsonl and test.jsonl byte-identical).
	firstUnlabeled = 1000
	moreUnlabeled  = 4000
	// Held-out problems per length, likewise: 100 first, 400 more last.
	firstTest = 100
	moreTest  = 400
)

type problem struct {
	Digits   int    `json:"digits"`
	Offset   int    `json:"offset"`
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// Framed returns the question and answer of a+b (digits least-significant
// first, a[i] and b[i] for i < L) placed at column off of the frame.
func Framed(a, b []int, off int) (q, ans string) {
	x := make([]int, frame)
	y := make([]int, frame)
	copy(x[off:], a)
	copy(y[off:], b)
	s := make([]byte, frame+1)
	c := 0
	for i := range frame {
		v := x[i] + y[i] + c
		s[i] = byte('0' + v%10)
		c = v / 10
	}
	s[frame] = byte('0' + c)
	str := func(d []int) string {
		b := make([]byte, len(d))
		for i, v := range d {
			b[i] = byte('0' + v)
		}
		return string(b)
	}
	return str(x) + "+" + str(y) + "=", string(s)
}

func main() {
	r := rand.New(rand.NewPCG(2025, 2502))
	seen := map[string]bool{}
	next := func(digits int) problem {
		for {
			a, b := make([]int, digits), make([]int, digits)
			for i := range digits {
				lo := 0
				if i == digits-1 && digits > 1 {
					lo = 1 // exactly L digits: the leading one is not 0
				}
				a[i], b[i] = lo+r.IntN(10-lo), lo+r.IntN(10-lo)
			}
			off := r.IntN(frame - digits + 1)
			q, ans := Framed(a, b, off)
			if digits == 1 || !seen[q] {
				seen[q] = true
				return problem{digits, off, q, ans}
			}
		}
	}
	var labeled, unlabeled, test []problem
	for d := 1; d <= maxDigits; d++ {
		for range firstTest { // no problem of 2+ digits repeats another (seen), held out or not
			test = append(test, next(d))
		}
	}
	for d := 1; d <= maxDigits; d++ {
		if d <= maxLabeled {
			for range 5000 {
				labeled = append(labeled, next(d))
			}
		}
		for range firstUnlabeled {
			unlabeled = append(unlabeled, next(d))
		}
	}
	for d := 1; d <= maxDigits; d++ {
		for range moreUnlabeled {
			unlabeled = append(unlabeled, next(d))
		}
	}
	for d := 1; d <= maxDigits; d++ {
		for range moreTest {
			test = append(test, next(d))
		}
	}
	jsonl.Write("data/labeled.jsonl", labeled)
	jsonl.Write("data/unlabeled.jsonl", unlabeled)
	jsonl.Write("data/test.jsonl", test)
}
