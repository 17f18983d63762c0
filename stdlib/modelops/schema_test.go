package modelops_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/modelops"
	"github.com/ouroloop/ouro/stdlib/providers"
)

// schemaLM answers with a function of the prompt and sample index, and
// keeps the schemas its requests carried.
type schemaLM struct {
	fakeLM
	schemas []string
}

func (f *schemaLM) Generate(ctx context.Context, reqs []runtime.GenRequest) ([][]runtime.Completion, error) {
	for _, r := range reqs {
		f.schemas = append(f.schemas, string(r.Schema))
	}
	return f.fakeLM.Generate(ctx, reqs)
}

var answerSchema = cty.Object(map[string]cty.Type{"answer": cty.Number, "reasoning": cty.String})

const answerSchemaJSON = `{"additionalProperties":false,"properties":{"answer":{"type":"number"},"reasoning":{"type":"string"}},"required":["answer","reasoning"],"type":"object"}`

func TestGenerateSchema(t *testing.T) {
	answers := func(p string, i int) string {
		if strings.HasSuffix(p, "1+3") && i == 1 {
			return `Answer: 4` // not JSON
		}
		return `{"answer": 7, "reasoning": "` + p + `"}`
	}
	for _, tc := range []struct {
		onInvalid string
		records   int    // output records
		null      int    // of which parsed is null
		err       string // with fail
	}{
		{"fail", 0, 0, `stage.generate: record 2 ("Q 1+3"), sample 1: the response is not JSON`},
		{"null", 6, 1, ""},
		{"drop", 5, 0, ""},
	} {
		t.Run(tc.onInvalid, func(t *testing.T) {
			h := newHarness(t)
			in := h.dataset(problems(3))
			x := h.exec("generate", map[string]cty.Value{"model": fakeModel(), "input": in, "samples": cty.NumberIntVal(2), "on_invalid": cty.StringVal(tc.onInvalid)},
				map[string]string{"prompt": `"Q ${item.question}"`})
			x.Schemas = map[string]cty.Type{"schema": answerSchema}
			lm := &schemaLM{fakeLM: fakeLM{answer: answers}}
			withFake(x, &lm.fakeLM)
			x.OpenModel = func(context.Context, cty.Value) (runtime.LM, error) { return lm, nil }
			v, err := (&modelops.Generate{}).Run(ctx, x)
			if len(lm.schemas) != 3 {
				t.Fatalf("%d requests", len(lm.schemas))
			}
			for _, s := range lm.schemas {
				if s != answerSchemaJSON {
					t.Fatalf("request schema %s", s)
				}
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			recs := h.read(v)
			if len(recs) != tc.records {
				t.Fatalf("%d records, want %d", len(recs), tc.records)
			}
			nulls := 0
			for _, r := range recs {
				p := r.GetAttr("parsed")
				if !p.Type().Equals(answerSchema) {
					t.Fatalf("parsed is %s", p.Type().FriendlyName())
				}
				if p.IsNull() {
					nulls++
					continue
				}
				if !p.GetAttr("answer").RawEquals(cty.NumberIntVal(7)) || p.GetAttr("reasoning").AsString() != str(r, "prompt") {
					t.Fatalf("parsed = %#v", p)
				}
			}
			if nulls != tc.null || x.Counts["invalid_responses"] != 1 {
				t.Fatalf("%d null parsed, invalid_responses %d", nulls, x.Counts["invalid_responses"])
			}
		})
	}
}

// TestGenerateSchemaEnded: an incomplete document says why it ended: cut
// by max_tokens, or ended by the server, which a server that constrains to
// the schema does only on a stop sequence (Ollama's /v1/completions, which
// ignores response_format, answers "qfdf"). With on_invalid = "null" the
// first such response is a warning.
func TestGenerateSchemaEnded(t *testing.T) {
	for _, tc := range []struct {
		lm        endedLM
		onInvalid string
		want      string
	}{
		{endedLM{`{"answer":12`, "length"}, "fail", `record 1 ("Q 0+0"), sample 0: the response is not JSON`},
		{endedLM{`{"answer":12`, "length"}, "fail", "stopped at max_tokens"},
		{endedLM{`qfdf`, "stop"}, "fail", `finish_reason "stop" before the document was complete: a stop sequence matched, or the server does not constrain`},
		{endedLM{`qfdf`, "stop"}, "null", `finish_reason "stop" before the document was complete`},
	} {
		h := newHarness(t)
		x := h.exec("generate", map[string]cty.Value{"model": fakeModel(), "input": h.dataset(problems(2)), "on_invalid": cty.StringVal(tc.onInvalid)},
			map[string]string{"prompt": `"Q ${item.question}"`})
		x.Schemas = map[string]cty.Type{"schema": answerSchema}
		x.OpenModel = func(context.Context, cty.Value) (runtime.LM, error) { return tc.lm, nil }
		_, err := (&modelops.Generate{}).Run(ctx, x)
		if tc.onInvalid == "fail" {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%+v: err = %v, want %q", tc.lm, err, tc.want)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		// The run names a warning's stage; the text starts at the record.
		if len(x.Warnings) != 1 || !strings.HasPrefix(x.Warnings[0], `record 1 ("Q 0+0"), sample 0: `) || !strings.Contains(x.Warnings[0], tc.want) || x.Counts["invalid_responses"] != 2 {
			t.Errorf("%+v: warnings %q, counts %v", tc.lm, x.Warnings, x.Counts)
		}
	}
}

// endedLM answers every request with one completion: text, ended by finish.
type endedLM struct{ text, finish string }

func (l endedLM) Identity() string { return "ended " + l.finish }
func (l endedLM) Generate(_ context.Context, reqs []runtime.GenRequest) ([][]runtime.Completion, error) {
	out := make([][]runtime.Completion, len(reqs))
	for i := range reqs {
		out[i] = []runtime.Completion{{Text: l.text, FinishReason: l.finish}}
	}
	return out, nil
}

func TestJudgeSchema(t *testing.T) {
	h := newHarness(t)
	st := cty.Object(map[string]cty.Type{"reasoning": cty.String, "score": cty.Number})
	x := h.exec("judge", map[string]cty.Value{"model": fakeModel(), "input": h.dataset(problems(2)), "k": cty.NumberIntVal(3)},
		map[string]string{"prompt": `"Rate ${item.question}"`})
	x.Schemas = map[string]cty.Type{"schema": st}
	lm := &schemaLM{fakeLM: fakeLM{answer: func(p string, i int) string {
		if strings.HasSuffix(p, "0+0") {
			return `{"reasoning":"x","score":"high"}` // never conforms
		}
		return []string{`{"reasoning":"a","score":3}`, `{"reasoning":"b","score":4}`, `Score: 9`}[i]
	}}}
	x.OpenModel = func(context.Context, cty.Value) (runtime.LM, error) { return lm, nil }
	v, err := (&modelops.Judge{}).Run(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	if lm.schemas[0] != `{"additionalProperties":false,"properties":{"reasoning":{"type":"string"},"score":{"type":"number"}},"required":["reasoning","score"],"type":"object"}` {
		t.Fatalf("schema sent: %s", lm.schemas[0])
	}
	recs := h.read(v)
	if !recs[0].GetAttr("score").IsNull() || recs[0].GetAttr("verdicts").LengthInt() != 3 || !recs[0].GetAttr("verdicts").Index(cty.NumberIntVal(0)).IsNull() {
		t.Fatalf("record 1: %#v", recs[0])
	}
	if !recs[1].GetAttr("score").RawEquals(cty.NumberFloatVal(3.5)) {
		t.Fatalf("score = %#v", recs[1].GetAttr("score"))
	}
	p := recs[1].GetAttr("verdicts")
	if p.Index(cty.NumberIntVal(1)).GetAttr("reasoning").AsString() != "b" || !p.Index(cty.NumberIntVal(2)).IsNull() {
		t.Fatalf("parsed = %#v", p)
	}
	if x.Counts["unparsed_judgements"] != 4 || len(x.Warnings) != 1 || !strings.Contains(x.Warnings[0], `record 1 ("Rate 0+0"), sample 0: the response does not match the schema: score: want a number, found a string`) {
		t.Fatalf("counts %v, warnings %q", x.Counts, x.Warnings)
	}
}

// TestGenerateSchemaOpenAI: generate with a schema against a loopback
// OpenAI-compatible server: the schema goes out as response_format, the
// answers come back typed, and an answer that is not a document of the
// schema, or a schema the server refuses, fails the stage naming the
// record, the sample and why.
func TestGenerateSchemaOpenAI(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content func(prompt string) string
		status  int
		err     string
	}{
		{"typed", func(p string) string { return `{"answer": ` + p[len(p)-1:] + `, "reasoning": "r"}` }, 200, ""},
		{"not json", func(p string) string {
			if strings.HasSuffix(p, "3+4") {
				return "The answer is 6"
			}
			return `{"answer":1,"reasoning":"r"}`
		}, 200, `stage.generate: record 4 ("Q 3+4"), sample 0: the response is not JSON`},
		{"not conforming", func(string) string { return `{"answer":"six","reasoning":"r"}` }, 200, `record 1 ("Q 0+0"), sample 0: the response does not match the schema: answer: want a number, found a string`},
		{"refused", nil, 400, `HTTP 400 Bad Request: Invalid schema for response_format 'response'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var formats []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var req struct {
					Messages []struct{ Content string }
					Format   json.RawMessage `json:"response_format"`
				}
				b, _ := io.ReadAll(r.Body)
				json.Unmarshal(b, &req)
				mu.Lock()
				formats = append(formats, string(req.Format))
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				if tc.status != 200 {
					w.WriteHeader(tc.status)
					fmt.Fprint(w, `{"error":{"message":"Invalid schema for response_format 'response'","type":"invalid_request_error"}}`)
					return
				}
				c, _ := json.Marshal(tc.content(req.Messages[0].Content))
				fmt.Fprintf(w, `{"choices":[{"index":0,"message":{"content":%s},"finish_reason":"stop"}]}`, c)
			}))
			defer srv.Close()
			lm := providers.NewOpenAILM(providers.OpenAIConfig{BaseURL: srv.URL + "/v1", Name: "m", API: "chat", Concurrency: 2, Timeout: "5s"}, "", nil)
			h := newHarness(t)
			x := h.exec("generate", map[string]cty.Value{"model": fakeModel(), "input": h.dataset(problems(5)), "temperature": cty.NumberIntVal(0)},
				map[string]string{"prompt": `"Q ${item.question}"`})
			x.Schemas = map[string]cty.Type{"schema": answerSchema}
			x.OpenModel = func(context.Context, cty.Value) (runtime.LM, error) { return lm, nil }
			v, err := (&modelops.Generate{}).Run(ctx, x)
			for _, f := range formats {
				if f != `{"type":"json_schema","json_schema":{"name":"response","schema":`+answerSchemaJSON+`,"strict":true}}` {
					t.Fatalf("response_format sent: %s", f)
				}
			}
			if len(formats) == 0 {
				t.Fatal("nothing sent")
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range h.read(v) {
				q := str(r, "question")
				want := cty.ObjectVal(map[string]cty.Value{"answer": cty.MustParseNumberVal(q[len(q)-1:]), "reasoning": cty.StringVal("r")})
				if !r.GetAttr("parsed").Equals(want).True() {
					t.Fatalf("%s: parsed %#v", q, r.GetAttr("parsed"))
				}
			}
		})
	}
}
