package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

const structuredSpecTmpl = `settings {
  seed = 3
}

dataset "prompts" {
  source = "prompts.jsonl"
  schema = object({ id = number, text = string })
}

%s

stage "generate" "answers" {
  model       = model.p
  input       = dataset.prompts
  prompt      = "say ${item.text}:"
  samples     = 2
  temperature = 0.9
  max_tokens  = 40
  schema      = object({ answer = number, reasoning = string })
}

stage "generate" "chat" {
  model       = model.c
  input       = dataset.prompts
  messages    = [{ role = "user", content = item.text }]
  temperature = 1.2
  max_tokens  = 30
  schema      = object({ ok = bool, tags = list(string) })
}

stage "judge" "judged" {
  model      = model.p
  input      = stage.answers
  prompt     = "rate ${substr(item.parsed.reasoning, 0, 8)}"
  k          = 2
  max_tokens = 36
  schema     = object({ reasoning = string, score = number })
}

stage "filter" "typed" {
  input = stage.judged
  where = item.parsed.answer >= 0 && item.verdicts[0] != null && item.verdicts[0].score == item.score - item.verdicts[1].score + item.verdicts[0].score
}

output "answers" {
  value = stage.answers
}

output "chat" {
  value = stage.chat
}

output "judged" {
  value = stage.judged
}
`

// TestStructuredServeMatchesBuiltin: a spec whose generate and judge
// stages have a schema gives the same typed records on the builtin
// provider and on the openai provider against ` + "`ouro serve`" + ` (prompts
// through /v1/completions, messages through /v1/chat/completions): the
// schema goes out as response_format, the server decodes under it as the
// builtin provider does, every completion is a document of the schema;
// a re-run of a stage sends nothing (the memo keys include the schema).
func TestStructuredServeMatchesBuiltin(t *testing.T) {
	var requests atomic.Int64
	var formats atomic.Int64
	fx := newServeFixture(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			var b bytes.Buffer
			b.ReadFrom(r.Body)
			if strings.Contains(b.String(), `"response_format":{"type":"json_schema","json_schema":{"name":"response","schema":{"additionalProperties":false`) {
				formats.Add(1)
			}
			r.Body = readCloser{&b}
			h.ServeHTTP(w, r)
		})
	})
	want := runInProcess(t, writeSpecWithPrompts(t, structuredSpecTmpl, builtinModels(fx.ckpt), 6))
	odir := writeSpecWithPrompts(t, structuredSpecTmpl, openaiModels(fx.url, ""), 6)
	got := runInProcess(t, odir)
	if len(want) != 3 {
		t.Fatalf("builtin outputs: %v", want)
	}
	for name, w := range want {
		if g := got[name]; !bytes.Equal(g, w) {
			t.Errorf("output %s differs:\nbuiltin %s\nopenai  %s", name, w, g)
		}
	}
	sent := requests.Load()
	// 6 prompts × 2 samples, 6 chats, 12 × 2 judgements: with n, 6 + 6 + 12.
	if sent != 24 || formats.Load() != sent {
		t.Errorf("%d requests, %d with response_format json_schema", sent, formats.Load())
	}
	answers := readOutput(t, odir, got["answers"])
	distinct := map[string]bool{}
	for _, r := range answers {
		p := r.GetAttr("parsed")
		if p.IsNull() || !p.Type().Equals(cty.Object(map[string]cty.Type{"answer": cty.Number, "reasoning": cty.String})) {
			t.Fatalf("parsed %#v", p)
		}
		distinct[p.GetAttr("reasoning").AsString()] = true
		if !strings.HasPrefix(r.GetAttr("completion").AsString(), `{"answer":`) {
			t.Errorf("completion %q", r.GetAttr("completion").AsString())
		}
	}
	if len(answers) != 12 || len(distinct) < 10 {
		t.Errorf("%d records, %d distinct reasonings", len(answers), len(distinct))
	}
	for _, r := range readOutput(t, odir, got["judged"]) {
		if r.GetAttr("score").IsNull() || r.GetAttr("verdicts").LengthInt() != 2 || r.GetAttr("parsed").IsNull() {
			t.Errorf("judged %#v", r)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"run", odir, "--force", "answers", "--progress=none"}, &out, &errb); code != 0 {
		t.Fatalf("re-run: %d %s", code, errb.String())
	}
	if n := requests.Load(); n != sent {
		t.Errorf("the forced re-run sent %d requests; the memo should answer all", n-sent)
	}
}

type readCloser struct{ *bytes.Buffer }

func (readCloser) Close() error { return nil }

const invalidSpecTmpl = `dataset "prompts" {
  rows   = [{ text = "a" }, { text = "b" }, { text = "c" }]
  schema = object({ text = string })
}

model "m" {
  provider    = "openai"
  base_url    = %q
  name        = "m"
  max_retries = 2
}

stage "generate" "answers" {
  model      = model.m
  input      = dataset.prompts
  prompt     = "say ${item.text}"
  samples    = 2
  schema     = object({ answer = number })
  on_invalid = %q
}
`

// TestStructuredInvalidMemoised: a server that answers a structured
// request with text that is not a document of the schema fails the stage
// naming the record, sample and why; the answer is memoised, so a re-run
// sends nothing and fails the same way (not retried forever), and with
// on_invalid = "null" the same memoised answers give null parsed records,
// counted.
func TestStructuredInvalidMemoised(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		var req struct {
			Messages []struct{ Content string }
			N        int
		}
		json.NewDecoder(r.Body).Decode(&req)
		content := `{"answer": 1}`
		if req.Messages[0].Content == "say b" {
			content = "The answer is 1."
		}
		w.Header().Set("Content-Type", "application/json")
		var choices []string
		for i := 0; i < max(req.N, 1); i++ {
			c, _ := json.Marshal(content)
			choices = append(choices, fmt.Sprintf(`{"index":%d,"message":{"content":%s},"finish_reason":"stop"}`, i, c))
		}
		fmt.Fprintf(w, `{"choices":[%s]}`, strings.Join(choices, ","))
	}))
	defer srv.Close()
	dir := t.TempDir()
	spec := filepath.Join(dir, "main.loop.hcl")
	write := func(onInvalid string) {
		if err := os.WriteFile(spec, []byte(fmt.Sprintf(invalidSpecTmpl, srv.URL+"/v1", onInvalid)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("fail")
	const want = `stage.answers: record 2 ("say b"), sample 0: the response is not JSON: invalid character 'T' looking for beginning of value`
	for attempt := 0; attempt < 2; attempt++ {
		var out, errb bytes.Buffer
		if code := run([]string{"run", dir, "--progress=none"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), want) {
			t.Fatalf("run %d: exit %d, stderr:\n%s", attempt, code, errb.String())
		}
		if n := requests.Load(); n != 3 {
			t.Fatalf("run %d: %d requests in all, want 3 (one per record, n = 2; then none)", attempt, n)
		}
	}
	write("null")
	var out, errb bytes.Buffer
	if code := run([]string{"run", dir, "--json", "--progress=none"}, &out, &errb); code != 0 {
		t.Fatalf("on_invalid null: exit %d\n%s", code, errb.String())
	}
	var r runOut
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if n := requests.Load(); n != 3 || len(r.Stages) == 0 {
		t.Fatalf("%d requests", n)
	}
	for _, s := range r.Stages {
		if s.Address == "stage.answers" && (s.Counts["invalid_responses"] != 2 || s.Counts["requests_sent"] != 0) {
			t.Errorf("counts %v", s.Counts)
		}
	}
}
