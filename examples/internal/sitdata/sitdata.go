// Package sitdata generates the self_improving_transformers example's
// data: reversed addition of 1 to 10 digits in a fixed frame of 10
// columns. Both operands of an L-digit problem have exactly L digits; they
// are written least-significant digit first, zero-padded to the frame, and
// placed at a random column offset in it (columns offset .. offset+L-1,
// zeros elsewhere). The answer is the sum in the same frame, 11 columns
// (the carry column included), also reversed: 457+683 = 1140 at offset 2
// is
//
//	question "0075400000+0038600000="  answer "00041100000"
//
// so every problem has the same number of tokens and "one digit longer"
// means one more non-zero column. Each row records digits and offset (the
// spec's length filter needs them; they are not shown to the model).
//
// The files, relative to the example folder:
//
//	data/labeled.jsonl    5,000 labeled problems per length, lengths 1-7
//	                      (the spec trains on the lengths up to var.start only)
//	data/unlabeled.jsonl  5,000 problems per length, lengths 1-10, whose
//	                      answer the loop never reads: the model labels them itself
//	data/test.jsonl       500 held-out problems per length, lengths 1-10
//
// Generation is deterministic (one seeded PCG stream), so the committed
// files need not ship in the ouro binary: `ouro init` regenerates them
// through package examples, and examples/self_improving_transformers/
// gendata.go (`go run gendata.go`) rewrites the committed copies. A test in
// package examples checks both are the same bytes. Any change here that
// changes a byte changes the example's data, its cached runs and the
// numbers its README reports.
package sitdata

import (
	"io"
	"math/rand/v2"
	"slices"

	"github.com/ouroloop/ouro/examples/internal/jsonl"
)

const (
	frame      = 10 // operand columns; the answer has frame+1
	maxDigits  = 10
	maxLabeled = 7
	labeledPer = 5000
	// Unlabeled problems per length: the first 1,000 are drawn alongside
	// the labeled ones, the rest after every other file's (so that adding
	// more leaves labeled.jsonl and test.jsonl byte-identical).
	firstUnlabeled = 1000
	moreUnlabeled  = 4000
	// Held-out problems per length, likewise: 100 first, 400 more last.
	firstTest = 100
	moreTest  = 400
)

// A Problem is one row of the data files.
type Problem struct {
	Digits   int    `json:"digits"`
	Offset   int    `json:"offset"`
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// A File is one data file: its slash path relative to the example folder
// and its rows.
type File struct {
	Path string
	Rows []Problem
}

// paths are the files' paths, in the order Files returns them.
var paths = []string{"data/labeled.jsonl", "data/unlabeled.jsonl", "data/test.jsonl"}

// Paths lists the paths of the files Files generates, in its order,
// without generating them.
func Paths() []string { return slices.Clone(paths) }

// Encode writes f's rows to w as JSON Lines, the committed file's bytes.
func (f File) Encode(w io.Writer) error { return jsonl.Encode(w, f.Rows) }

// Files generates the example's data files, in the order of Paths. The three
// share one random stream (no problem of 2+ digits repeats another, held
// out or not), so they are generated together.
func Files() []File {
	r := rand.New(rand.NewPCG(2025, 2502))
	seen := map[string]bool{}
	next := func(digits int) Problem {
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
				return Problem{digits, off, q, ans}
			}
		}
	}
	labeled := make([]Problem, 0, maxLabeled*labeledPer)
	unlabeled := make([]Problem, 0, maxDigits*(firstUnlabeled+moreUnlabeled))
	test := make([]Problem, 0, maxDigits*(firstTest+moreTest))
	for d := 1; d <= maxDigits; d++ {
		for range firstTest {
			test = append(test, next(d))
		}
	}
	for d := 1; d <= maxDigits; d++ {
		if d <= maxLabeled {
			for range labeledPer {
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
	return []File{{paths[0], labeled}, {paths[1], unlabeled}, {paths[2], test}}
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
