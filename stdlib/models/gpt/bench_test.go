package gpt

import (
	"context"
	"testing"
)

func benchData() []SFTExample {
	train, _ := additionData(2, 0, false, true, 1)
	return train
}

// BenchmarkTrainStep: one SFT step, batch 32 of addition problems
// (2 layers, dim 64), reporting tokens/s.
func BenchmarkTrainStep(b *testing.B) {
	m, _ := New(Config{Layers: 2, Dim: 64, Heads: 4, Hidden: 128, MaxSeq: 12, Vocab: "0123456789+="}, 1)
	data := benchData()
	b.ResetTimer()
	_, st, err := TrainSFT(context.Background(), m, data, TrainOptions{Steps: b.N, BatchSize: 32, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.Tokens)/b.Elapsed().Seconds(), "tok/s")
}

// BenchmarkTrainStepMedium: one SFT step of compare.sh's medium workload
// (4 layers, dim 128, hidden 344, RoPE, batch 16 sequences of 64 tokens),
// reporting tokens/s.
func BenchmarkTrainStepMedium(b *testing.B) {
	m, _ := New(Config{Layers: 4, Dim: 128, Heads: 4, Hidden: 344, MaxSeq: 64}, 1)
	vocab := []rune(m.Config().Vocab)
	r := newRNG(1)
	data := make([]SFTExample, 64)
	for i := range data {
		t := make([]rune, 62)
		for j := range t {
			t[j] = vocab[1+r.intn(len(vocab)-1)]
		}
		data[i] = SFTExample{Target: string(t)}
	}
	b.ResetTimer()
	_, st, err := TrainSFT(context.Background(), m, data, TrainOptions{Steps: b.N, BatchSize: 16, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.Tokens)/b.Elapsed().Seconds(), "tok/s")
}

func BenchmarkMatmul256(b *testing.B) {
	const m, n, k = 256, 256, 256
	a, w, c := make([]float32, m*k), make([]float32, n*k), make([]float32, m*n)
	for i := range a {
		a[i], w[i] = float32(i%7)*0.1, float32(i%5)*0.1
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		matmulNT(c, a, w, m, n, k, false)
	}
	b.ReportMetric(2*m*n*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}

// BenchmarkGenerate: 8 samples of up to 60 tokens from a 2-layer, dim-64
// model with temperature, top-p and a stop string, reporting tokens/s.
func BenchmarkGenerate(b *testing.B) { benchGenerate(b, nil) }

// BenchmarkGenerateStream: BenchmarkGenerate through GenerateStream with
// an emit that only counts chunks (the hold-back and chunk overhead).
func BenchmarkGenerateStream(b *testing.B) {
	chunks := 0
	benchGenerate(b, func(cs []Chunk) error { chunks += len(cs); return nil })
}

func benchGenerate(b *testing.B, emit func([]Chunk) error) {
	m, _ := New(Config{Layers: 2, Dim: 64, Heads: 4, MaxSeq: 64}, 1)
	opts := SampleOptions{Temperature: 1, TopP: 0.95, MaxTokens: 60, Stop: []string{"\n\n"}, Seed: 1}
	ctx := context.Background()
	toks := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		opts.Seed = uint64(i)
		res, err := m.GenerateStream(ctx, []string{"ab"}, 8, opts, emit)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range res[0] {
			toks += c.Tokens
		}
	}
	b.ReportMetric(float64(toks)/b.Elapsed().Seconds(), "tok/s")
}
