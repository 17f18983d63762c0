package providers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/params"
)

// OpenAI is the provider of OpenAI-compatible servers (vLLM, llama.cpp,
// Ollama, TGI, OpenAI, `ouro serve`), through the official client.
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
	client  openai.Client
	timeout time.Duration
	sem     chan struct{}
	rpm     *bucket
	tpm     *bucket
	// sleep waits between retries (tests replace it).
	sleep func(ctx context.Context, d time.Duration) error
	// backoff is the first retry's base delay; it doubles up to maxBackoff.
	backoff, maxBackoff time.Duration
}

// NewOpenAILM returns a client for cfg with the given API key (may be
// empty for servers without auth). httpClient may be nil.
func NewOpenAILM(cfg OpenAIConfig, key string, httpClient *http.Client) *OpenAILM {
	timeout, _ := params.Duration("timeout", cfg.Timeout, time.Minute)
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.BaseURL),
		option.WithMaxRetries(0), // retries are ours: budget, jitter, Retry-After, request named in errors
	}
	if key != "" {
		opts = append(opts, option.WithAPIKey(key))
	} else {
		opts = append(opts, option.WithAPIKey("none"))
	}
	if httpClient == nil {
		// Keep a connection per concurrent request alive: the default
		// transport keeps 2 per host, so higher concurrency would open
		// and close a connection per request.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = max(cfg.Concurrency, 2)
		tr.MaxIdleConns = max(tr.MaxIdleConns, tr.MaxIdleConnsPerHost)
		httpClient = &http.Client{Transport: tr}
	}
	opts = append(opts, option.WithHTTPClient(httpClient), option.WithMiddleware(InMemoryBody))
	l := &OpenAILM{
		cfg: cfg, id: cfg.Identity(), key: key, client: openai.NewClient(opts...), timeout: timeout,
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

// InMemoryBody hands net/http the request body as the in-memory reader
// GetBody returns, instead of the client's per-attempt wrapper: net/http
// flushes the headers in a write of their own before a body it does not
// know to be in memory, so each request would cost two write system calls
// (and two reads at the server) instead of one.
func InMemoryBody(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		if b, err := req.GetBody(); err == nil {
			req.Body = b
		}
	}
	return next(req)
}

func (l *OpenAILM) Identity() string { return l.id }

// Generate sends one API request per GenRequest (n = N, seeded), at most
// `concurrency` at a time, within the rate limits, each retried on its own.
// The first request to exhaust its retries cancels the rest.
func (l *OpenAILM) Generate(ctx context.Context, reqs []runtime.GenRequest) ([][]runtime.Completion, error) {
	return l.GenerateEach(ctx, reqs, nil)
}

// GenerateEach is Generate that calls done (when not nil) with each
// request's completions as they arrive (runtime.Streamer).
func (l *OpenAILM) GenerateEach(ctx context.Context, reqs []runtime.GenRequest, done func(int, []runtime.Completion)) ([][]runtime.Completion, error) {
	out := make([][]runtime.Completion, len(reqs))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	// A worker per concurrent request (not a goroutine per request): each
	// takes the next request in order, so goroutine start-up and stack
	// growth through the HTTP client are paid once per worker.
	var next atomic.Int64
	for range min(cap(l.sem), len(reqs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(reqs) {
					return
				}
				select {
				case l.sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				cs, err := l.one(ctx, reqs[i])
				<-l.sem
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("openai model %s (%s): request %d (%q): %w", l.cfg.Name, l.cfg.BaseURL, i, promptPrefix(RequestPrompt(reqs[i])), err)
						cancel()
					}
					mu.Unlock()
					return
				}
				out[i] = cs
				if done != nil {
					done(i, cs)
				}
			}
		}()
	}
	wg.Wait()
	// On failure, out still carries the finished requests (see runtime.LM).
	if firstErr != nil {
		return out, l.scrub(firstErr)
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	return out, nil
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

func promptPrefix(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// one sends a request with retries.
func (l *OpenAILM) one(ctx context.Context, r runtime.GenRequest) ([]runtime.Completion, error) {
	if r.N <= 0 {
		return []runtime.Completion{}, nil
	}
	est := float64(len(RequestPrompt(r))/4 + r.MaxTokens*r.N)
	var last error
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
		cs, err := l.call(actx, r)
		timedOut := actx.Err() == context.DeadlineExceeded
		cancel()
		if err == nil {
			return cs, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		retry, wait := retryable(err)
		if timedOut {
			retry, err = true, fmt.Errorf("timed out after %s", l.timeout)
		}
		last = err
		if !retry {
			return nil, describe(err)
		}
		if attempt >= l.cfg.MaxRetries {
			return nil, fmt.Errorf("gave up after %d attempts: %w", attempt+1, describe(last))
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
	var apiErr *openai.Error
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

// describe turns an error into a message without request dumps.
func describe(err error) error {
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		msg := apiErr.Message
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		if msg != "" {
			return fmt.Errorf("HTTP %d %s: %s", apiErr.StatusCode, http.StatusText(apiErr.StatusCode), msg)
		}
		return fmt.Errorf("HTTP %d %s", apiErr.StatusCode, http.StatusText(apiErr.StatusCode))
	}
	return err
}

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
// Requests still go through the official client (its base URL, auth,
// headers, middleware and *openai.Error for non-2xx answers), but with the
// body encoded and the answer decoded here: openai-go's reflection-based
// encoder and decoder (apijson) cost more CPU per request than the HTTP
// exchange itself against a fast local server. The body carries the same
// fields and values the typed params would.
type wireMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type wireRequest struct {
	Model       string        `json:"model"`
	Prompt      *string       `json:"prompt,omitempty"`
	Messages    []wireMessage `json:"messages,omitempty"`
	N           int64         `json:"n"`
	Temperature float64       `json:"temperature"`
	TopP        float64       `json:"top_p"`
	MaxTokens   int64         `json:"max_tokens"`
	Seed        int64         `json:"seed"`
	Stop        []string      `json:"stop,omitempty"`
	Logprobs    any           `json:"logprobs,omitempty"`
	TopK        int           `json:"top_k,omitempty"` // vLLM, llama.cpp, ouro serve
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
}

// call makes one API request.
func (l *OpenAILM) call(ctx context.Context, r runtime.GenRequest) ([]runtime.Completion, error) {
	w := wireRequest{
		Model:       l.cfg.Name,
		N:           int64(r.N),
		Temperature: r.Temperature,
		TopP:        r.TopP,
		MaxTokens:   int64(r.MaxTokens),
		Seed:        int64(r.Seed),
		Stop:        r.Stop,
	}
	if r.TopK > 0 {
		w.TopK = r.TopK
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
	var raw []byte
	if err := l.client.Post(ctx, path, body, &raw); err != nil {
		return nil, err
	}
	out := make([]runtime.Completion, r.N)
	if l.cfg.API == "completions" {
		var resp wireCompletion
		if err := json.Unmarshal(raw, &resp); err != nil {
			return nil, fmt.Errorf("malformed completions answer: %w", err)
		}
		ch := resp.Choices
		sort.SliceStable(ch, func(a, b int) bool { return ch[a].Index < ch[b].Index })
		if len(ch) < r.N {
			return nil, fmt.Errorf("server returned %d of %d choices", len(ch), r.N)
		}
		for i := range out {
			out[i] = runtime.Completion{Text: ch[i].Text, FinishReason: ch[i].FinishReason}
			if lp := ch[i].Logprobs; lp != nil {
				for _, v := range lp.TokenLogprobs {
					out[i].LogProb += v
				}
				out[i].Tokens = len(lp.TokenLogprobs)
			}
		}
		return out, nil
	}
	var resp wireChat
	if err := json.Unmarshal(raw, &resp); err != nil {
		return nil, fmt.Errorf("malformed chat completions answer: %w", err)
	}
	ch := resp.Choices
	sort.SliceStable(ch, func(a, b int) bool { return ch[a].Index < ch[b].Index })
	if len(ch) < r.N {
		return nil, fmt.Errorf("server returned %d of %d choices", len(ch), r.N)
	}
	for i := range out {
		out[i] = runtime.Completion{Text: ch[i].Message.Content, FinishReason: ch[i].FinishReason}
		if lp := ch[i].Logprobs; lp != nil {
			for _, v := range lp.Content {
				out[i].LogProb += v.Logprob
			}
			out[i].Tokens = len(lp.Content)
		}
	}
	return out, nil
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
