package serve

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/providers"
)

// BenchmarkOpenAIGenerate is the in-process part of run.sh: the openai
// provider's Generate, in chunks of 256 requests at concurrency 64, against
// an instant-reply loopback server in the same process.
//
//	go test ./bench/serve -run '^$' -bench OpenAIGenerate -cpuprofile cpu.out
//	go tool pprof -top -cum cpu.out
func BenchmarkOpenAIGenerate(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"x","object":"text_completion","created":0,"model":"instant","choices":[{"index":0,"text":"42","logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	}))
	defer srv.Close()
	lm := providers.NewOpenAILM(providers.OpenAIConfig{
		BaseURL: srv.URL + "/v1", Name: "instant", API: "completions",
		Concurrency: 64, Timeout: "60s", MaxRetries: 6,
	}, "", nil)
	reqs := make([]runtime.GenRequest, 256)
	for i := range reqs {
		reqs[i] = runtime.GenRequest{Prompt: fmt.Sprintf("say item %d:", i), N: 1, Temperature: 1, TopP: 1, MaxTokens: 8, Seed: 123}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		out, err := lm.Generate(ctx, reqs)
		if err != nil {
			b.Fatal(err)
		}
		if len(out) != len(reqs) || out[0][0].Text != "42" {
			b.Fatalf("bad answer %v", out[0])
		}
	}
	b.ReportMetric(float64(b.N*len(reqs))/b.Elapsed().Seconds(), "req/s")
}
