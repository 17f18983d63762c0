// Command ourobench measures the builtin model's training and sampling
// throughput on a fixed workload, and writes a checkpoint plus reference
// log-probabilities so that torch_bench.py can check it runs the identical
// architecture. Used by bench/gpt/compare.sh.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/ouroloop/ouro/stdlib/models/gpt"
)

func main() {
	layers := flag.Int("layers", 4, "")
	dim := flag.Int("dim", 128, "")
	heads := flag.Int("heads", 4, "")
	hidden := flag.Int("hidden", 344, "")
	seq := flag.Int("seq", 64, "sequence length in tokens (BOS+text+EOS)")
	batch := flag.Int("batch", 16, "")
	steps := flag.Int("steps", 20, "timed training steps")
	samples := flag.Int("samples", 16, "sequences sampled together")
	dir := flag.String("out", "", "directory for model.safetensors and ref.json")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed training and sampling")
	flag.Parse()
	cfg := gpt.Config{Layers: *layers, Dim: *dim, Heads: *heads, Hidden: *hidden, MaxSeq: *seq, Positions: "rope"}
	m, err := gpt.New(cfg, 1)
	if err != nil {
		log.Fatal(err)
	}
	vocab := []rune(m.Config().Vocab)
	r := rand.New(rand.NewPCG(1, 2))
	text := func() string {
		b := make([]rune, *seq-2)
		for i := range b {
			b[i] = vocab[1+r.IntN(len(vocab)-1)]
		}
		return string(b)
	}
	if *dir != "" {
		f, err := os.Create(filepath.Join(*dir, "model.safetensors"))
		if err != nil {
			log.Fatal(err)
		}
		if err := m.Save(f); err != nil {
			log.Fatal(err)
		}
		f.Close()
		t := text()
		total, per, err := m.LogProb("", t)
		if err != nil {
			log.Fatal(err)
		}
		b, _ := json.Marshal(map[string]any{"text": t, "total": total, "per_token": per})
		if err := os.WriteFile(filepath.Join(*dir, "ref.json"), b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	data := make([]gpt.SFTExample, 256)
	for i := range data {
		data[i] = gpt.SFTExample{Target: text()}
	}
	ctx := context.Background()
	opts := gpt.TrainOptions{Steps: 2, BatchSize: *batch, LR: 1e-3, WeightDecay: 0.01, Seed: 1}
	if _, _, err := gpt.TrainSFT(ctx, m, data, opts); err != nil { // warm up
		log.Fatal(err)
	}
	opts.Steps = *steps
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	t0, c0 := time.Now(), cpuSeconds()
	_, st, err := gpt.TrainSFT(ctx, m, data, opts)
	if err != nil {
		log.Fatal(err)
	}
	trainSec, trainCPU := time.Since(t0).Seconds(), cpuSeconds()-c0
	// Sampling: `samples` sequences of up to seq-2 tokens from BOS.
	sopts := gpt.SampleOptions{Temperature: 1, MaxTokens: *seq - 2, Seed: 1}
	m.Generate(ctx, []string{""}, 2, sopts) // warm up
	t0 = time.Now()
	out, err := m.Generate(ctx, []string{""}, *samples, sopts)
	if err != nil {
		log.Fatal(err)
	}
	sampleSec := time.Since(t0).Seconds()
	gen := 0
	for _, c := range out[0] {
		gen += c.Tokens
	}
	res := map[string]any{
		"impl": "ouro", "threads": runtime.GOMAXPROCS(0), "params": m.NumParams(),
		"train_tokens_per_s": float64(st.Tokens) / trainSec, "train_step_ms": 1000 * trainSec / float64(*steps),
		"train_step_cpu_ms":   1000 * trainCPU / float64(*steps),
		"sample_tokens_per_s": float64(gen) / sampleSec, "sampled_tokens": gen,
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
}

// cpuSeconds is the process's user and system CPU time so far: with
// GOMAXPROCS=1, a step's CPU time is its wall time without the time other
// programs on a shared machine took the core.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
