package gpt

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
)

// exactMatch greedily completes every prompt and counts exact answers.
func exactMatch(t testing.TB, m *Model, data []SFTExample) float64 {
	t.Helper()
	prompts := make([]string, len(data))
	for i, ex := range data {
		prompts[i] = ex.Prompt
	}
	out, err := m.Generate(context.Background(), prompts, 1, SampleOptions{MaxTokens: 8})
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for i, ex := range data {
		if out[i][0].Text == ex.Target && out[i][0].FinishReason == "stop" {
			ok++
		}
	}
	return float64(ok) / float64(len(data))
}

// additionData returns all a+b with a, b < 10^digits, split into train and
// held-out sets by a seeded shuffle.
func additionData(digits, heldOut int, reversed, pad bool, seed uint64) (train, test []SFTExample) {
	lim := 1
	for i := 0; i < digits; i++ {
		lim *= 10
	}
	var all []SFTExample
	for a := 0; a < lim; a++ {
		for b := 0; b < lim; b++ {
			s := strconv.Itoa(a + b)
			if reversed {
				r := []byte(s)
				for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
					r[i], r[j] = r[j], r[i]
				}
				s = string(r)
			}
			p := fmt.Sprintf("%d+%d=", a, b)
			if pad {
				p = fmt.Sprintf("%0*d+%0*d=", digits, a, digits, b)
				s = fmt.Sprintf("%0*s", digits+1, s)
			}
			all = append(all, SFTExample{Prompt: p, Target: s})
		}
	}
	perm := make([]int, len(all))
	for i := range perm {
		perm[i] = i
	}
	newRNG(seed).shuffle(perm)
	for k, i := range perm {
		if k < heldOut {
			test = append(test, all[i])
		} else {
			train = append(train, all[i])
		}
	}
	return train, test
}

func TestLearnAddition(t *testing.T) {
	// Two-digit operands, zero-padded, answer in normal order ("07+45=" -> "052").
	train, test := additionData(2, 500, false, true, 1)
	m, err := New(Config{Layers: 2, Dim: 64, Heads: 4, Hidden: 128, MaxSeq: 12, Vocab: "0123456789+="}, 1)
	if err != nil {
		t.Fatal(err)
	}
	m, st, err := TrainSFT(context.Background(), m, train, TrainOptions{
		Steps: 2000, BatchSize: 32, LR: 3e-3, Warmup: 50, WeightDecay: 0.01, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	acc := exactMatch(t, m, test)
	t.Logf("params %d, final loss %.4f, held-out exact match %.3f", m.NumParams(), st.FinalLoss, acc)
	if acc < 0.95 {
		t.Errorf("held-out exact match %.3f < 0.95", acc)
	}
}

// copyReverseData makes "c:abc|" -> "abc" and "r:abc|" -> "cba" examples
// over random strings of 1..maxLen letters.
func copyReverseData(n, maxLen int, seed uint64) []SFTExample {
	r := newRNG(seed)
	var out []SFTExample
	for len(out) < n {
		b := make([]byte, 1+r.intn(maxLen))
		for i := range b {
			b[i] = byte('a' + r.intn(8))
		}
		s := string(b)
		if r.intn(2) == 0 {
			out = append(out, SFTExample{Prompt: "c:" + s + "|", Target: s})
		} else {
			for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
				b[i], b[j] = b[j], b[i]
			}
			out = append(out, SFTExample{Prompt: "r:" + s + "|", Target: string(b)})
		}
	}
	return out
}

func TestLearnCopyReverse(t *testing.T) {
	train := copyReverseData(4000, 6, 1)
	seen := map[string]bool{}
	for _, ex := range train {
		seen[ex.Prompt] = true
	}
	var test []SFTExample
	for _, ex := range copyReverseData(2000, 6, 2) {
		if !seen[ex.Prompt] && len(test) < 300 {
			test = append(test, ex)
		}
	}
	m, err := New(Config{Layers: 2, Dim: 48, Heads: 4, Hidden: 96, MaxSeq: 20, Vocab: "abcdefghr:|"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	m, st, err := TrainSFT(context.Background(), m, train, TrainOptions{
		Steps: envInt("GPT_STEPS", 800), BatchSize: 32, LR: 3e-3, Warmup: 50, Seed: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	acc := exactMatch(t, m, test)
	t.Logf("final loss %.4f, held-out exact match %.3f", st.FinalLoss, acc)
	if acc < 0.9 {
		t.Errorf("held-out exact match %.3f < 0.9", acc)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
