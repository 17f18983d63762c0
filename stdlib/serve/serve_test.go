package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/models/gpt"
	"github.com/ouroloop/ouro/stdlib/providers"
	"github.com/ouroloop/ouro/stdlib/structured"
)

func newTestServer(t *testing.T) (*httptest.Server, *gpt.Model) {
	t.Helper()
	m, err := gpt.New(gpt.Config{Layers: 1, Dim: 32, Heads: 2, MaxSeq: 48}, 5)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New([]Model{{Name: "tiny", Model: m}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, m
}

func post(t *testing.T, url, body string) (int, map[string]any, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	var v map[string]any
	_ = json.Unmarshal([]byte(b.String()), &v)
	return resp.StatusCode, v, b.String()
}

func TestModels(t *testing.T) {
	ts, m := newTestServer(t)
	resp, err := http.Get(ts.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Object string `json:"object"`
		Data   []struct{ ID, Object, Digest string }
	}
	json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if v.Object != "list" || len(v.Data) != 1 || v.Data[0].ID != "tiny" || v.Data[0].Digest != m.Digest() {
		t.Fatalf("models: %+v", v)
	}
}

func TestErrors(t *testing.T) {
	ts, _ := newTestServer(t)
	for _, c := range []struct {
		path, body string
		status     int
		param      string
	}{
		{"/v1/completions", `{`, 400, ""},
		{"/v1/completions", `{"model":"nope","prompt":"x"}`, 404, "model"},
		{"/v1/completions", `{"prompt":"x"}`, 400, "model"},
		{"/v1/completions", `{"model":"tiny"}`, 400, "prompt"},
		{"/v1/completions", `{"model":"tiny","prompt":"x","n":0}`, 400, "n"},
		{"/v1/completions", `{"model":"tiny","prompt":"x","top_p":2}`, 400, "top_p"},
		{"/v1/completions", `{"model":"tiny","prompt":"x","temperature":-1}`, 400, "temperature"},
		{"/v1/completions", `{"model":"tiny","prompt":"x","max_tokens":-1}`, 400, "max_tokens"},
		{"/v1/completions", `{"model":"tiny","prompt":"x","stop":3}`, 400, "stop"},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"tool","content":"x"}]}`, 400, "messages[0].role"},
		{"/v1/chat/completions", `{"model":"tiny","messages":[]}`, 400, "messages"},
		{"/v1/nope", `{}`, 404, ""},
		// What the builtin model cannot honour is refused, naming it.
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}`, 400, "tools"},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"x"}],"response_format":{"type":"grammar"}}`, 400, "response_format"},
		{"/v1/completions", `{"model":"tiny","prompt":"x","response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object","properties":{"a":{"type":"string","enum":["x"]}}}}}}`, 400, "response_format"},
		{"/v1/completions", `{"model":"tiny","prompt":"x","response_format":{"type":"json_schema","json_schema":{"name":"r"}}}`, 400, "response_format"},
		{"/v1/completions", `{"model":"tiny","prompt":"x","response_format":{"type":"xml"}}`, 400, "response_format"},
		{"/v1/completions", `{"model":"tiny","prompt":"x","max_tokens":5,"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object","properties":{"answer":{"type":"number"}}}}}}`, 400, "max_tokens"},
		{"/v1/completions", `{"model":"tiny","prompt":"x","frequency_penalty":0.5}`, 400, "frequency_penalty"},
		{"/v1/completions", `{"model":"tiny","prompt":"x","logit_bias":{"50256":-100}}`, 400, "logit_bias"},
		{"/v1/completions", `{"model":"tiny","prompt":"x","echo":true}`, 400, "echo"},
		{"/v1/completions", `{"model":"tiny","prompt":"x","mirostat":2}`, 400, "mirostat"},
		{"/v1/completions", `{"model":"tiny","prompt":"x","messages":[]}`, 400, "messages"},
	} {
		code, v, raw := post(t, ts.URL+c.path, c.body)
		e, _ := v["error"].(map[string]any)
		if code != c.status || e == nil || e["message"] == "" || e["type"] != "invalid_request_error" {
			t.Errorf("%s %s: %d %s", c.path, c.body, code, raw)
			continue
		}
		if _, ok := e["code"]; !ok {
			t.Errorf("%s %s: no code field: %s", c.path, c.body, raw)
		}
		if p, _ := e["param"].(string); p != c.param {
			t.Errorf("%s %s: param %q, want %q", c.path, c.body, p, c.param)
		}
	}
	resp, err := http.Get(ts.URL + "/v1/completions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET /v1/completions: %d", resp.StatusCode)
	}
}

// TestNeutralParametersAccepted: parameters at their default (or null),
// and those that change nothing sampled, are accepted.
func TestNeutralParametersAccepted(t *testing.T) {
	ts, _ := newTestServer(t)
	for _, body := range []string{
		`{"model":"tiny","prompt":"x","max_tokens":2,"frequency_penalty":0,"presence_penalty":0.0,"logit_bias":{},"echo":false,"best_of":1,"user":"u","suffix":null}`,
		`{"model":"tiny","messages":[{"role":"user","content":"x"}],"max_tokens":2,"tools":[],"tool_choice":"none","response_format":{"type": "text"},"metadata":{"a":"b"},"store":false,"parallel_tool_calls":true}`,
	} {
		path := "/v1/completions"
		if strings.Contains(body, "messages") {
			path = "/v1/chat/completions"
		}
		if code, _, raw := post(t, ts.URL+path, body); code != 200 {
			t.Errorf("%s %s: %d %s", path, body, code, raw)
		}
	}
}

// TestChoicesMatchBuiltin: choice i of a chat request with n = 3 is sample
// i of the builtin provider for the same messages, options and seed.
func TestChoicesMatchBuiltin(t *testing.T) {
	ts, m := newTestServer(t)
	msgs := []runtime.Message{{Role: "system", Content: "hi"}, {Role: "user", Content: "count"}}
	req := runtime.GenRequest{Messages: msgs, N: 3, Temperature: 0.8, TopP: 0.9, TopK: 10, MaxTokens: 12, Seed: 1<<63 + 5, LogProbs: true}
	want, err := (&providers.BuiltinLM{Model: m, Digest: m.Digest()}).Generate(context.Background(), []runtime.GenRequest{req})
	if err != nil {
		t.Fatal(err)
	}
	// The seed on the wire is the openai provider's (the stage seed XOR a
	// hash of the prompt).
	body := fmt.Sprintf(`{"model":"tiny","messages":[{"role":"system","content":"hi"},{"role":"user","content":[{"type":"text","text":"count"}]}],
		"n":3,"temperature":0.8,"top_p":0.9,"top_k":10,"max_tokens":12,"seed":%d,"logprobs":true}`, int64(providers.WireSeed(req, "chat")))
	code, v, raw := post(t, ts.URL+"/v1/chat/completions", body)
	if code != 200 {
		t.Fatalf("%d %s", code, raw)
	}
	var r struct {
		Choices []struct {
			Index    int
			Message  struct{ Content string }
			Logprobs struct{ Content []struct{ Logprob float64 } }
			Finish   string `json:"finish_reason"`
		}
	}
	b, _ := json.Marshal(v)
	json.Unmarshal(b, &r)
	if len(r.Choices) != 3 {
		t.Fatalf("choices: %s", raw)
	}
	for i, c := range r.Choices {
		w := want[0][i]
		lp := 0.0
		for _, t := range c.Logprobs.Content {
			lp += t.Logprob
		}
		if c.Index != i || c.Message.Content != w.Text || c.Finish != w.FinishReason || lp != w.LogProb || len(c.Logprobs.Content) != w.Tokens {
			t.Errorf("choice %d: %+v, builtin %+v", i, c, w)
		}
	}
}

func TestStream(t *testing.T) {
	ts, _ := newTestServer(t)
	code, _, plain := post(t, ts.URL+"/v1/completions", `{"model":"tiny","prompt":["a","b"],"n":2,"seed":3,"max_tokens":5}`)
	if code != 200 {
		t.Fatal(plain)
	}
	var whole struct {
		Choices []struct {
			Index int
			Text  string
		}
	}
	json.Unmarshal([]byte(plain), &whole)
	code, _, raw := post(t, ts.URL+"/v1/completions", `{"model":"tiny","prompt":["a","b"],"n":2,"seed":3,"max_tokens":5,"stream":true,"stream_options":{"include_usage":true}}`)
	if code != 200 || !strings.HasSuffix(raw, "data: [DONE]\n\n") {
		t.Fatalf("%d %q", code, raw)
	}
	texts := map[int]string{}
	usage := false
	for _, line := range strings.Split(raw, "\n") {
		d, ok := strings.CutPrefix(line, "data: ")
		if !ok || d == "[DONE]" {
			continue
		}
		var ev struct {
			Choices []struct {
				Index int
				Text  string
			}
			Usage *struct {
				TotalTokens int `json:"total_tokens"`
			}
		}
		if err := json.Unmarshal([]byte(d), &ev); err != nil {
			t.Fatal(err)
		}
		for _, c := range ev.Choices {
			texts[c.Index] += c.Text
		}
		if ev.Usage != nil && ev.Usage.TotalTokens > 0 {
			usage = true
		}
	}
	if len(whole.Choices) != 4 || len(texts) != 4 || !usage {
		t.Fatalf("whole %+v stream %v usage %v", whole, texts, usage)
	}
	for _, c := range whole.Choices {
		if texts[c.Index] != c.Text {
			t.Errorf("choice %d: stream %q, whole %q", c.Index, texts[c.Index], c.Text)
		}
	}
}

// TestChatTemplate: a model served with a chat template answers a chat
// request exactly as /v1/completions answers the rendered prompt, and a
// conversation the template cannot express is refused.
func TestChatTemplate(t *testing.T) {
	m, err := gpt.New(gpt.Config{Layers: 1, Dim: 32, Heads: 2, MaxSeq: 48}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New([]Model{{Name: "q", Model: m, Chat: "Q: {question}"}}, Options{}); err == nil || !strings.Contains(err.Error(), "{user}") {
		t.Errorf("template without {user}: %v", err)
	}
	s, err := New([]Model{{Name: "q", Model: m, Chat: "{system}Q: {user}\nA:"}, {Name: "plain", Model: m}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	content := func(v map[string]any) string {
		ch, _ := v["choices"].([]any)
		if len(ch) == 0 {
			return "<none>"
		}
		c := ch[0].(map[string]any)
		if msg, ok := c["message"].(map[string]any); ok {
			return msg["content"].(string)
		}
		return c["text"].(string)
	}
	opts := `"max_tokens":6,"temperature":0.8,"seed":3`
	_, want, _ := post(t, ts.URL+"/v1/completions", `{"model":"q","prompt":"be brief. Q: 12+30\nA:",`+opts+`}`)
	code, got, raw := post(t, ts.URL+"/v1/chat/completions", `{"model":"q","messages":[{"role":"system","content":"be brief. "},{"role":"user","content":"12+30"}],`+opts+`}`)
	if code != 200 || content(got) != content(want) {
		t.Errorf("chat with the template: %d %q, want the completion of the rendered prompt %q (%s)", code, content(got), content(want), raw)
	}
	// Without a template, messages render as the builtin provider does.
	_, wantPlain, _ := post(t, ts.URL+"/v1/completions", `{"model":"plain","prompt":"user: 12+30\nassistant:",`+opts+`}`)
	if _, gotPlain, raw := post(t, ts.URL+"/v1/chat/completions", `{"model":"plain","messages":[{"role":"user","content":"12+30"}],`+opts+`}`); content(gotPlain) != content(wantPlain) {
		t.Errorf("chat without a template: %q, want %q (%s)", content(gotPlain), content(wantPlain), raw)
	}
	// A template recorded in the checkpoint is used unless Chat overrides it.
	rec, err := m.WithChatTemplate("Q: {user}\nA:")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := New([]Model{{Name: "recorded", Model: rec}, {Name: "overridden", Model: rec, Chat: "{system}Q: {user}\nA:"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts2 := httptest.NewServer(s2)
	defer ts2.Close()
	for _, c := range []struct{ model, prompt string }{{"recorded", `Q: 12+30\nA:`}, {"overridden", `be brief. Q: 12+30\nA:`}} {
		code, want, raw := post(t, ts2.URL+"/v1/completions", `{"model":"`+c.model+`","prompt":"`+c.prompt+`",`+opts+`}`)
		if code != 200 {
			t.Fatalf("%s: completions %d %s", c.model, code, raw)
		}
		msgs := `[{"role":"user","content":"12+30"}]`
		if c.model == "overridden" {
			msgs = `[{"role":"system","content":"be brief. "},{"role":"user","content":"12+30"}]`
		}
		if _, got, raw := post(t, ts2.URL+"/v1/chat/completions", `{"model":"`+c.model+`","messages":`+msgs+`,`+opts+`}`); content(got) != content(want) {
			t.Errorf("%s: chat %q, want the completion of %q: %q (%s)", c.model, content(got), c.prompt, content(want), raw)
		}
	}
	for _, body := range []string{
		`{"model":"q","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]}`,
		`{"model":"q","messages":[{"role":"system","content":"a"}]}`,
	} {
		code, v, raw := post(t, ts.URL+"/v1/chat/completions", body)
		e, _ := v["error"].(map[string]any)
		if code != 400 || e == nil || e["param"] != "messages" || !strings.Contains(e["message"].(string), "chat template") {
			t.Errorf("%s: %d %s", body, code, raw)
		}
	}
}

// TestStructuredMatchesBuiltin: a request with response_format json_schema
// is answered under the schema: choice i is sample i of the builtin
// provider for the same request with the schema, on both endpoints, and
// every choice is a document of it. A keyword outside the subset is named.
func TestStructuredMatchesBuiltin(t *testing.T) {
	ts, m := newTestServer(t)
	schema := `{"additionalProperties":false,"properties":{"answer":{"type":"number"},"ok":{"type":"boolean"}},"required":["answer","ok"],"type":"object"}`
	node, err := structured.Parse([]byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	for _, chat := range []bool{true, false} {
		req := runtime.GenRequest{Prompt: "2+2=", N: 3, Temperature: 0.9, TopP: 1, MaxTokens: 30, Seed: 77, Schema: []byte(schema)}
		api, path := "completions", "/v1/completions"
		body := `"prompt":"2+2="`
		if chat {
			req.Prompt, req.Messages = "", []runtime.Message{{Role: "user", Content: "2+2="}}
			api, path, body = "chat", "/v1/chat/completions", `"messages":[{"role":"user","content":"2+2="}]`
		}
		want, err := (&providers.BuiltinLM{Model: m, Digest: m.Digest()}).Generate(context.Background(), []runtime.GenRequest{req})
		if err != nil {
			t.Fatal(err)
		}
		code, v, raw := post(t, ts.URL+path, fmt.Sprintf(`{"model":"tiny",%s,"n":3,"temperature":0.9,"max_tokens":30,"seed":%d,"response_format":{"type":"json_schema","json_schema":{"name":"response","schema":%s,"strict":true}}}`,
			body, int64(providers.WireSeed(req, api)), schema))
		if code != 200 {
			t.Fatalf("%d %s", code, raw)
		}
		var r struct {
			Choices []struct {
				Text    string
				Message struct{ Content string }
			}
		}
		b, _ := json.Marshal(v)
		json.Unmarshal(b, &r)
		if len(r.Choices) != 3 {
			t.Fatalf("choices: %s", raw)
		}
		for i, c := range r.Choices {
			text := c.Text
			if chat {
				text = c.Message.Content
			}
			if text != want[0][i].Text {
				t.Errorf("chat %v choice %d: %q, builtin %q", chat, i, text, want[0][i].Text)
			}
			if _, err := structured.Decode(text, node); err != nil {
				t.Errorf("chat %v choice %d: %q: %v", chat, i, text, err)
			}
		}
	}
	// json_object: any JSON object.
	code, v, raw := post(t, ts.URL+"/v1/completions", `{"model":"tiny","prompt":"x","n":8,"max_tokens":30,"temperature":1.5,"response_format":{"type":"json_object"}}`)
	var objs struct{ Choices []struct{ Text string } }
	b, _ := json.Marshal(v)
	json.Unmarshal(b, &objs)
	for _, c := range objs.Choices {
		var o map[string]any
		if err := json.Unmarshal([]byte(c.Text), &o); err != nil {
			t.Errorf("json_object: %q: %v", c.Text, err)
		}
	}
	if code != 200 || len(objs.Choices) != 8 {
		t.Fatalf("json_object: %d %s", code, raw)
	}
	code, v, raw = post(t, ts.URL+"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object","properties":{"a":{"type":"string","minLength":3}}}}}}`)
	if e, _ := v["error"].(map[string]any); code != 400 || e == nil || !strings.Contains(e["message"].(string), `unsupported JSON Schema keyword "minLength" at properties.a`) {
		t.Errorf("minLength: %d %s", code, raw)
	}
}
