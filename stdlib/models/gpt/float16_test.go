package gpt

import (
	"context"
	"math"
	"testing"
)

func TestFloat16Round(t *testing.T) {
	for _, c := range []struct{ in, want float32 }{
		{1, 1},
		{0.1, 0.0999755859375},
		{1 + 1.0/2048, 1},                        // a tie: to even
		{1 + 3.0/2048, 1 + 4.0/2048},             // a tie: to even, upwards
		{1 + 1.0/2048 + 1.0/65536, 1 + 1.0/1024}, // just past the tie
		{-2.5e-3, -1311.0 / (1 << 19)},           // 1311 × 2^-19
		{65504, 65504},
		{65519, 65504},
		{65520, float32(math.Inf(1))},
		{1e-7, 1.0 / (1 << 23)}, // subnormal: a multiple of 2^-24
		{3e-8, 1.0 / (1 << 24)},
		{2e-8, 0},
		{0, 0},
	} {
		if got := float16Round(c.in); got != c.want {
			t.Errorf("float16Round(%g) = %.17g, want %.17g", c.in, got, c.want)
		}
	}
}

// Float16 attention changes sampling only: the checkpoint, its digest and
// LogProb stay the model's, and greedy completions still come out.
func TestFloat16AttentionSamplesOnly(t *testing.T) {
	m, err := New(Config{Layers: 2, Dim: 32, Heads: 4, MaxSeq: 48}, 9)
	if err != nil {
		t.Fatal(err)
	}
	h := m.WithFloat16Attention()
	if h.Digest() != m.Digest() {
		t.Fatal("float16 attention changed the digest")
	}
	a, _, _ := m.LogProb("ab", "cd")
	b, _, _ := h.LogProb("ab", "cd")
	if a != b {
		t.Errorf("LogProb %v vs %v", a, b)
	}
	// Sampling does round: the log-probabilities of the same greedy
	// tokens differ, but only by float16's rounding (relative error 2⁻¹¹
	// in Q, K, V and the weights; here far below 0.05 nats per token).
	ctx := context.Background()
	opts := SampleOptions{Temperature: 0, MaxTokens: 12, LogProbs: true}
	prompts := []string{"hello ", "Q: 1+1\nA:", "abc", "the end"}
	x, err := m.Generate(ctx, prompts, 1, opts)
	if err != nil {
		t.Fatal(err)
	}
	y, err := h.Generate(ctx, prompts, 1, opts)
	if err != nil {
		t.Fatal(err)
	}
	differ, compared := 0, 0
	for i := range x {
		c32, c16 := x[i][0], y[i][0]
		if c32.Text != c16.Text {
			continue // a near tie went the other way; nothing to compare
		}
		compared++
		if c32.LogProb != c16.LogProb {
			differ++
		}
		if d := math.Abs(c32.LogProb - c16.LogProb); d > 0.05*float64(c32.Tokens+1) {
			t.Errorf("prompt %q: logprob %v (float32) vs %v (float16): %v apart", prompts[i], c32.LogProb, c16.LogProb, d)
		}
	}
	if compared == 0 || differ == 0 {
		t.Errorf("%d of %d same-text completions have a different logprob: float16 rounding not applied to sampling", differ, compared)
	}
}
