package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/ouroloop/ouro/stdlib/models/gpt"
)

// newHookedServer is newTestServer with a step hook, set before the server
// starts, and a channel that receives a value each time a handler returns.
func newHookedServer(t *testing.T, hook func(context.Context)) (*httptest.Server, chan struct{}) {
	t.Helper()
	m, err := gpt.New(gpt.Config{Layers: 1, Dim: 32, Heads: 2, MaxSeq: 48}, 5)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New([]Model{{Name: "tiny", Model: m}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.stepHook = hook
	returned := make(chan struct{}, 16)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { returned <- struct{}{} }()
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts, returned
}

// chunkEvent is a streamed chunk of either endpoint.
type chunkEvent struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Choices []struct {
		Index int     `json:"index"`
		Text  *string `json:"text"`
		Delta *struct {
			Role    *string `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason *string         `json:"finish_reason"`
	} `json:"choices"`
	Usage *usage `json:"usage"`
}

// nextEvent reads the next `data:` payload of an SSE stream.
func nextEvent(br *bufio.Reader) (string, error) {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		if d, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "data: "); ok {
			return d, nil
		}
	}
}

// assembled is a choice put together from a response or a stream.
type assembled struct {
	Text, Finish string
	Tokens       []string  // logprobs: the token texts
	LogProbs     []float64 // and values
	Offsets      []int     // completions: text_offset
	Chunks       int       // stream: chunks with text or logprobs
}

type lpJSON struct {
	Content []struct {
		Token   string  `json:"token"`
		Logprob float64 `json:"logprob"`
		Bytes   []int   `json:"bytes"`
	} `json:"content"`
	Tokens        []string  `json:"tokens"`
	TokenLogprobs []float64 `json:"token_logprobs"`
	TextOffset    []int     `json:"text_offset"`
}

func (a *assembled) addLogProbs(t *testing.T, raw json.RawMessage) {
	t.Helper()
	if isNull(raw) {
		return
	}
	var lp lpJSON
	if err := json.Unmarshal(raw, &lp); err != nil {
		t.Fatal(err)
	}
	for _, c := range lp.Content {
		if string(bytesOf(c.Bytes)) != c.Token {
			t.Errorf("token %q, bytes %v", c.Token, c.Bytes)
		}
		a.Tokens = append(a.Tokens, c.Token)
		a.LogProbs = append(a.LogProbs, c.Logprob)
	}
	a.Tokens = append(a.Tokens, lp.Tokens...)
	a.LogProbs = append(a.LogProbs, lp.TokenLogprobs...)
	a.Offsets = append(a.Offsets, lp.TextOffset...)
}

func bytesOf(b []int) []byte {
	out := make([]byte, len(b))
	for i, v := range b {
		out[i] = byte(v)
	}
	return out
}

// whole makes a non-streamed request and returns its choices and usage.
func whole(t *testing.T, url, body string) (map[int]*assembled, usage) {
	t.Helper()
	code, _, raw := post(t, url, body)
	if code != 200 {
		t.Fatalf("%d %s", code, raw)
	}
	var r struct {
		Choices []struct {
			Index        int    `json:"index"`
			Text         string `json:"text"`
			Message      struct{ Content string }
			Logprobs     json.RawMessage `json:"logprobs"`
			FinishReason string          `json:"finish_reason"`
		}
		Usage usage
	}
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		t.Fatal(err)
	}
	out := map[int]*assembled{}
	for _, c := range r.Choices {
		a := &assembled{Text: c.Text + c.Message.Content, Finish: c.FinishReason}
		a.addLogProbs(t, c.Logprobs)
		out[c.Index] = a
	}
	return out, r.Usage
}

// streamed makes a streamed request, checks the stream's shape and returns
// its choices put together, and the usage chunk's usage if any.
func streamed(t *testing.T, url, body string, chat bool) (map[int]*assembled, *usage) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	br := bufio.NewReader(resp.Body)
	out := map[int]*assembled{}
	roles := map[int]bool{}
	var u *usage
	id := ""
	for {
		d, err := nextEvent(br)
		if err != nil {
			t.Fatalf("stream ended without [DONE]: %v", err)
		}
		if d == "[DONE]" {
			break
		}
		if u != nil {
			t.Fatalf("event after the usage chunk: %s", d)
		}
		var ev chunkEvent
		if err := json.Unmarshal([]byte(d), &ev); err != nil {
			t.Fatalf("%v: %s", err, d)
		}
		if id == "" {
			id = ev.ID
		}
		wantObj := map[bool]string{true: "chat.completion.chunk", false: "text_completion"}[chat]
		if ev.ID != id || ev.Object != wantObj {
			t.Fatalf("chunk id %q object %q: %s", ev.ID, ev.Object, d)
		}
		if ev.Usage != nil {
			if len(ev.Choices) != 0 {
				t.Fatalf("usage chunk with choices: %s", d)
			}
			u = ev.Usage
			continue
		}
		if len(ev.Choices) != 1 {
			t.Fatalf("chunk with %d choices: %s", len(ev.Choices), d)
		}
		c := ev.Choices[0]
		a := out[c.Index]
		if a == nil {
			a = &assembled{}
			out[c.Index] = a
		}
		if a.Finish != "" {
			t.Fatalf("choice %d: chunk after its finish_reason: %s", c.Index, d)
		}
		var text *string
		if chat {
			if c.Delta == nil {
				t.Fatalf("chat chunk without delta: %s", d)
			}
			if c.Delta.Role != nil {
				if roles[c.Index] || *c.Delta.Role != "assistant" || a.Chunks > 0 {
					t.Fatalf("choice %d: role chunk %s", c.Index, d)
				}
				roles[c.Index] = true
				continue
			}
			if !roles[c.Index] {
				t.Fatalf("choice %d: first chunk has no role: %s", c.Index, d)
			}
			text = c.Delta.Content
		} else {
			text = c.Text
		}
		if c.FinishReason != nil {
			if (text != nil && *text != "") || !isNull(c.Logprobs) {
				t.Fatalf("finish chunk with content: %s", d)
			}
			a.Finish = *c.FinishReason
			continue
		}
		if text == nil {
			t.Fatalf("chunk without text: %s", d)
		}
		a.Text += *text
		a.Chunks++
		a.addLogProbs(t, c.Logprobs)
	}
	if _, err := nextEvent(br); err != io.EOF {
		t.Errorf("data after [DONE]: %v", err)
	}
	return out, u
}

// TestStreamMatchesWhole: for chat and completions, with n = 2, two
// prompts, a stop string and logprobs, the deltas of each choice add up to
// the non-streamed choice (text, finish reason, logprobs, usage), and the
// text arrives over many chunks.
func TestStreamMatchesWhole(t *testing.T) {
	ts, _ := newTestServer(t)
	for _, chat := range []bool{true, false} {
		path, input := "/v1/completions", `"prompt":["ab","hello"]`
		if chat {
			path, input = "/v1/chat/completions", `"messages":[{"role":"user","content":"hello"}]`
		}
		url := ts.URL + path
		common := `"model":"tiny",` + input + `,"n":2,"seed":11,"temperature":0.9,"max_tokens":40`
		// A stop string from the middle of choice 0's text, and one that
		// never matches but begins like the text does.
		free, _ := whole(t, url, "{"+common+"}")
		if len(free[0].Text) < 8 {
			t.Fatalf("sample too short: %q", free[0].Text)
		}
		stop, near := free[0].Text[4:7], free[1].Text[1:3]+"\x01"
		stopJSON, _ := json.Marshal([]string{stop, near})
		lp := `,"logprobs":` + map[bool]string{true: "true", false: "0"}[chat]
		for _, extra := range []string{``, lp, `,"stop":` + string(stopJSON) + lp} {
			body := "{" + common + extra
			want, wantU := whole(t, url, body+"}")
			got, gotU := streamed(t, url, body+`,"stream":true,"stream_options":{"include_usage":true}}`, chat)
			if gotU == nil || *gotU != wantU {
				t.Errorf("%s %s: usage %+v, want %+v", path, body, gotU, wantU)
			}
			if len(got) != len(want) {
				t.Fatalf("%s %s: %d choices streamed, %d whole", path, body, len(got), len(want))
			}
			stopped := false
			for i, w := range want {
				g := got[i]
				if g == nil {
					t.Fatalf("%s %s: choice %d not streamed", path, body, i)
				}
				chunks := g.Chunks
				g.Chunks = 0
				if !reflect.DeepEqual(g, w) {
					t.Errorf("%s %s choice %d:\nstream %+v\nwhole  %+v", path, body, i, g, w)
				}
				if chunks < len([]rune(w.Text))/2 {
					t.Errorf("%s %s choice %d: %d chunks for %q", path, body, i, chunks, w.Text)
				}
				if strings.Contains(extra, "stop") && w.Finish == "stop" && len(w.Tokens) > len([]rune(w.Text))+1 {
					stopped = true // ended by a stop string, not EOS
				}
			}
			if strings.Contains(extra, "stop") && !stopped {
				t.Errorf("%s %s: no choice ended on a stop string", path, body)
			}
		}
	}
	// Without include_usage, chunks have no usage field.
	_, u := streamed(t, ts.URL+"/v1/completions", `{"model":"tiny","prompt":"ab","max_tokens":3,"stream":true}`, false)
	if u != nil {
		t.Errorf("usage without include_usage: %+v", u)
	}
}

// TestStreamIncremental: the client receives each token before the next
// one is computed. The step hook holds generation after each of the first
// steps until the client has read that step's chunk.
func TestStreamIncremental(t *testing.T) {
	const lockstep = 6
	got := make(chan string)
	var steps atomic.Int32
	var mu sync.Mutex
	var failures []string
	ts, _ := newHookedServer(t, func(ctx context.Context) {
		k := steps.Add(1)
		if k > lockstep {
			return
		}
		select {
		case <-got:
		case <-time.After(20 * time.Second):
			mu.Lock()
			failures = append(failures, fmt.Sprintf("step %d: the client never received its chunk", k))
			mu.Unlock()
		}
	})
	for _, chat := range []bool{true, false} {
		steps.Store(0)
		path, input := "/v1/completions", `"prompt":"ab"`
		if chat {
			path, input = "/v1/chat/completions", `"messages":[{"role":"user","content":"ab"}]`
		}
		body := `{"model":"tiny",` + input + `,"seed":2,"max_tokens":30,"stream":true}`
		resp, err := http.Post(ts.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		var text strings.Builder
		content := 0
		for {
			d, err := nextEvent(br)
			if err != nil {
				t.Fatal(err)
			}
			if d == "[DONE]" {
				break
			}
			var ev chunkEvent
			json.Unmarshal([]byte(d), &ev)
			c := ev.Choices[0]
			var piece *string
			if chat {
				piece = c.Delta.Content
			} else {
				piece = c.Text
			}
			if c.FinishReason != nil || piece == nil || *piece == "" {
				continue
			}
			content++
			text.WriteString(*piece)
			if content <= lockstep {
				// Generation is held at step content until this chunk is
				// read: it was sent before the next token was sampled.
				if n := int(steps.Load()); n > content {
					t.Errorf("%s: content chunk %d received after step %d", path, content, n)
				}
				select {
				case got <- *piece:
				case <-time.After(20 * time.Second):
					t.Fatalf("%s: generation did not wait at step %d", path, content)
				}
			}
		}
		resp.Body.Close()
		mu.Lock()
		for _, f := range failures {
			t.Error(f)
		}
		mu.Unlock()
		if content <= lockstep {
			t.Fatalf("%s: only %d content chunks (%q); pick a longer sample", path, content, text.String())
		}
		w, _ := whole(t, ts.URL+path, strings.Replace(body, `"stream":true`, `"stream":false`, 1))
		if w[0].Text != text.String() {
			t.Errorf("%s: streamed %q, whole %q", path, text.String(), w[0].Text)
		}
	}
}

// TestStreamDisconnect: a client going away mid-stream cancels the
// request's context, generation stops at once, the handler returns and no
// goroutine is left behind.
func TestStreamDisconnect(t *testing.T) {
	var steps atomic.Int32
	cancelled := make(chan bool, 1)
	ts, returned := newHookedServer(t, func(ctx context.Context) {
		if steps.Add(1) != 1 {
			return
		}
		select {
		case <-ctx.Done():
			cancelled <- true
		case <-time.After(20 * time.Second):
			cancelled <- false
		}
	})
	tr := &http.Transport{}
	client := &http.Client{Transport: tr}
	time.Sleep(10 * time.Millisecond)
	base := runtime.NumGoroutine()
	for _, body := range []string{
		`{"model":"tiny","messages":[{"role":"user","content":"ab"}],"n":3,"seed":2,"temperature":1,"stream":true}`,
		`{"model":"tiny","prompt":"ab","n":2,"seed":2,"temperature":1,"stream":true}`,
	} {
		steps.Store(0)
		path := "/v1/completions"
		if strings.Contains(body, "messages") {
			path = "/v1/chat/completions"
		}
		resp, err := client.Post(ts.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		if d, err := nextEvent(br); err != nil || d == "[DONE]" {
			t.Fatalf("first event: %q %v", d, err)
		}
		resp.Body.Close() // mid-stream: the transport closes the connection
		if !<-cancelled {
			t.Fatalf("%s: the request context was not cancelled", path)
		}
		select {
		case <-returned:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the handler did not return", path)
		}
		if n := steps.Load(); n != 1 {
			t.Errorf("%s: %d steps after the disconnect", path, n-1)
		}
	}
	tr.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStreamOpenAIClient: openai-go's streaming client reads the streams,
// and what it puts together is the non-streamed answer.
func TestStreamOpenAIClient(t *testing.T) {
	ts, _ := newTestServer(t)
	client := openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey("none"), option.WithMaxRetries(0))
	ctx := context.Background()

	chat := openai.ChatCompletionNewParams{
		Model:       "tiny",
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		N:           openai.Int(2),
		Seed:        openai.Int(7),
		Temperature: openai.Float(1),
		MaxTokens:   openai.Int(30),
		Logprobs:    openai.Bool(true),
		Stop:        openai.ChatCompletionNewParamsStopUnion{OfStringArray: []string{"e "}},
	}
	want, err := client.Chat.Completions.New(ctx, chat)
	if err != nil {
		t.Fatal(err)
	}
	chat.StreamOptions.IncludeUsage = openai.Bool(true)
	st := client.Chat.Completions.NewStreaming(ctx, chat)
	var acc openai.ChatCompletionAccumulator
	texts := map[int64]string{}
	finish := map[int64]string{}
	chunks := 0
	for st.Next() {
		ch := st.Current()
		if !acc.AddChunk(ch) {
			t.Fatalf("accumulator refused chunk %s", ch.RawJSON())
		}
		chunks++
		for _, c := range ch.Choices {
			texts[c.Index] += c.Delta.Content
			if c.FinishReason != "" {
				finish[c.Index] = c.FinishReason
			}
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if len(want.Choices) != 2 || chunks < 6 {
		t.Fatalf("%d choices, %d chunks", len(want.Choices), chunks)
	}
	for _, w := range want.Choices {
		if texts[w.Index] != w.Message.Content || finish[w.Index] != w.FinishReason {
			t.Errorf("choice %d: stream %q %q, whole %q %q", w.Index, texts[w.Index], finish[w.Index], w.Message.Content, w.FinishReason)
		}
		a := acc.Choices[w.Index]
		if a.Message.Content != w.Message.Content || a.FinishReason != w.FinishReason || len(a.Logprobs.Content) != len(w.Logprobs.Content) {
			t.Errorf("choice %d: accumulated %q %q %d logprobs, whole %q %q %d", w.Index, a.Message.Content, a.FinishReason,
				len(a.Logprobs.Content), w.Message.Content, w.FinishReason, len(w.Logprobs.Content))
		}
		for k := range min(len(a.Logprobs.Content), len(w.Logprobs.Content)) {
			if a.Logprobs.Content[k].Logprob != w.Logprobs.Content[k].Logprob || a.Logprobs.Content[k].Token != w.Logprobs.Content[k].Token {
				t.Errorf("choice %d token %d: %+v, whole %+v", w.Index, k, a.Logprobs.Content[k], w.Logprobs.Content[k])
			}
		}
	}
	if acc.Usage.TotalTokens != want.Usage.TotalTokens || !strings.HasPrefix(acc.ID, "chatcmpl-") || acc.Model != "tiny" {
		t.Errorf("accumulated usage %+v id %q model %q; whole usage %+v", acc.Usage, acc.ID, acc.Model, want.Usage)
	}

	comp := openai.CompletionNewParams{
		Model:       "tiny",
		Prompt:      openai.CompletionNewParamsPromptUnion{OfArrayOfStrings: []string{"ab", "cd"}},
		N:           openai.Int(2),
		Seed:        openai.Int(7),
		Temperature: openai.Float(1),
		MaxTokens:   openai.Int(20),
		Stop:        openai.CompletionNewParamsStopUnion{OfString: openai.String("e")},
	}
	wantC, err := client.Completions.New(ctx, comp)
	if err != nil {
		t.Fatal(err)
	}
	cs := client.Completions.NewStreaming(ctx, comp)
	texts, finish = map[int64]string{}, map[int64]string{}
	for cs.Next() {
		for _, c := range cs.Current().Choices {
			texts[c.Index] += c.Text
			if c.FinishReason != "" {
				finish[c.Index] = string(c.FinishReason)
			}
		}
	}
	if err := cs.Err(); err != nil {
		t.Fatal(err)
	}
	if len(wantC.Choices) != 4 {
		t.Fatalf("%d choices", len(wantC.Choices))
	}
	for _, w := range wantC.Choices {
		if texts[w.Index] != w.Text || finish[w.Index] != string(w.FinishReason) {
			t.Errorf("completion %d: stream %q %q, whole %q %q", w.Index, texts[w.Index], finish[w.Index], w.Text, w.FinishReason)
		}
	}
}

// BenchmarkCompletions: one request of 16 samples of up to 40 tokens over
// loopback, whole and streamed, reporting generated tokens/s.
func BenchmarkCompletions(b *testing.B) {
	m, err := gpt.New(gpt.Config{Layers: 2, Dim: 64, Heads: 4, MaxSeq: 64}, 1)
	if err != nil {
		b.Fatal(err)
	}
	s, _ := New([]Model{{Name: "m", Model: m}}, Options{})
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, stream := range []bool{false, true} {
		b.Run(map[bool]string{false: "whole", true: "stream"}[stream], func(b *testing.B) {
			body := fmt.Sprintf(`{"model":"m","prompt":"ab","n":16,"max_tokens":40,"seed":1,"stream":%v,"stream_options":{"include_usage":true}}`, stream)
			toks := 0
			for b.Loop() {
				resp, err := http.Post(ts.URL+"/v1/completions", "application/json", strings.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				i := strings.LastIndex(string(raw), `"completion_tokens":`)
				var n int
				fmt.Sscanf(string(raw[i+len(`"completion_tokens":`):]), "%d", &n)
				toks += n
			}
			b.ReportMetric(float64(toks)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
