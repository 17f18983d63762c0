// Command ollamacheck trains a small builtin checkpoint and compares the
// builtin greedy sampler with Ollama serving the same checkpoint exported to
// GGUF. Used by bench/ollama/export_check.sh.
//
//	ollamacheck train -o model.safetensors
//	ollamacheck compare -checkpoint model.safetensors -url http://127.0.0.1:11434 -model ouro-export
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"time"

	"github.com/ouroloop/ouro/stdlib/models/gpt"
)

func main() {
	log.SetFlags(0)
	if len(os.Args) < 2 {
		log.Fatal("usage: ollamacheck train|compare [flags]")
	}
	switch os.Args[1] {
	case "train":
		train(os.Args[2:])
	case "compare":
		compare(os.Args[2:])
	default:
		log.Fatalf("unknown command %q", os.Args[1])
	}
}

const letters = "abcdefghijklmnopqrstuvwxyz"

func word(r *rand.Rand, lo, hi int) string {
	b := make([]byte, lo+r.IntN(hi-lo+1))
	for i := range b {
		b[i] = letters[r.IntN(len(letters))]
	}
	return string(b)
}

func reverse(s string) string {
	r := []byte(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// example is one task of the toy mix the checkpoint learns: reverse a
// word, or copy two words with a space and a newline (so the vocabulary's
// space and newline pieces are exercised).
func example(r *rand.Rand) gpt.SFTExample {
	if r.IntN(2) == 0 {
		w := word(r, 3, 8)
		return gpt.SFTExample{Prompt: "reverse " + w + "\n", Target: reverse(w)}
	}
	a, b := word(r, 2, 6), word(r, 2, 6)
	return gpt.SFTExample{Prompt: "copy " + a + " " + b + "\n", Target: a + " " + b + "\n" + a}
}

// jsonExample is the task structured_check.sh's checkpoint also learns:
// a word's length and its reverse as the compact JSON document of
// bench/ollama/structured's schema.
func jsonExample(r *rand.Rand) gpt.SFTExample {
	w := word(r, 3, 8)
	return gpt.SFTExample{Prompt: "json " + w + "\n", Target: fmt.Sprintf(`{"answer":%d,"word":"%s"}`, len(w), reverse(w))}
}

func train(args []string) {
	fs := flag.NewFlagSet("train", flag.ExitOnError)
	out := fs.String("o", "model.safetensors", "checkpoint to write")
	steps := fs.Int("steps", 400, "SFT steps")
	withJSON := fs.Bool("json", false, "add the json task (a third of the data)")
	fs.Parse(args)
	m, err := gpt.New(gpt.Config{Layers: 2, Dim: 64, Heads: 4, MaxSeq: 128}, 1)
	if err != nil {
		log.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]gpt.SFTExample, 4000)
	for i := range data {
		if *withJSON && i%3 == 2 {
			data[i] = jsonExample(r)
		} else {
			data[i] = example(r)
		}
	}
	t0 := time.Now()
	m, st, err := gpt.TrainSFT(context.Background(), m, data, gpt.TrainOptions{Steps: *steps, BatchSize: 32, LR: 3e-3, Warmup: 20, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Save(f); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("trained %d steps in %.1fs, final loss %.3f: %s %s\n", st.Steps, time.Since(t0).Seconds(), st.FinalLoss, *out, m.Digest())
}

// prompts are held-out tasks of the training mix plus free text the model
// never saw (its greedy continuations are arbitrary, which is the point:
// they test the two implementations, not the model). The seventh free text
// is prompt 20, so -n 21 and more include it.
func prompts(n int) []string {
	r := rand.New(rand.NewPCG(99, 100))
	free := []string{"Hello, world! ", "The quick brown fox", "x = 1 + 2 * 3;\n", "  two  spaces ", "{\"a\": [1, 2]}", "~`!@#$%^&*()_+-=[]{}|;':\",./<>?",
		// Characters outside the vocabulary: ouro's UNK; the byte-fallback
		// pieces of the export in llama.cpp (without them it aborts).
		"tab\there\r\n"}
	var out []string
	for i := 0; len(out) < n; i++ {
		switch {
		case i%3 == 2 && i/3 < len(free):
			out = append(out, free[i/3])
		default:
			out = append(out, example(r).Prompt)
		}
	}
	return out
}

type ollamaReq struct {
	Model   string         `json:"model"`
	Prompt  string         `json:"prompt"`
	Raw     bool           `json:"raw"`
	Stream  bool           `json:"stream"`
	Options map[string]any `json:"options"`
}

type ollamaResp struct {
	Response   string `json:"response"`
	DoneReason string `json:"done_reason"`
	EvalCount  int    `json:"eval_count"`
	PromptEval int    `json:"prompt_eval_count"`
	Error      string `json:"error"`
}

func compare(args []string) {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	ckpt := fs.String("checkpoint", "model.safetensors", "the builtin checkpoint")
	url := fs.String("url", "http://127.0.0.1:11434", "Ollama's address")
	model := fs.String("model", "ouro-export", "the Ollama model made from the exported GGUF")
	n := fs.Int("n", 20, "prompts")
	maxTok := fs.Int("max-tokens", 24, "tokens per completion")
	fs.Parse(args)
	f, err := os.Open(*ckpt)
	if err != nil {
		log.Fatal(err)
	}
	m, err := gpt.Load(f)
	f.Close()
	if err != nil {
		log.Fatal(err)
	}
	ps := prompts(*n)
	t0 := time.Now()
	ours, err := m.Generate(context.Background(), ps, 1, gpt.SampleOptions{Temperature: 0, MaxTokens: *maxTok})
	if err != nil {
		log.Fatal(err)
	}
	ouroTime := time.Since(t0)
	same := 0
	var ollamaTime time.Duration
	for i, p := range ps {
		body, _ := json.Marshal(ollamaReq{Model: *model, Prompt: p, Raw: true, Options: map[string]any{
			"temperature": 0, "top_k": 1, "top_p": 1, "min_p": 0, "repeat_penalty": 1, "repeat_last_n": 0,
			"presence_penalty": 0, "frequency_penalty": 0, "num_predict": *maxTok, "seed": 0, "num_ctx": m.Config().MaxSeq,
		}})
		t1 := time.Now()
		resp, err := http.Post(*url+"/api/generate", "application/json", bytes.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		var or ollamaResp
		err = json.NewDecoder(resp.Body).Decode(&or)
		resp.Body.Close()
		ollamaTime += time.Since(t1)
		if err != nil || or.Error != "" {
			log.Fatalf("prompt %d: %v %s", i, err, or.Error)
		}
		o := ours[i][0]
		// Ollama reports "stop" for EOS and "length" at num_predict, as ouro
		// does; its eval_count counts the generated tokens, EOS included.
		ok := o.Text == or.Response && o.FinishReason == or.DoneReason
		mark := "same"
		if ok {
			same++
		} else {
			mark = "DIFF"
		}
		fmt.Printf("%2d %s prompt=%q\n   ouro   %-6s %2d tok %q\n   ollama %-6s %2d tok %q (prompt %d tok)\n", i, mark, p, o.FinishReason, o.Tokens, o.Text, or.DoneReason, or.EvalCount, or.Response, or.PromptEval)
	}
	fmt.Printf("%d of %d greedy completions identical (ouro %.2fs for all, ollama %.2fs)\n", same, len(ps), ouroTime.Seconds(), ollamaTime.Seconds())
	if same != len(ps) {
		os.Exit(1)
	}
}
