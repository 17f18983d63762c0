// Command addition3 trains the builtin model from scratch on 3-digit
// addition with the answer reversed ("123+489=" -> "2160": 612 reversed,
// zero-padded to 4 digits) and reports held-out exact match, steps, wall
// time and tokens/s. The numbers are recorded in docs/performance.md.
//
//	go run ./bench/gpt/addition3
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/ouroloop/ouro/stdlib/models/gpt"
)

func problem(a, b int) gpt.SFTExample {
	s := []byte(fmt.Sprintf("%04d", a+b))
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	return gpt.SFTExample{Prompt: fmt.Sprintf("%03d+%03d=", a, b), Target: string(s)}
}

func main() {
	layers := flag.Int("layers", 3, "")
	dim := flag.Int("dim", 96, "")
	hidden := flag.Int("hidden", 256, "")
	steps := flag.Int("steps", 4000, "")
	batch := flag.Int("batch", 64, "")
	lr := flag.Float64("lr", 3e-3, "")
	flag.Parse()
	r := rand.New(rand.NewPCG(3, 3))
	heldOut := map[[2]int]bool{}
	var test []gpt.SFTExample
	for len(test) < 2000 {
		k := [2]int{r.IntN(1000), r.IntN(1000)}
		if !heldOut[k] {
			heldOut[k] = true
			test = append(test, problem(k[0], k[1]))
		}
	}
	var train []gpt.SFTExample
	for len(train) < 200000 {
		k := [2]int{r.IntN(1000), r.IntN(1000)}
		if !heldOut[k] {
			train = append(train, problem(k[0], k[1]))
		}
	}
	m, err := gpt.New(gpt.Config{Layers: *layers, Dim: *dim, Heads: 4, Hidden: *hidden, MaxSeq: 16, Vocab: "0123456789+="}, 1)
	if err != nil {
		log.Fatal(err)
	}
	start := time.Now()
	m, st, err := gpt.TrainSFT(context.Background(), m, train, gpt.TrainOptions{
		Steps: *steps, BatchSize: *batch, LR: *lr, Warmup: 100, WeightDecay: 0.01, Seed: 1,
		Log: func(step int, loss float64) {
			if step%500 == 0 {
				log.Printf("step %d loss %.4f", step, loss)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	trainTime := time.Since(start)
	prompts := make([]string, len(test))
	for i, ex := range test {
		prompts[i] = ex.Prompt
	}
	t0 := time.Now()
	out, err := m.Generate(context.Background(), prompts, 1, gpt.SampleOptions{MaxTokens: 6})
	if err != nil {
		log.Fatal(err)
	}
	ok := 0
	for i, ex := range test {
		if out[i][0].Text == ex.Target {
			ok++
		}
	}
	fmt.Printf("model: %d layers, dim %d, hidden %d, %d params, %d cores\n", *layers, *dim, *hidden, m.NumParams(), runtime.GOMAXPROCS(0))
	fmt.Printf("training: %d steps x batch %d, %d tokens, %.1fs, %.0f tokens/s, final loss %.5f\n",
		st.Steps, *batch, st.Tokens, trainTime.Seconds(), float64(st.Tokens)/trainTime.Seconds(), st.FinalLoss)
	fmt.Printf("held-out exact match: %d/%d = %.2f%% (greedy decoding of %d problems in %.1fs)\n",
		ok, len(test), 100*float64(ok)/float64(len(test)), len(test), time.Since(t0).Seconds())
	fmt.Printf("digest: %s\n", m.Digest())
}
