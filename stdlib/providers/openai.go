package providers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/params"
)

// OpenAI is the provider of OpenAI-compatible servers (vLLM, llama.cpp,
// Ollama, TGI, OpenAI, `ouro serve`), over net/http (see OpenAILM.post).
type OpenAI struct{}

func (*OpenAI) Name() string { return "openai" }
func (*OpenAI) Version() int { return 1 }

// OpenAIConfig is the canonical configuration of an openai model value
// (ModelRef.Config). It names the environment variable of the API key, never
// the key.
type OpenAIConfig struct {
	BaseURL           string `json:"base_url"`
	Name              string `json:"name"`
	Revision          string `json:"revision,omitempty"`
	APIKeyEnv         string `json:"api_key_env"`
	API               string `json:"api"`
	Concurrency       int    `json:"concurrency"`
	RequestsPerMinute int    `json:"requests_per_minute,omitempty"`
	TokensPerMinute   int    `json:"tokens_per_minute,omitempty"`
	Timeout           string `json:"timeout"`
	MaxRetries        int    `json:"max_retries"`
}

// Identity is "openai:" and the hex SHA-256 of base URL, model name,
// revision and API kind. Limits, timeouts and the key's variable do not
// change results, so they are not part of it.
func (c OpenAIConfig) Identity() string {
	h := sha256.New()
	for _, s := range []string{"ouro-openai", strings.TrimRight(c.BaseURL, "/"), c.Name, c.Revision, c.API} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "openai:" + hex.EncodeToString(h.Sum(nil))
}

func (*OpenAI) Resolve(ctx context.Context, x *runtime.Exec) (compiler.ModelRef, error) {
	c := OpenAIConfig{
		BaseURL:   params.String(x, "base_url", ""),
		Name:      params.String(x, "name", ""),
		Revision:  params.String(x, "revision", ""),
		APIKeyEnv: params.String(x, "api_key_env", "OPENAI_API_KEY"),
		API:       params.String(x, "api", "chat"),
		Timeout:   params.String(x, "timeout", "60s"),
	}
	var err error
	if c.Concurrency, err = params.Int(x, "concurrency", 8); err == nil {
		if c.RequestsPerMinute, err = params.Int(x, "requests_per_minute", 0); err == nil {
			if c.TokensPerMinute, err = params.Int(x, "tokens_per_minute", 0); err == nil {
				c.MaxRetries, err = params.Int(x, "max_retries", 6)
			}
		}
	}
	if err == nil {
		err = c.validate()
	}
	if err != nil {
		return compiler.ModelRef{}, fmt.Errorf("openai model: %w", err)
	}
	cfg, _ := json.Marshal(c)
	addr := ""
	if x.Node != nil {
		addr = x.Node.Address
	}
	return compiler.ModelRef{Address: addr, Provider: "openai", Digest: c.Identity(), Config: string(cfg)}, nil
}

func (c *OpenAIConfig) validate() error {
	switch {
	case c.BaseURL == "":
		return errors.New("base_url is empty")
	case c.Name == "":
		return errors.New("name is empty")
	case c.API != "chat" && c.API != "completions":
		return fmt.Errorf("api must be chat or completions, not %q", c.API)
	case c.Concurrency < 1:
		return errors.New("concurrency must be at least 1")
	case c.RequestsPerMinute < 0 || c.TokensPerMinute < 0 || c.MaxRetries < 0:
		return errors.New("limits and max_retries must not be negative")
	}
	_, err := params.Duration("timeout", c.Timeout, time.Minute)
	return err
}

// Open reads the API key from the environment variable the config names
// and returns a client. The key lives only in the client.
func (*OpenAI) Open(ctx context.Context, ref compiler.ModelRef, env *runtime.Env) (runtime.LM, error) {
	if ref.Provider != "openai" {
		return nil, fmt.Errorf("openai provider cannot open a %q model", ref.Provider)
	}
	var c OpenAIConfig
	if err := json.Unmarshal([]byte(ref.Config), &c); err != nil {
		return nil, fmt.Errorf("openai model %s: bad config: %w", ref.Digest, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("openai model %s: %w", ref.Digest, err)
	}
	return NewOpenAILM(c, os.Getenv(c.APIKeyEnv), nil), nil
}

// OpenAILM is a model behind an OpenAI-compatible server.
type OpenAILM struct {
	cfg     OpenAIConfig
	id      string
	key     string
	base    string // the base URL, without a trailing slash
	http    *http.Client
	timeout time.Duration
	sem     chan struct{}
	rpm     *bucket
	tpm     *bucket
	// sleep waits between retries (tests replace it).
	sleep func(ctx context.Context, d time.Duration) error
	// backoff is the first retry's base delay; it doubles up to maxBackoff.
	backoff, maxBackoff time.Duration
	// nmax is the most choices a request asks for: 0 until a server
	// answers a request with n > 1 with fewer choices (or refuses it),
	// then the fewest it returned. It holds for the client's life, one run.
	nmax atomic.Int64
}

// NewOpenAILM returns a client for cfg with the given API key (may be
// empty for servers without auth). httpClient may be nil.
func NewOpenAILM(cfg OpenAIConfig, key string, httpClient *http.Client) *OpenAILM {
	timeout, _ := params.Duration("timeout", cfg.Timeout, time.Minute)
	if httpClient == nil {
		// Keep a connection per concurrent request alive: the default
		// transport keeps 2 per host, so higher concurrency would open
		// and close a connection per request.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = max(cfg.Concurrency, 2)
		tr.MaxIdleConns = max(tr.MaxIdleConns, tr.MaxIdleConnsPerHost)
		httpClient = &http.Client{Transport: tr}
	}
	l := &OpenAILM{
		cfg: cfg, id: cfg.Identity(), key: key, timeout: timeout,
		base: strings.TrimRight(cfg.BaseURL, "/"), http: httpClient,
		sem: make(chan struct{}, max(cfg.Concurrency, 1)), sleep: sleepCtx,
		backoff: 500 * time.Millisecond, maxBackoff: 30 * time.Second,
	}
	if cfg.RequestsPerMinute > 0 {
		l.rpm = newBucket(float64(cfg.RequestsPerMinute))
	}
	if cfg.TokensPerMinute > 0 {
		l.tpm = newBucket(float64(cfg.TokensPerMinute))
	}
	return l
}

// post sends one JSON request to the endpoint at path (relative to the
// base URL) and returns the answer's body. A non-2xx answer is an
// *apiError. There are no retries here: call's loop owns them (budget,
// jitter, Retry-After, the request named in errors).
//
// The client is net/http itself, not the official openai-go: ouro encodes
// and decodes the JSON of the two endpoints itself (wireRequest), so the
// official client carried only base URL, auth header and error type, for
// about 20 MB of binary (docs/decisions.md, "The openai provider on
// net/http"). The bytes.Reader body lets net/http send headers and body
// in one write.
func (l *OpenAILM) post(ctx context.Context, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.base+"/"+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ouro")
	if l.key != "" {
		req.Header.Set("Authorization", "Bearer "+l.key)
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxAnswer {
		return nil, fmt.Errorf("POST %s: answer longer than %d MiB", req.URL.Redacted(), maxAnswer>>20)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, newAPIError(req, resp, raw)
	}
	return raw, nil
}

// maxAnswer bounds an answer's body: a broken server cannot make a run
// hold more than this per request.
const maxAnswer = 64 << 20

// apiError is a non-2xx answer of an OpenAI-compatible server.
type apiError struct {
	StatusCode int
	// Message is the server's own words: error.message of OpenAI's error
	// body ({"error": {"message": …}}), a bare string error, or the start
	// of a body in another shape.
	Message  string
	Response *http.Response // its headers say how long to wait (Retry-After)
	url      string
}

func newAPIError(req *http.Request, resp *http.Response, raw []byte) *apiError {
	e := &apiError{StatusCode: resp.StatusCode, Response: resp, url: req.URL.Redacted()}
	var body struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil && len(body.Error) > 0 {
		var obj struct {
			Message string `json:"message"`
		}
		var str string
		switch {
		case json.Unmarshal(body.Error, &obj) == nil && obj.Message != "":
			e.Message = obj.Message
		case json.Unmarshal(body.Error, &str) == nil:
			e.Message = str
		}
	}
	if e.Message == "" {
		e.Message = runesPrefix(strings.TrimSpace(strings.ToValidUTF8(string(raw), "\uFFFD")), 200)
	}
	return e
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("POST %s: %d %s", e.url, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

func (l *OpenAILM) Identity() string { return l.id }

// Generate answers each request with its N samples (see GenerateSamples).
func (l *OpenAILM) Generate(ctx context.Context, reqs []runtime.GenRequest) ([][]runtime.Completion, error) {
	return l.GenerateEach(ctx, reqs, nil)
}

// GenerateEach is Generate that calls done (when not nil) with each
// request's completions once all of them have arrived (runtime.Streamer).
// On failure the result still holds the requests that finished.
func (l *OpenAILM) GenerateEach(ctx context.Context, reqs []runtime.GenRequest, done func(int, []runtime.Completion)) ([][]runtime.Completion, error) {
	out := make([][]runtime.Completion, len(reqs))
	want := make([][]int, len(reqs))
	left := make([]int, len(reqs))
	for j, r := range reqs {
		out[j] = make([]runtime.Completion, max(r.N, 0))
		left[j] = max(r.N, 0)
		for i := range max(r.N, 0) {
			want[j] = append(want[j], i)
		}
	}
	var mu sync.Mutex
	err := l.GenerateSamples(ctx, reqs, want, func(j, i int, c runtime.Completion) {
		mu.Lock()
		out[j][i] = c
		left[j]--
		finished := left[j] == 0
		mu.Unlock()
		if finished && done != nil {
			done(j, out[j])
		}
	}, nil)
	if err != nil {
		for j := range out {
			if left[j] > 0 {
				out[j] = nil
			}
		}
	}
	return out, err
}

// GenerateSamples sends the wanted samples of each request, at most
// `concurrency` HTTP requests at a time, within the rate limits, each
// retried on its own (runtime.SampleStreamer). The first request to fail
// cancels the rest.
//
// Sample i of a request r is drawn with the wire seed WireSeed(r) + i. A
// request for samples a … a+n−1 sends n with seed WireSeed(r) + a, so a
// server that seeds choice c of such a request with seed + c (vLLM) gives
// the same samples whether they come from one request or from n. A server
// that returns fewer choices than n (Ollama) gets the missing samples as
// separate requests, and for the rest of the run (this client) requests
// with no more than the choices it returned.
func (l *OpenAILM) GenerateSamples(ctx context.Context, reqs []runtime.GenRequest, want [][]int, done func(j, i int, c runtime.Completion), report func(runtime.ServerStats)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	if report == nil {
		report = func(runtime.ServerStats) {}
	}
	// A worker per concurrent request (not a goroutine per request): each
	// takes the next request in order, so goroutine start-up and stack
	// growth through the HTTP client are paid once per worker.
	var next atomic.Int64
	for range min(cap(l.sem), len(reqs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j := int(next.Add(1) - 1)
				if j >= len(reqs) || ctx.Err() != nil {
					return
				}
				if len(want[j]) == 0 || reqs[j].N <= 0 {
					continue
				}
				err := l.samples(ctx, j, reqs[j], want[j], done, report)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// InFlight is the model's concurrency: Generate calls share it, so an
// operator may keep several calls going (runtime.Pipeliner).
func (l *OpenAILM) InFlight() int { return cap(l.sem) }

// scrub removes the API key from an error's text, should a server or a
// library ever echo it.
func (l *OpenAILM) scrub(err error) error {
	if err == nil || l.key == "" || !strings.Contains(err.Error(), l.key) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), l.key, "[redacted]"))
}

// promptPrefix is the start of a prompt for an error message: at most 80
// characters, never a split one, with an ellipsis when shortened.
func promptPrefix(s string) string {
	return runesPrefix(s, 80)
}

// runesPrefix is the first n runes of s, with "…" when it is longer.
func runesPrefix(s string, n int) string {
	k := 0
	for i := range s {
		if k == n {
			return s[:i] + "…"
		}
		k++
	}
	return s
}

// wireMix is the part of a wire seed that depends on the prompt: the first
// 8 bytes (little-endian) of SHA-256("ouro-openai-seed\x00" || prompt).
func wireMix(prompt string) uint64 {
	h := sha256.New()
	h.Write([]byte("ouro-openai-seed\x00"))
	h.Write([]byte(prompt))
	return binary.LittleEndian.Uint64(h.Sum(nil)[:8])
}

// WireSeed is the seed sample 0 of r goes out with (sample i's is
// WireSeed + i, as unsigned 64-bit sums sent as signed): r.Seed (the
// stage's seed mixed with the stage's `seed`) XOR wireMix of the prompt as
// it goes on the wire (for chat, its messages rendered with ChatPrompt).
// So every item gets its own seeds, and a server that knows the prompt can
// recover r.Seed: `ouro serve` does (StageSeed), and samples as the
// builtin provider does for the same stage.
func WireSeed(r runtime.GenRequest, api string) uint64 {
	return r.Seed ^ wireMix(wirePrompt(r, api))
}

// StageSeed inverts WireSeed for a request with this rendered prompt.
func StageSeed(wire uint64, prompt string) uint64 { return wire ^ wireMix(prompt) }

// wirePrompt is the prompt of r as a server sees it: for chat, the
// messages sent (a prompt becomes one user message) rendered with
// ChatPrompt.
func wirePrompt(r runtime.GenRequest, api string) string {
	if api == "completions" {
		return RequestPrompt(r)
	}
	if len(r.Messages) == 0 {
		return ChatPrompt([]runtime.Message{{Role: "user", Content: r.Prompt}})
	}
	return ChatPrompt(r.Messages)
}

// maxN is the most choices one request may ask for: 0 = as many as
// wanted (nothing learned), else the fewest a request with more returned.
func (l *OpenAILM) maxN() int { return int(l.nmax.Load()) }

// learnN records that a request asking for more got k choices.
func (l *OpenAILM) learnN(k int) {
	k = max(k, 1)
	for {
		cur := l.nmax.Load()
		if cur != 0 && cur <= int64(k) {
			return
		}
		if l.nmax.CompareAndSwap(cur, int64(k)) {
			return
		}
	}
}

// samples answers the wanted samples of request j.
func (l *OpenAILM) samples(ctx context.Context, j int, r runtime.GenRequest, want []int, done func(j, i int, c runtime.Completion), report func(runtime.ServerStats)) error {
	base := WireSeed(r, l.cfg.API)
	missing := map[int]bool{}
	for _, i := range want {
		missing[i] = true
	}
	fail := func(first, last int, err error) error {
		return &runtime.RequestError{Model: l.name(), Request: j, Sample: first, Last: last, Prompt: promptPrefix(RequestPrompt(r)), Err: l.scrub(err)}
	}
	for _, i := range want {
		// A short answer teaches maxN and leaves i missing (when the
		// answer started below i): ask again with what was learnt.
		for missing[i] {
			if err := l.sample(ctx, j, r, i, base, missing, done, report, fail); err != nil {
				return err
			}
		}
	}
	return nil
}

// sample sends one request that answers sample i of request j (and any
// other missing samples its choices cover), deleting what it answered
// from missing.
func (l *OpenAILM) sample(ctx context.Context, j int, r runtime.GenRequest, i int, base uint64, missing map[int]bool, done func(j, i int, c runtime.Completion), report func(runtime.ServerStats), fail func(first, last int, err error) error) error {
	k := l.maxN()
	if k == 1 || r.N == 1 {
		// One sample per request, without n.
		fanOut := r.N > 1
		a, err := l.send(ctx, r, base+uint64(i), 1, fanOut, report)
		if err != nil {
			return fail(i, i, err)
		}
		done(j, i, a[0])
		delete(missing, i)
		return nil
	}
	// The samples of i's run: from 0 when nothing is known (so sample i
	// does not depend on which samples were memoised), else from the
	// multiple of k below i.
	lo, n := 0, r.N
	if k > 1 {
		lo = i / k * k
		n = min(k, r.N-lo)
	}
	a, err := l.send(ctx, r, base+uint64(lo), n, false, report)
	if err != nil {
		var apiErr *apiError
		if !errors.As(err, &apiErr) || apiErr.StatusCode < 400 || apiErr.StatusCode >= 500 {
			return fail(lo, lo+n-1, err)
		}
		// Refused: llama.cpp's server answers n > 1 with 400 ("Only
		// one completion choice is allowed"). If i alone goes
		// through, the server does not take n.
		one, err1 := l.send(ctx, r, base+uint64(i), 1, true, report)
		if err1 != nil {
			return fail(i, i, err1)
		}
		l.learnN(1)
		report(runtime.ServerStats{NIgnored: true})
		done(j, i, one[0])
		delete(missing, i)
		return nil
	}
	for c, comp := range a {
		if missing[lo+c] {
			done(j, lo+c, comp)
			delete(missing, lo+c)
		}
	}
	if len(a) < n {
		// A capability, not a fault: not retried. The caller asks again
		// for what is still missing, with maxN ≤ len(a).
		l.learnN(len(a))
		report(runtime.ServerStats{NIgnored: true})
	}
	return nil
}

// name is the model as errors and reports name it.
func (l *OpenAILM) name() string {
	return fmt.Sprintf("openai model %s (%s)", l.cfg.Name, l.cfg.BaseURL)
}

// send sends one request for n choices with the given wire seed, with
// retries, and reports it. A choice short answer is no error: it returns
// the choices there are (at least one).
func (l *OpenAILM) send(ctx context.Context, r runtime.GenRequest, seed uint64, n int, fanOut bool, report func(runtime.ServerStats)) ([]runtime.Completion, error) {
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-l.sem }()
	est := float64(len(RequestPrompt(r))/4 + r.MaxTokens*n)
	for attempt := 0; ; attempt++ {
		if l.rpm != nil {
			if err := l.rpm.wait(ctx, 1, l.sleep); err != nil {
				return nil, err
			}
		}
		if l.tpm != nil {
			if err := l.tpm.wait(ctx, est, l.sleep); err != nil {
				return nil, err
			}
		}
		actx, cancel := context.WithTimeout(ctx, l.timeout)
		a, err := l.call(actx, r, seed, n)
		timedOut := actx.Err() == context.DeadlineExceeded
		cancel()
		if err == nil {
			st := a.stats
			st.Model = fmt.Sprintf("%s at %s", l.cfg.Name, l.cfg.BaseURL)
			st.Requests, st.Retries = 1, int64(attempt)
			if fanOut {
				st.FanOut = 1
			}
			if r.TopK > 0 {
				st.Unverified = []string{"top_k"}
			}
			report(st)
			return a.choices, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		retry, wait := retryable(err)
		if timedOut {
			retry, err = true, fmt.Errorf("timed out after %s", l.timeout)
		}
		if !retry {
			report(runtime.ServerStats{Retries: int64(attempt)})
			return nil, describe(err)
		}
		if attempt >= l.cfg.MaxRetries {
			report(runtime.ServerStats{Retries: int64(attempt)})
			return nil, fmt.Errorf("gave up after %d attempts: %w", attempt+1, describe(err))
		}
		d := l.backoffFor(attempt)
		if wait > d {
			d = wait
		}
		if err := l.sleep(ctx, d); err != nil {
			return nil, err
		}
	}
}

// backoffFor is the capped exponential backoff with full jitter: uniform
// in [base·2^attempt / 2, base·2^attempt], at most maxBackoff.
func (l *OpenAILM) backoffFor(attempt int) time.Duration {
	d := float64(l.backoff) * math.Pow(2, float64(attempt))
	if d > float64(l.maxBackoff) {
		d = float64(l.maxBackoff)
	}
	return time.Duration(d/2 + rand.Float64()*d/2)
}

// retryable says whether an error is worth another attempt, and how long
// the server asked to wait (Retry-After / retry-after-ms).
func retryable(err error) (bool, time.Duration) {
	var apiErr *apiError
	if errors.As(err, &apiErr) {
		wait := retryAfter(apiErr.Response)
		switch code := apiErr.StatusCode; {
		case code == 408 || code == 409 || code == 425 || code == 429 || code >= 500:
			return true, wait
		default:
			return false, 0
		}
	}
	if errors.Is(err, context.Canceled) {
		return false, 0
	}
	// Transport errors (dropped connections, resets), malformed bodies,
	// short answers: try again.
	return true, 0
}

// describe turns an error into a message without request dumps (the
// *apiError stays reachable with errors.As).
func describe(err error) error {
	var apiErr *apiError
	if errors.As(err, &apiErr) {
		msg := runesPrefix(apiErr.Message, 200)
		if msg != "" {
			return described{fmt.Sprintf("HTTP %d %s: %s", apiErr.StatusCode, http.StatusText(apiErr.StatusCode), msg), err}
		}
		return described{fmt.Sprintf("HTTP %d %s", apiErr.StatusCode, http.StatusText(apiErr.StatusCode)), err}
	}
	return err
}

// described is an error with a shorter message than the one it wraps.
type described struct {
	msg string
	err error
}

func (d described) Error() string { return d.msg }
func (d described) Unwrap() error { return d.err }

func retryAfter(resp *http.Response) time.Duration {
	if resp == nil {
		return 0
	}
	const most = 5 * time.Minute
	if ms := resp.Header.Get("Retry-After-Ms"); ms != "" {
		if f, err := strconv.ParseFloat(ms, 64); err == nil && f >= 0 {
			return min(time.Duration(f*float64(time.Millisecond)), most)
		}
	}
	ra := resp.Header.Get("Retry-After")
	if ra == "" {
		return 0
	}
	if f, err := strconv.ParseFloat(ra, 64); err == nil && f >= 0 {
		return min(time.Duration(f*float64(time.Second)), most)
	}
	if t, err := http.ParseTime(ra); err == nil {
		return min(max(time.Until(t), 0), most)
	}
	return 0
}

// wireMessage, wireRequest and the wire responses are the JSON of the
// completions and chat completions endpoints, as far as ouro uses them.
// They are encoded and decoded here, not by openai-go's typed params:
// its reflection-based encoder and decoder (apijson) cost more CPU per
// request than the HTTP exchange itself against a fast local server. The
// body carries the same fields and values the typed params would.
type wireMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type wireRequest struct {
	Model       string        `json:"model"`
	Prompt      *string       `json:"prompt,omitempty"`
	Messages    []wireMessage `json:"messages,omitempty"`
	N           int64         `json:"n,omitempty"` // only when > 1: the default is 1, and some servers refuse n
	Temperature float64       `json:"temperature"`
	TopP        float64       `json:"top_p"`
	MaxTokens   int64         `json:"max_tokens"`
	Seed        int64         `json:"seed"`
	Stop        []string      `json:"stop,omitempty"`
	Logprobs    any           `json:"logprobs,omitempty"`
	TopK        int           `json:"top_k,omitempty"` // vLLM, llama.cpp, ouro serve
	// ResponseFormat is set for a structured response (the request's
	// Schema), on both endpoints.
	ResponseFormat *wireResponseFormat `json:"response_format,omitempty"`
}

// wireResponseFormat is OpenAI's response_format for structured outputs:
// {"type":"json_schema","json_schema":{"name":…,"schema":…,"strict":true}}.
type wireResponseFormat struct {
	Type       string          `json:"type"`
	JSONSchema *wireJSONSchema `json:"json_schema,omitempty"`
}

type wireJSONSchema struct {
	Name   string          `json:"name"`
	Schema json.RawMessage `json:"schema"`
	Strict bool            `json:"strict"`
}

// SchemaName is the json_schema name ouro sends with every structured
// request: one fixed name, so the request (and its memo key) depends on
// the schema only, not on which stage asks.
const SchemaName = "response"

type wireUsage struct {
	CompletionTokens int64 `json:"completion_tokens"`
}

type wireCompletion struct {
	Choices []struct {
		Index        int64  `json:"index"`
		Text         string `json:"text"`
		FinishReason string `json:"finish_reason"`
		Logprobs     *struct {
			TokenLogprobs []float64 `json:"token_logprobs"`
		} `json:"logprobs"`
	} `json:"choices"`
	Usage *wireUsage `json:"usage"`
}

type wireChat struct {
	Choices []struct {
		Index   int64 `json:"index"`
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
		Logprobs     *struct {
			Content []struct {
				Logprob float64 `json:"logprob"`
			} `json:"content"`
		} `json:"logprobs"`
	} `json:"choices"`
	Usage *wireUsage `json:"usage"`
}

// answer is one response: its choices in index order (at most n, at least
// one) and what they show of the server.
type answer struct {
	choices []runtime.Completion
	stats   runtime.ServerStats
}

// call makes one API request for n choices with the given wire seed.
func (l *OpenAILM) call(ctx context.Context, r runtime.GenRequest, seed uint64, n int) (*answer, error) {
	w := wireRequest{
		Model:       l.cfg.Name,
		Temperature: r.Temperature,
		TopP:        r.TopP,
		MaxTokens:   int64(r.MaxTokens),
		Seed:        int64(seed),
		Stop:        r.Stop,
	}
	if n > 1 {
		w.N = int64(n)
	}
	if r.TopK > 0 {
		w.TopK = r.TopK
	}
	if len(r.Schema) > 0 {
		w.ResponseFormat = &wireResponseFormat{Type: "json_schema", JSONSchema: &wireJSONSchema{Name: SchemaName, Schema: r.Schema, Strict: true}}
	}
	path := "completions"
	if l.cfg.API == "completions" {
		p := RequestPrompt(r)
		w.Prompt = &p
		if r.LogProbs {
			w.Logprobs = 0
		}
	} else {
		path = "chat/completions"
		if len(r.Messages) == 0 {
			w.Messages = []wireMessage{{Role: "user", Content: r.Prompt}}
		} else {
			w.Messages = make([]wireMessage, len(r.Messages))
		}
		for i, m := range r.Messages {
			switch m.Role {
			case "system", "developer", "assistant", "user":
			default:
				return nil, fmt.Errorf("unknown chat role %q (want system, developer, user or assistant)", m.Role)
			}
			w.Messages[i] = wireMessage{Role: m.Role, Content: m.Content}
		}
		if r.LogProbs {
			w.Logprobs = true
		}
	}
	body, err := json.Marshal(&w)
	if err != nil {
		return nil, err
	}
	raw, err := l.post(ctx, path, body)
	if err != nil {
		return nil, err
	}
	// One shape for both endpoints: text, finish reason and the
	// log-probability entries (nil: none) of each choice.
	type choice struct {
		index  int64
		text   string
		finish string
		lps    []float64
		hasLP  bool
	}
	var ch []choice
	var usage *wireUsage
	if l.cfg.API == "completions" {
		var resp wireCompletion
		if err := json.Unmarshal(raw, &resp); err != nil {
			return nil, fmt.Errorf("malformed completions answer: %w", err)
		}
		for _, c := range resp.Choices {
			x := choice{index: c.Index, text: c.Text, finish: c.FinishReason}
			if c.Logprobs != nil && c.Logprobs.TokenLogprobs != nil {
				x.lps, x.hasLP = c.Logprobs.TokenLogprobs, true
			}
			ch = append(ch, x)
		}
		usage = resp.Usage
	} else {
		var resp wireChat
		if err := json.Unmarshal(raw, &resp); err != nil {
			return nil, fmt.Errorf("malformed chat completions answer: %w", err)
		}
		for _, c := range resp.Choices {
			x := choice{index: c.Index, text: c.Message.Content, finish: c.FinishReason}
			if c.Logprobs != nil && c.Logprobs.Content != nil {
				x.hasLP = true
				x.lps = make([]float64, len(c.Logprobs.Content))
				for i, t := range c.Logprobs.Content {
					x.lps[i] = t.Logprob
				}
			}
			ch = append(ch, x)
		}
		usage = resp.Usage
	}
	if len(ch) == 0 {
		return nil, errors.New("malformed answer: no choices")
	}
	sort.SliceStable(ch, func(a, b int) bool { return ch[a].index < ch[b].index })
	if len(ch) > n {
		ch = ch[:n]
	}
	a := &answer{choices: make([]runtime.Completion, len(ch))}
	a.stats.ChoicesAsked, a.stats.ChoicesReturned = int64(n), int64(len(ch))
	var entries int64
	for i, c := range ch {
		a.choices[i] = runtime.Completion{Text: c.text, FinishReason: c.finish}
		for _, v := range c.lps {
			a.choices[i].LogProb += v
		}
		a.choices[i].Tokens = len(c.lps)
		entries += int64(len(c.lps))
		if r.LogProbs && !c.hasLP {
			a.stats.LogprobsMissing++
		}
	}
	if r.LogProbs && usage != nil && usage.CompletionTokens > 0 {
		a.stats.CompletionTokens, a.stats.LogprobTokens = usage.CompletionTokens, entries
		if entries < usage.CompletionTokens {
			a.stats.ShortLogprobs = 1
		}
	}
	return a, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// bucket is a token bucket refilled at perMinute per minute, holding at
// most one minute's worth.
type bucket struct {
	mu     sync.Mutex
	rate   float64 // per second
	cap    float64
	tokens float64
	last   time.Time
}

func newBucket(perMinute float64) *bucket {
	return &bucket{rate: perMinute / 60, cap: perMinute, tokens: perMinute, last: time.Now()}
}

// wait takes n tokens (at most the capacity), sleeping until they are there.
func (b *bucket) wait(ctx context.Context, n float64, sleep func(context.Context, time.Duration) error) error {
	n = min(n, b.cap)
	for {
		b.mu.Lock()
		now := time.Now()
		b.tokens = min(b.cap, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
		if b.tokens >= n {
			b.tokens -= n
			b.mu.Unlock()
			return nil
		}
		d := time.Duration((n - b.tokens) / b.rate * float64(time.Second))
		b.mu.Unlock()
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}
