// Command clientloop is the ceiling ladder of bench/serve/run.sh: it sends
// the same completion requests ouro's `generate` sends, from a bare Go loop,
// so the script can tell how much of ouro's request rate the HTTP client
// allows before ouro's own work (memo, dataset, templates) is counted.
//
//	go run ./bench/serve/clientloop -url http://127.0.0.1:8099/v1 -mode openai
//
// Modes, each with -c workers over keep-alive connections:
//
//	nethttp   net/http alone, sending the request openai-go sends (same
//	          headers and body), reading the answer
//	openai    the official client (openai-go), configured as the openai
//	          provider configures it, Client.Post with the encoded body
//	provider  ouro's openai provider (providers.OpenAILM.Generate) in chunks
//	          of 256 requests: retries, limits and answer decoding included,
//	          no runtime, memo or dataset
//
// It prints one line: mode, requests, seconds, requests per second.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/providers"
)

func main() {
	baseURL := flag.String("url", "http://127.0.0.1:8099/v1", "the server's base URL")
	mode := flag.String("mode", "openai", "nethttp, openai or provider")
	n := flag.Int("n", 20000, "requests to send")
	conc := flag.Int("c", 64, "concurrent requests")
	flag.Parse()

	body := func(i int) []byte {
		return fmt.Appendf(nil, `{"model":"instant","prompt":"say item %d:","n":1,"temperature":1,"top_p":1,"max_tokens":8,"seed":%d}`, i, 1000003*i)
	}
	cfg := providers.OpenAIConfig{BaseURL: *baseURL, Name: "instant", API: "completions", Concurrency: *conc, Timeout: "60s", MaxRetries: 6}
	var send func(i int) error
	switch *mode {
	case "nethttp":
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = *conc
		client := &http.Client{Transport: tr}
		url := strings.TrimRight(*baseURL, "/") + "/completions"
		header := openaiHeaders(*baseURL)
		send = func(i int) error {
			req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body(i)))
			if err != nil {
				return err
			}
			for k, v := range header {
				req.Header[k] = v
			}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if _, err := io.ReadAll(resp.Body); err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status %s", resp.Status)
			}
			return nil
		}
	case "openai":
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = *conc
		client := openai.NewClient(option.WithBaseURL(*baseURL), option.WithMaxRetries(0), option.WithAPIKey("none"),
			option.WithHTTPClient(&http.Client{Transport: tr}), option.WithMiddleware(inMemoryBody))
		send = func(i int) error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var raw []byte
			return client.Post(ctx, "completions", body(i), &raw)
		}
	case "provider":
		lm := providers.NewOpenAILM(cfg, "", nil)
		start := time.Now()
		for lo := 0; lo < *n; lo += 256 {
			reqs := make([]runtime.GenRequest, min(256, *n-lo))
			for j := range reqs {
				reqs[j] = runtime.GenRequest{Prompt: fmt.Sprintf("say item %d:", lo+j), N: 1, Temperature: 1, TopP: 1, MaxTokens: 8, Seed: uint64(1000003 * (lo + j))}
			}
			if _, err := lm.Generate(context.Background(), reqs); err != nil {
				log.Fatal(err)
			}
		}
		report(*mode, *n, time.Since(start))
		return
	default:
		log.Fatalf("unknown mode %q (want nethttp, openai or provider)", *mode)
	}

	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *n {
					return
				}
				if err := send(i); err != nil {
					log.Fatalf("request %d: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
	report(*mode, *n, time.Since(start))
}

func report(mode string, n int, d time.Duration) {
	fmt.Printf("%s %d %.3f %.0f\n", mode, n, d.Seconds(), float64(n)/d.Seconds())
}

// openaiHeaders are the headers openai-go sends with a completion request
// (Host and Content-Length aside, which net/http writes itself), taken
// from the client itself: a middleware records them and answers without
// sending anything.
func openaiHeaders(baseURL string) http.Header {
	var header http.Header
	capture := func(req *http.Request, _ option.MiddlewareNext) (*http.Response, error) {
		header = req.Header.Clone()
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("{}")), Request: req}, nil
	}
	client := openai.NewClient(option.WithBaseURL(baseURL), option.WithMaxRetries(0), option.WithAPIKey("none"), option.WithMiddleware(capture))
	var raw []byte
	if err := client.Post(context.Background(), "completions", []byte(`{}`), &raw); err != nil || header == nil {
		log.Fatalf("capturing openai-go's headers: %v", err)
	}
	return header
}

// inMemoryBody hands net/http the request body as the in-memory reader
// GetBody returns, instead of openai-go's per-attempt wrapper: net/http
// flushes the headers in a write of their own before a body it does not
// know to be in memory, so each request would cost two write system calls
// instead of one. (The provider builds its requests on a bytes.Reader, so
// it needs no such step.)
func inMemoryBody(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		if b, err := req.GetBody(); err == nil {
			req.Body = b
		}
	}
	return next(req)
}
