package gpt

import (
	"fmt"
	"unicode/utf8"
)

// Config describes the architecture and the tokenizer of a model. It is saved
// in the checkpoint, so a loaded model always knows its own shape.
type Config struct {
	Layers int `json:"layers"`  // number of transformer blocks
	Dim    int `json:"dim"`     // model (residual stream) width
	Heads  int `json:"heads"`   // attention heads; Dim must be a multiple of Heads
	Hidden int `json:"hidden"`  // SwiGLU inner width; 0 = 8*Dim/3 rounded up to a multiple of 8
	MaxSeq int `json:"max_seq"` // longest sequence in tokens, BOS and EOS included

	// Positions is "rope" (rotary embeddings, LLaMA style) or "none" (NoPE:
	// the causal mask alone carries order). "" means "rope".
	Positions string `json:"positions"`
	// Vocab lists the characters the tokenizer knows, each once. "" means
	// printable ASCII (0x20..0x7e) plus '\n'.
	Vocab string `json:"vocab"`
}

// DefaultVocab is the vocabulary used when Config.Vocab is empty.
var DefaultVocab = func() string {
	b := []byte{'\n'}
	for c := byte(0x20); c < 0x7f; c++ {
		b = append(b, c)
	}
	return string(b)
}()

// Limits that keep a config (and a checkpoint read from an untrusted file)
// within what this package is built for.
const (
	maxLayers = 64
	maxDim    = 4096
	maxHidden = 16384
	maxSeqLen = 8192
	maxVocab  = 65536
	maxParams = 200_000_000
)

// normalized returns cfg with defaults filled in, or an error.
func (c Config) normalized() (Config, error) {
	if c.Positions == "" {
		c.Positions = "rope"
	}
	if c.Vocab == "" {
		c.Vocab = DefaultVocab
	}
	if c.Hidden == 0 && c.Dim > 0 {
		c.Hidden = (8*c.Dim/3 + 7) / 8 * 8
	}
	switch {
	case c.Layers < 1 || c.Layers > maxLayers:
		return c, fmt.Errorf("gpt: layers must be in 1..%d, got %d", maxLayers, c.Layers)
	case c.Dim < 1 || c.Dim > maxDim:
		return c, fmt.Errorf("gpt: dim must be in 1..%d, got %d", maxDim, c.Dim)
	case c.Heads < 1 || c.Dim%c.Heads != 0:
		return c, fmt.Errorf("gpt: heads must be >= 1 and divide dim %d, got %d", c.Dim, c.Heads)
	case c.Hidden < 1 || c.Hidden > maxHidden:
		return c, fmt.Errorf("gpt: hidden must be in 1..%d, got %d", maxHidden, c.Hidden)
	case c.MaxSeq < 2 || c.MaxSeq > maxSeqLen:
		return c, fmt.Errorf("gpt: max_seq must be in 2..%d, got %d", maxSeqLen, c.MaxSeq)
	case c.Positions != "rope" && c.Positions != "none":
		return c, fmt.Errorf("gpt: positions must be \"rope\" or \"none\", got %q", c.Positions)
	case c.Positions == "rope" && (c.Dim/c.Heads)%2 != 0:
		return c, fmt.Errorf("gpt: rope needs an even head size, got %d", c.Dim/c.Heads)
	}
	if !utf8.ValidString(c.Vocab) {
		return c, fmt.Errorf("gpt: vocab is not valid UTF-8")
	}
	seen := map[rune]bool{}
	for _, r := range c.Vocab {
		if seen[r] {
			return c, fmt.Errorf("gpt: vocab lists %q twice", r)
		}
		seen[r] = true
	}
	if len(seen)+numSpecial > maxVocab {
		return c, fmt.Errorf("gpt: vocab too large (%d characters)", len(seen))
	}
	if n := c.numParams(); n > maxParams {
		return c, fmt.Errorf("gpt: %d parameters exceed the limit of %d", n, maxParams)
	}
	return c, nil
}

func (c Config) vocabSize() int { return utf8.RuneCountInString(c.Vocab) + numSpecial }

func (c Config) numParams() int {
	v, d, h := c.vocabSize(), c.Dim, c.Hidden
	return 2*v*d + d + c.Layers*(2*d+4*d*d+3*d*h)
}
