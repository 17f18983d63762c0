package gpt

import (
	"context"
	"strings"
	"testing"
)

// abc allows only 'a', 'b' or 'c' and is complete after k characters.
type abc struct {
	k, n int
}

func (c *abc) Allowed(r rune, left int) bool {
	return strings.ContainsRune("abc", r) && c.k-c.n-1 <= left
}
func (c *abc) Push(rune)      { c.n++ }
func (c *abc) Complete() bool { return c.n == c.k }
func (c *abc) MinClose() int  { return c.k - c.n }

func TestConstraint(t *testing.T) {
	m, err := New(Config{Layers: 1, Dim: 16, Heads: 2, MaxSeq: 64}, 5)
	if err != nil {
		t.Fatal(err)
	}
	opts := SampleOptions{Temperature: 1.2, TopP: 0.95, TopK: 40, MaxTokens: 20, Seed: 9, LogProbs: true, Constrain: func() Constraint { return &abc{k: 7} }}
	res, err := m.Generate(context.Background(), []string{"x", "yy"}, 3, opts)
	if err != nil {
		t.Fatal(err)
	}
	var streamed [2][3]strings.Builder
	sres, err := m.GenerateStream(context.Background(), []string{"x", "yy"}, 3, opts, func(cs []Chunk) error {
		for _, c := range cs {
			streamed[c.Prompt][c.Index].WriteString(c.Text)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range res {
		for i, c := range res[p] {
			if len(c.Text) != 7 || strings.Trim(c.Text, "abc") != "" || c.FinishReason != "stop" || c.Tokens != 7 || len(c.TokenLogProbs) != 7 {
				t.Fatalf("sample %d/%d: %+v", p, i, c)
			}
			if sres[p][i].Text != c.Text || streamed[p][i].String() != c.Text {
				t.Fatalf("stream differs: %q %q %q", sres[p][i].Text, streamed[p][i].String(), c.Text)
			}
		}
	}
	opts.MaxTokens = 6
	if _, err := m.Generate(context.Background(), []string{"x"}, 1, opts); err == nil || !strings.Contains(err.Error(), "shortest structured response is 7 tokens, more than the 6") {
		t.Fatalf("budget: %v", err)
	}
}
