package providers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/models/gpt"
	"github.com/ouroloop/ouro/stdlib/structured"
)

var builtinSchemas = []cty.Type{
	cty.Object(map[string]cty.Type{"answer": cty.Number, "reasoning": cty.String}),
	cty.Object(map[string]cty.Type{"ok": cty.Bool}),
	cty.EmptyObject,
	cty.Object(map[string]cty.Type{"steps": cty.List(cty.Object(map[string]cty.Type{"n": cty.Number, "why": cty.String})), "tags": cty.List(cty.String)}),
	cty.Object(map[string]cty.Type{"a": cty.Object(map[string]cty.Type{"b": cty.Object(map[string]cty.Type{"c": cty.List(cty.List(cty.Bool))})})}),
}

// TestBuiltinSchemaAlwaysConforms: constrained decoding makes every
// completion of an untrained model a document of the schema, whatever
// the weights, seed, temperature and budget, and ends it in time.
func TestBuiltinSchemaAlwaysConforms(t *testing.T) {
	for _, vocab := range []string{"", " {}[]\",:0123456789.-E\\abcdefghijklmnopqrstuvwxyz"} {
		for wseed := uint64(1); wseed <= 2; wseed++ {
			m, err := gpt.New(gpt.Config{Layers: 1, Dim: 16, Heads: 2, MaxSeq: 160, Vocab: vocab}, wseed)
			if err != nil {
				t.Fatal(err)
			}
			lm := &BuiltinLM{Model: m, Digest: "test"}
			for si, st := range builtinSchemas {
				n, err := structured.FromType(st)
				if err != nil {
					t.Fatal(err)
				}
				for _, tc := range []struct {
					temp float64
					max  int
				}{{1.5, 120}, {1, 40}, {0, 60}, {0.7, structured.Compile(n).MinLength()}} {
					var reqs []runtime.GenRequest
					for i := 0; i < 3; i++ {
						reqs = append(reqs, runtime.GenRequest{Prompt: fmt.Sprintf("Q%d:", i), N: 4, Temperature: tc.temp, TopP: 1, MaxTokens: tc.max, Seed: uint64(10*si + i), Schema: n.JSON()})
					}
					res, err := lm.Generate(context.Background(), reqs)
					if err != nil {
						t.Fatalf("vocab %q schema %d max %d: %v", vocab, si, tc.max, err)
					}
					for _, cs := range res {
						for _, c := range cs {
							if _, err := structured.Decode(c.Text, n); err != nil || c.FinishReason != "stop" || c.Tokens > tc.max {
								t.Fatalf("vocab %q schema %d temp %g max %d: %q (%s, %d tokens): %v", vocab, si, tc.temp, tc.max, c.Text, c.FinishReason, c.Tokens, err)
							}
						}
					}
					again, _ := lm.Generate(context.Background(), reqs)
					if fmt.Sprint(again) != fmt.Sprint(res) {
						t.Fatal("not deterministic")
					}
				}
			}
		}
	}
}

func TestBuiltinSchemaRefusals(t *testing.T) {
	n, _ := structured.FromType(builtinSchemas[0])
	for _, tc := range []struct {
		vocab, want string
		max         int
	}{
		{"0123456789 abc", `has no '{'`, 40},
		{"", `builtin model d: request 0 ("1"): the shortest document of the schema is 27 tokens, more than the 20 this request leaves`, 20},
	} {
		m, _ := gpt.New(gpt.Config{Layers: 1, Dim: 16, Heads: 2, MaxSeq: 64, Vocab: tc.vocab}, 1)
		_, err := (&BuiltinLM{Model: m, Digest: "d"}).Generate(context.Background(), []runtime.GenRequest{{Prompt: "1", N: 1, Temperature: 1, TopP: 1, MaxTokens: tc.max, Schema: n.JSON()}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("vocab %q: err = %v, want %q", tc.vocab, err, tc.want)
		}
	}
	m, _ := gpt.New(gpt.Config{Layers: 1, Dim: 16, Heads: 2, MaxSeq: 64}, 1)
	_, err := (&BuiltinLM{Model: m, Digest: "d"}).Generate(context.Background(), []runtime.GenRequest{{Prompt: "1", N: 1, MaxTokens: 9, Schema: []byte(`{"type":"object","properties":{"a":{"type":"string","enum":["x"]}}}`)}})
	if err == nil || !strings.Contains(err.Error(), `unsupported JSON Schema keyword "enum" at properties.a`) {
		t.Errorf("enum: %v", err)
	}
}
