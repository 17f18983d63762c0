// Command ourohash trains and samples a few fixed configurations of the
// builtin model and prints one SHA-256 per configuration over the trained
// checkpoint bytes, the losses and the sampled text. A change to the
// kernels that is meant to be bit-identical must leave every line
// unchanged (run it with and without OURO_GPT_NOASM=1, at GOMAXPROCS=1 and
// at all cores).
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"log"
	"math"
	"math/rand/v2"

	"github.com/ouroloop/ouro/stdlib/models/gpt"
)

func main() {
	configs := []struct {
		name        string
		cfg         gpt.Config
		batch, step int
	}{
		{"small", gpt.Config{Layers: 2, Dim: 64, Heads: 4, Hidden: 128, MaxSeq: 16}, 32, 4},
		{"medium", gpt.Config{Layers: 4, Dim: 128, Heads: 4, Hidden: 344, MaxSeq: 64}, 16, 3},
		{"odd-nope", gpt.Config{Layers: 2, Dim: 36, Heads: 3, Hidden: 100, MaxSeq: 23, Positions: "none"}, 7, 4},
		{"odd-rope", gpt.Config{Layers: 3, Dim: 44, Heads: 2, Hidden: 77, MaxSeq: 37}, 5, 4},
		{"large", gpt.Config{Layers: 2, Dim: 256, Heads: 8, Hidden: 688, MaxSeq: 128}, 4, 2},
	}
	ctx := context.Background()
	for _, c := range configs {
		m, err := gpt.New(c.cfg, 7)
		if err != nil {
			log.Fatal(err)
		}
		vocab := []rune(m.Config().Vocab)
		r := rand.New(rand.NewPCG(3, 4))
		data := make([]gpt.SFTExample, 64)
		for i := range data {
			n := 1 + r.IntN(c.cfg.MaxSeq-3)
			b := make([]rune, n)
			for j := range b {
				b[j] = vocab[r.IntN(len(vocab))]
			}
			p := r.IntN(n)
			data[i] = gpt.SFTExample{Prompt: string(b[:p]), Target: string(b[p:])}
		}
		opts := gpt.TrainOptions{Steps: c.step, BatchSize: c.batch, LR: 3e-3, WeightDecay: 0.01, Warmup: 1, Seed: 5}
		tm, st, err := gpt.TrainSFT(ctx, m, data, opts)
		if err != nil {
			log.Fatal(err)
		}
		pairs := []gpt.DPOPair{{Prompt: data[0].Prompt, Chosen: data[0].Target, Rejected: data[1].Target}, {Prompt: data[2].Prompt, Chosen: data[3].Target, Rejected: data[2].Target}}
		dm, dst, err := gpt.TrainDPO(ctx, tm, m, pairs, gpt.TrainOptions{Steps: 2, BatchSize: 2, Seed: 1})
		if err != nil {
			log.Fatal(err)
		}
		h := sha256.New()
		for _, mm := range []*gpt.Model{tm, dm} {
			var buf bytes.Buffer
			if err := mm.Save(&buf); err != nil {
				log.Fatal(err)
			}
			h.Write(buf.Bytes())
		}
		for _, l := range append(st.Losses, dst.Losses...) {
			binary.Write(h, binary.LittleEndian, math.Float64bits(l))
		}
		out, err := tm.Generate(ctx, []string{"", data[0].Prompt}, 3, gpt.SampleOptions{Temperature: 1, MaxTokens: c.cfg.MaxSeq - 2, Seed: 9})
		if err != nil {
			log.Fatal(err)
		}
		for _, cs := range out {
			for _, cc := range cs {
				fmt.Fprintf(h, "%q|", cc.Text)
			}
		}
		lp, per, err := tm.LogProb(data[4].Prompt, data[4].Target)
		if err != nil {
			log.Fatal(err)
		}
		binary.Write(h, binary.LittleEndian, math.Float64bits(lp))
		for _, p := range per {
			binary.Write(h, binary.LittleEndian, math.Float64bits(p))
		}
		fmt.Printf("%-9s %x loss %.6f\n", c.name, h.Sum(nil), st.Losses[len(st.Losses)-1])
	}
}
