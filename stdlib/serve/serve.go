// Package serve is the HTTP handler of `ouro serve`: builtin checkpoints
// (stdlib/models/gpt) behind the OpenAI-compatible API — GET /v1/models,
// POST /v1/chat/completions and POST /v1/completions, with token-by-token
// streaming.
//
// Determinism. Choice i of a request is sample i of gpt.Generate with the
// request's seed and the same SampleOptions the builtin provider uses, and a
// chat request is rendered with providers.ChatPrompt, the builtin provider's
// template. So the openai provider pointed at this server gives the same
// completions as the builtin provider on the same checkpoint: with api =
// "completions" for prompts, and api = "chat" for messages.
//
// Where the package stops: it knows nothing of stores, flags or signals;
// cmd/ouro loads the checkpoints and owns the listener.
package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/models/gpt"
	"github.com/ouroloop/ouro/stdlib/providers"
)

// Model is one served checkpoint.
type Model struct {
	Name  string // the API's model id
	Model *gpt.Model
	// Chat is the prompt a chat request becomes: "" takes the template
	// recorded in the checkpoint (gpt.Model.ChatTemplate, set by a training
	// stage's chat_template), and without one renders the messages
	// as the builtin provider does (providers.ChatPrompt), so a spec's
	// messages give the same completions locally and served; otherwise a
	// template in which {user} is the user message and {system} the
	// system message (or ""), for a model trained on prompts such as
	// "Q: {user}\nA:". A template takes one user message and at most one
	// system message; other conversations are refused.
	Chat string
}

// Options tunes a Server. The zero value is usable.
type Options struct {
	MaxBodyBytes int64                // request body limit; 0: 8 MiB
	MaxN         int                  // largest n; 0: 128
	Now          func() time.Time     // the `created` clock; nil: time.Now
	Log          func(string, ...any) // request errors (5xx); nil: silent
}

// Server is an http.Handler serving models over the OpenAI-compatible API.
// It is safe for concurrent use: models are immutable.
type Server struct {
	models  map[string]*gpt.Model
	chat    map[string]string // Model.Chat by name, when set
	names   []string
	created int64
	opts    Options
	seq     atomic.Uint64

	// stepHook, if set (by tests), is called by streaming requests after
	// the events of each decoding step are flushed.
	stepHook func(ctx context.Context)
}

// New returns a server for models (at least one, names unique and non-empty).
func New(models []Model, opts Options) (*Server, error) {
	if len(models) == 0 {
		return nil, errors.New("serve: no models")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 8 << 20
	}
	if opts.MaxN <= 0 {
		opts.MaxN = 128
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{models: map[string]*gpt.Model{}, chat: map[string]string{}, opts: opts, created: opts.Now().Unix()}
	for _, m := range models {
		if m.Name == "" || m.Model == nil {
			return nil, errors.New("serve: a model needs a name and a checkpoint")
		}
		if _, dup := s.models[m.Name]; dup {
			return nil, fmt.Errorf("serve: model %q given twice", m.Name)
		}
		s.models[m.Name] = m.Model
		chat := m.Chat
		if chat == "" {
			chat = m.Model.ChatTemplate()
		}
		if chat != "" {
			if err := gpt.CheckChatTemplate(chat); err != nil {
				return nil, fmt.Errorf("serve: model %q: %w", m.Name, err)
			}
			s.chat[m.Name] = chat
		}
		s.names = append(s.names, m.Name)
	}
	sort.Strings(s.names)
	return s, nil
}

// apiError is an error in the OpenAI shape.
type apiError struct {
	status int
	Msg    string  `json:"message"`
	Type   string  `json:"type"`
	Param  *string `json:"param"`
	Code   *string `json:"code"`
}

func (e *apiError) Error() string { return e.Msg }

func invalid(param, code, format string, args ...any) *apiError {
	e := &apiError{status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...), Type: "invalid_request_error"}
	if param != "" {
		e.Param = &param
	}
	if code != "" {
		e.Code = &code
	}
	return e
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, &apiError{status: 500, Msg: "encoding the response: " + err.Error(), Type: "server_error"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	var allow string
	switch {
	case path == "/v1/models":
		allow = http.MethodGet
		if r.Method == allow {
			s.listModels(w)
			return
		}
	case strings.HasPrefix(path, "/v1/models/"):
		allow = http.MethodGet
		if r.Method == allow {
			s.getModel(w, strings.TrimPrefix(path, "/v1/models/"))
			return
		}
	case path == "/v1/chat/completions":
		allow = http.MethodPost
		if r.Method == allow {
			s.complete(w, r, true)
			return
		}
	case path == "/v1/completions":
		allow = http.MethodPost
		if r.Method == allow {
			s.complete(w, r, false)
			return
		}
	default:
		e := invalid("", "unknown_url", "Unknown request URL: %s %s", r.Method, r.URL.Path)
		e.status = http.StatusNotFound
		writeError(w, e)
		return
	}
	w.Header().Set("Allow", allow)
	e := invalid("", "method_not_allowed", "Method %s not allowed on %s (use %s)", r.Method, r.URL.Path, allow)
	e.status = http.StatusMethodNotAllowed
	writeError(w, e)
}

type modelInfo struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
	Digest  string `json:"digest"`
}

func (s *Server) info(name string) modelInfo {
	return modelInfo{ID: name, Object: "model", Created: s.created, OwnedBy: "ouro", Digest: s.models[name].Digest()}
}

func (s *Server) listModels(w http.ResponseWriter) {
	data := make([]modelInfo, len(s.names))
	for i, n := range s.names {
		data[i] = s.info(n)
	}
	writeJSON(w, map[string]any{"object": "list", "data": data})
}

func (s *Server) getModel(w http.ResponseWriter, name string) {
	if _, ok := s.models[name]; !ok {
		writeError(w, s.notFound(name))
		return
	}
	writeJSON(w, s.info(name))
}

func (s *Server) notFound(name string) *apiError {
	e := invalid("model", "model_not_found", "The model %q does not exist (served: %s)", name, strings.Join(s.names, ", "))
	e.status = http.StatusNotFound
	return e
}

// request is the union of the chat and completions request bodies, with
// the fields that take several shapes left raw.
type request struct {
	Model            string          `json:"model"`
	Messages         json.RawMessage `json:"messages"`
	Prompt           json.RawMessage `json:"prompt"`
	N                *int            `json:"n"`
	Temperature      *float64        `json:"temperature"`
	TopP             *float64        `json:"top_p"`
	TopK             *int            `json:"top_k"`
	MaxTokens        *int            `json:"max_tokens"`
	MaxCompletionTok *int            `json:"max_completion_tokens"`
	Stop             json.RawMessage `json:"stop"`
	Seed             *int64          `json:"seed"`
	LogProbs         json.RawMessage `json:"logprobs"`
	ResponseFormat   json.RawMessage `json:"response_format"`
	Stream           bool            `json:"stream"`
	StreamOptions    *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// job is a validated request: the prompts to sample and how.
type job struct {
	chat    bool
	model   string
	m       *gpt.Model
	prompts []string
	n       int
	opts    gpt.SampleOptions
	lp      bool
	stream  bool
	usage   bool
}

func isNull(raw json.RawMessage) bool {
	t := strings.TrimSpace(string(raw))
	return t == "" || t == "null"
}

func (s *Server) parse(body []byte, chat bool) (*job, *apiError) {
	var q request
	if err := json.Unmarshal(body, &q); err != nil {
		return nil, invalid("", "invalid_json", "The request body is not valid JSON: %v", err)
	}
	if e := unsupported(body, chat); e != nil {
		return nil, e
	}
	j := &job{chat: chat, model: q.Model, stream: q.Stream}
	if q.Model == "" {
		return nil, invalid("model", "missing_required_parameter", "You must provide a model parameter")
	}
	var ok bool
	if j.m, ok = s.models[q.Model]; !ok {
		return nil, s.notFound(q.Model)
	}
	if chat {
		if isNull(q.Messages) {
			return nil, invalid("messages", "missing_required_parameter", "Missing required parameter: 'messages'")
		}
		msgs, e := parseMessages(q.Messages)
		if e != nil {
			return nil, e
		}
		p, e := s.chatPrompt(q.Model, msgs)
		if e != nil {
			return nil, e
		}
		j.prompts = []string{p}
	} else {
		if isNull(q.Prompt) {
			return nil, invalid("prompt", "missing_required_parameter", "Missing required parameter: 'prompt'")
		}
		var one string
		if err := json.Unmarshal(q.Prompt, &one); err == nil {
			j.prompts = []string{one}
		} else if err := json.Unmarshal(q.Prompt, &j.prompts); err != nil || len(j.prompts) == 0 {
			return nil, invalid("prompt", "invalid_type", "prompt must be a string or a non-empty array of strings (token arrays are not supported)")
		}
	}
	j.n = 1
	if q.N != nil {
		j.n = *q.N
	}
	if j.n < 1 || j.n > s.opts.MaxN {
		return nil, invalid("n", "invalid_value", "n must be between 1 and %d, not %d", s.opts.MaxN, j.n)
	}
	o := gpt.SampleOptions{Temperature: 1, TopP: 1}
	if q.Temperature != nil {
		o.Temperature = *q.Temperature
	}
	if o.Temperature < 0 {
		return nil, invalid("temperature", "invalid_value", "temperature must be at least 0, not %g", o.Temperature)
	}
	if q.TopP != nil {
		o.TopP = *q.TopP
	}
	if o.TopP < 0 || o.TopP > 1 {
		return nil, invalid("top_p", "invalid_value", "top_p must be between 0 and 1, not %g", o.TopP)
	}
	if q.TopK != nil {
		o.TopK = *q.TopK
	}
	if o.TopK < 0 {
		return nil, invalid("top_k", "invalid_value", "top_k must be at least 0, not %d", o.TopK)
	}
	mt, mtName := q.MaxTokens, "max_tokens"
	if q.MaxCompletionTok != nil {
		mt, mtName = q.MaxCompletionTok, "max_completion_tokens"
	}
	if mt != nil {
		o.MaxTokens = *mt
	}
	if o.MaxTokens < 0 {
		return nil, invalid(mtName, "invalid_value", "%s must be at least 0, not %d", mtName, o.MaxTokens)
	}
	if !isNull(q.Stop) {
		var one string
		if err := json.Unmarshal(q.Stop, &one); err == nil {
			o.Stop = []string{one}
		} else if err := json.Unmarshal(q.Stop, &o.Stop); err != nil {
			return nil, invalid("stop", "invalid_type", "stop must be a string or an array of strings")
		}
	}
	if q.Seed != nil {
		o.Seed = uint64(*q.Seed)
	}
	// The seed on the wire is the openai provider's: the stage's seed XOR
	// a hash of the prompt (providers.WireSeed). Undo that per prompt, so
	// choice i is sample i of the builtin provider for the stage.
	o.PromptSeeds = make([]uint64, len(j.prompts))
	for p, prompt := range j.prompts {
		o.PromptSeeds[p] = providers.StageSeed(o.Seed, prompt)
	}
	if !isNull(q.LogProbs) {
		var b bool
		var k int
		switch {
		case chat && json.Unmarshal(q.LogProbs, &b) == nil:
			j.lp = b
		case !chat && json.Unmarshal(q.LogProbs, &k) == nil && k >= 0:
			j.lp = true // the sampled token's logprob; no alternatives are listed
		case chat:
			return nil, invalid("logprobs", "invalid_type", "logprobs must be a boolean")
		default:
			return nil, invalid("logprobs", "invalid_type", "logprobs must be a whole number ≥ 0")
		}
	}
	o.LogProbs = j.lp
	if e := responseFormat(j.m, q.ResponseFormat, &o); e != nil {
		return nil, e
	}
	if o.Constrain != nil {
		// Room for the schema's shortest document (gpt refuses less).
		need := o.Constrain().MinClose()
		for _, p := range j.prompts {
			room := j.m.Config().MaxSeq - len([]rune(p)) - 1
			if o.MaxTokens > 0 {
				room = min(room, o.MaxTokens)
			}
			if room < need {
				return nil, invalid(mtName, "invalid_value", "the shortest document of the response_format schema is %d tokens, more than the %d this request leaves (%s, and the model's context of %d tokens less the prompt)", need, room, mtName, j.m.Config().MaxSeq)
			}
		}
	}
	j.opts = o
	j.usage = q.StreamOptions != nil && q.StreamOptions.IncludeUsage
	return j, nil
}

// Parameters beyond those request reads. noOps are accepted as they do
// not change what is sampled; neutral ones are accepted when they have
// their default value (null counts as one); anything else is refused
// with a 400 naming it, as OpenAI refuses an unknown argument, rather
// than silently answering as if it were not there.
var (
	readParams = map[string]bool{
		"model": true, "n": true, "temperature": true, "top_p": true, "top_k": true, "max_tokens": true,
		"max_completion_tokens": true, "stop": true, "seed": true, "logprobs": true, "stream": true, "stream_options": true,
		"response_format": true,
	}
	noOpParams = map[string]bool{"user": true, "metadata": true, "store": true}
	// neutral maps a parameter to the JSON values that mean "as if absent".
	neutral = map[string][]string{
		"frequency_penalty": {"0", "0.0"}, "presence_penalty": {"0", "0.0"},
		"logit_bias": {"{}"}, "echo": {"false"}, "best_of": {"1"}, "top_logprobs": {"0"},
		"tools": {"[]"}, "functions": {"[]"}, "tool_choice": {`"none"`}, "function_call": {`"none"`},
		"parallel_tool_calls": {"false", "true"}, "suffix": {`""`},
	}
)

// responseFormat reads response_format: text (or none) samples freely;
// json_schema samples under the schema with the builtin provider's
// constrained decoder (providers.Constrainer), so a served model answers
// a structured request as the builtin provider would; json_object samples
// any JSON object, compact. A schema outside the decoder's subset is
// refused naming the keyword, as is any other type.
func responseFormat(m *gpt.Model, raw json.RawMessage, o *gpt.SampleOptions) *apiError {
	if isNull(raw) {
		return nil
	}
	var rf struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
			Strict *bool           `json:"strict"`
		} `json:"json_schema"`
	}
	if err := json.Unmarshal(raw, &rf); err != nil {
		return invalid("response_format", "invalid_type", "response_format must be an object such as {\"type\": \"json_schema\", \"json_schema\": {…}}")
	}
	switch rf.Type {
	case "text":
		return nil
	case "json_schema":
		if rf.JSONSchema == nil || isNull(rf.JSONSchema.Schema) {
			return invalid("response_format", "missing_required_parameter", "response_format of type json_schema needs json_schema.schema")
		}
		c, err := providers.Constrainer(m, rf.JSONSchema.Schema)
		if err != nil {
			return invalid("response_format", "unsupported_value", "ouro serve cannot honour this json_schema: %v", err)
		}
		o.Constrain = c
		return nil
	case "json_object":
		c, err := providers.JSONObjectConstrainer(m)
		if err != nil {
			return invalid("response_format", "unsupported_value", "ouro serve cannot honour json_object: %v", err)
		}
		o.Constrain = c
		return nil
	}
	return invalid("response_format", "unsupported_value", "response_format type must be text or json_schema, not %q", rf.Type)
}

func unsupported(body []byte, chat bool) *apiError {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return nil // not an object: request's own decoding said so already
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		raw := fields[k]
		switch {
		case readParams[k], noOpParams[k]:
			continue
		case k == "messages" && chat, k == "prompt" && !chat:
			continue
		case k == "messages" || k == "prompt":
			other := "messages"
			if chat {
				other = "prompt"
			}
			return invalid(k, "unsupported_parameter", "%s is not a parameter of this endpoint (it takes %s)", k, other)
		}
		if isNull(raw) {
			continue
		}
		var compact bytes.Buffer
		if json.Compact(&compact, raw) == nil && slices.Contains(neutral[k], compact.String()) {
			continue
		}
		if _, known := neutral[k]; known {
			return invalid(k, "unsupported_parameter", "ouro serve does not support %s (the builtin model cannot honour %s); leave it out", k, compact.String())
		}
		return invalid(k, "unsupported_parameter", "Unrecognized request argument supplied: %s", k)
	}
	return nil
}

// chatPrompt renders a chat request's messages for model name: with its
// template (Model.Chat), or as the builtin provider does.
func (s *Server) chatPrompt(name string, msgs []runtime.Message) (string, *apiError) {
	tmpl, ok := s.chat[name]
	if !ok {
		return providers.ChatPrompt(msgs), nil
	}
	var user, system string
	users, systems := 0, 0
	for _, m := range msgs {
		switch m.Role {
		case "user":
			user, users = m.Content, users+1
		case "system", "developer":
			system, systems = m.Content, systems+1
		default:
			return "", invalid("messages", "unsupported_value", "model %q is served with the chat template %q, which takes one user message and at most one system message, not a %s message", name, tmpl, m.Role)
		}
	}
	if users != 1 || systems > 1 {
		return "", invalid("messages", "unsupported_value", "model %q is served with the chat template %q, which takes one user message and at most one system message (got %d user, %d system)", name, tmpl, users, systems)
	}
	return gpt.RenderChat(tmpl, user, system), nil
}

// parseMessages reads chat messages: content a string or an array of text
// parts.
func parseMessages(raw json.RawMessage) ([]runtime.Message, *apiError) {
	var ms []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(raw, &ms); err != nil || len(ms) == 0 {
		return nil, invalid("messages", "invalid_type", "messages must be a non-empty array of {role, content}")
	}
	out := make([]runtime.Message, len(ms))
	for i, m := range ms {
		param := fmt.Sprintf("messages[%d]", i)
		switch m.Role {
		case "system", "developer", "user", "assistant":
		default:
			return nil, invalid(param+".role", "invalid_value", "role must be system, developer, user or assistant, not %q", m.Role)
		}
		var text string
		if err := json.Unmarshal(m.Content, &text); err != nil {
			var parts []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			}
			if err := json.Unmarshal(m.Content, &parts); err != nil {
				return nil, invalid(param+".content", "invalid_type", "content must be a string or an array of text parts")
			}
			var b strings.Builder
			for k, p := range parts {
				if p.Type != "text" {
					return nil, invalid(fmt.Sprintf("%s.content[%d].type", param, k), "invalid_value", "only text content parts are supported, not %q", p.Type)
				}
				b.WriteString(p.Text)
			}
			text = b.String()
		}
		out[i] = runtime.Message{Role: m.Role, Content: text}
	}
	return out, nil
}

func (s *Server) complete(w http.ResponseWriter, r *http.Request, chat bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			e := invalid("", "request_too_large", "The request body is larger than %d bytes", s.opts.MaxBodyBytes)
			e.status = http.StatusRequestEntityTooLarge
			writeError(w, e)
			return
		}
		writeError(w, invalid("", "", "Reading the request body: %v", err))
		return
	}
	j, e := s.parse(body, chat)
	if e != nil {
		writeError(w, e)
		return
	}
	id := fmt.Sprintf("%s-%d-%d", map[bool]string{true: "chatcmpl", false: "cmpl"}[chat], s.created, s.seq.Add(1))
	if j.stream {
		s.stream(w, r, j, id)
		return
	}
	res, err := j.m.Generate(r.Context(), j.prompts, j.n, j.opts)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	writeJSON(w, s.response(j, id, res))
}

// failed answers a request whose generation failed before anything was
// sent.
func (s *Server) failed(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client went away
	}
	if s.opts.Log != nil {
		s.opts.Log("serve: %s: %v", r.URL.Path, err)
	}
	writeError(w, &apiError{status: http.StatusInternalServerError, Msg: "generation failed: " + err.Error(), Type: "server_error"})
}

// choices lists the completions in index order: prompt p's sample i is
// choice p·n + i.
func each(j *job, res [][]gpt.Completion, f func(index int, c gpt.Completion)) {
	for p := range res {
		for i, c := range res[p] {
			f(p*j.n+i, c)
		}
	}
}

func promptTokens(prompts []string) int {
	t := 0
	for _, p := range prompts {
		t += len([]rune(p)) + 1 // characters and BOS
	}
	return t
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func usageOf(j *job, res [][]gpt.Completion) usage {
	u := usage{PromptTokens: promptTokens(j.prompts)}
	each(j, res, func(_ int, c gpt.Completion) { u.CompletionTokens += c.Tokens })
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// tokenPieces are the per-token strings of a completion, or of a streamed
// chunk of it, for logprobs: one character of the text per token (the
// tokenizer is character level), and "" for the n-th and later tokens when
// the text has fewer characters — EOS and the tokens of a stop string,
// which are not in the text.
func tokenPieces(text string, n int) []string {
	out := make([]string, n)
	i := 0
	for _, r := range text {
		if i == n {
			break
		}
		out[i] = string(r)
		i++
	}
	return out
}

type chatTokenLP struct {
	Token       string  `json:"token"`
	LogProb     float64 `json:"logprob"`
	Bytes       []int   `json:"bytes"`
	TopLogProbs []any   `json:"top_logprobs"`
}

// chatLogProbs is the chat logprobs object of the tokens with these
// texts and log-probabilities.
func chatLogProbs(pieces []string, lps []float64) any {
	content := make([]chatTokenLP, len(lps))
	for i, lp := range lps {
		b := make([]int, len(pieces[i]))
		for k := range len(pieces[i]) {
			b[k] = int(pieces[i][k])
		}
		content[i] = chatTokenLP{Token: pieces[i], LogProb: lp, Bytes: b, TopLogProbs: []any{}}
	}
	return map[string]any{"content": content}
}

// textLogProbs is the completions logprobs object of the tokens with these
// texts and log-probabilities, the first at byte off of the choice's text.
func textLogProbs(pieces []string, lps []float64, off int) any {
	offs := make([]int, len(pieces))
	for i, p := range pieces {
		offs[i] = off
		off += len(p)
	}
	return map[string]any{"tokens": pieces, "token_logprobs": lps, "top_logprobs": nil, "text_offset": offs}
}

// logProbs is a choice's logprobs object in the request's API shape (nil
// when not asked for); offset is where text starts in the choice (the
// completions API's text_offset counts from there).
func (j *job) logProbs(text string, lps []float64, offset int) any {
	if !j.lp {
		return nil
	}
	pieces := tokenPieces(text, len(lps))
	if j.chat {
		return chatLogProbs(pieces, lps)
	}
	return textLogProbs(pieces, lps, offset)
}

func (s *Server) response(j *job, id string, res [][]gpt.Completion) map[string]any {
	choices := make([]map[string]any, 0, len(j.prompts)*j.n)
	each(j, res, func(idx int, c gpt.Completion) {
		lp := j.logProbs(c.Text, c.TokenLogProbs, 0)
		if j.chat {
			choices = append(choices, map[string]any{
				"index":         idx,
				"message":       map[string]any{"role": "assistant", "content": c.Text, "refusal": nil},
				"logprobs":      lp,
				"finish_reason": c.FinishReason,
			})
		} else {
			choices = append(choices, map[string]any{
				"index":         idx,
				"text":          c.Text,
				"logprobs":      lp,
				"finish_reason": c.FinishReason,
			})
		}
	})
	obj := "text_completion"
	if j.chat {
		obj = "chat.completion"
	}
	return map[string]any{
		"id": id, "object": obj, "created": s.opts.Now().Unix(), "model": j.model,
		"system_fingerprint": j.m.Digest(), "choices": choices, "usage": usageOf(j, res),
	}
}

// stream answers with server-sent events as the model samples: after each
// decoding step, one chunk per choice that released text (its delta, and
// the logprobs of its tokens), and one with the finish reason when a choice
// ends; the events of a step are flushed together. Chat streams start with
// a chunk per choice carrying the role. If the client goes away, the
// request's context is cancelled and generation stops at the next step; a
// failed write stops it too.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, j *job, id string) {
	ctx := r.Context()
	obj := "text_completion"
	if j.chat {
		obj = "chat.completion.chunk"
	}
	ev := &sseWriter{w: w, env: map[string]any{"id": id, "object": obj, "created": s.opts.Now().Unix(),
		"model": j.model, "system_fingerprint": j.m.Digest()}}
	if j.usage {
		ev.env["usage"] = nil
	}
	ev.rc = http.NewResponseController(w)
	started := false
	start := func() {
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("Connection", "keep-alive")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		started = true
		if j.chat {
			for idx := range len(j.prompts) * j.n {
				ev.send(map[string]any{"index": idx, "delta": map[string]any{"role": "assistant", "content": ""},
					"logprobs": nil, "finish_reason": nil})
			}
		}
	}
	offs := make([]int, len(j.prompts)*j.n) // bytes of text sent per choice
	res, err := j.m.GenerateStream(ctx, j.prompts, j.n, j.opts, func(cs []gpt.Chunk) error {
		if !started {
			start()
		}
		for _, c := range cs {
			idx := c.Prompt*j.n + c.Index
			if c.Text != "" || len(c.TokenLogProbs) > 0 {
				lp := j.logProbs(c.Text, c.TokenLogProbs, offs[idx])
				offs[idx] += len(c.Text)
				if j.chat {
					ev.send(map[string]any{"index": idx, "delta": map[string]any{"content": c.Text},
						"logprobs": lp, "finish_reason": nil})
				} else {
					ev.send(map[string]any{"index": idx, "text": c.Text, "logprobs": lp, "finish_reason": nil})
				}
			}
			if c.Done != nil {
				if j.chat {
					ev.send(map[string]any{"index": idx, "delta": map[string]any{}, "logprobs": nil,
						"finish_reason": c.Done.FinishReason})
				} else {
					ev.send(map[string]any{"index": idx, "text": "", "logprobs": nil,
						"finish_reason": c.Done.FinishReason})
				}
			}
		}
		ev.flush()
		if s.stepHook != nil {
			s.stepHook(ctx)
		}
		return ev.err
	})
	if err != nil {
		switch {
		case !started:
			s.failed(w, r, err)
		case ctx.Err() != nil || ev.err != nil:
			// The client went away (or the events could not be encoded: an
			// error event was sent).
		default:
			if s.opts.Log != nil {
				s.opts.Log("serve: %s: %v", r.URL.Path, err)
			}
			ev.raw(map[string]any{"error": &apiError{Msg: "generation failed: " + err.Error(), Type: "server_error"}})
			ev.flush()
		}
		return
	}
	if !started {
		start()
	}
	if j.usage {
		ev.env["usage"] = usageOf(j, res)
		ev.env["choices"] = []any{}
		ev.raw(ev.env)
	}
	ev.done()
}

// sseWriter writes the events of a stream, remembering the first error.
type sseWriter struct {
	w   io.Writer
	rc  *http.ResponseController
	env map[string]any // the chunk envelope: id, object, created, …
	err error
}

// send writes a chunk with one choice.
func (e *sseWriter) send(choice map[string]any) {
	e.env["choices"] = []any{choice}
	e.raw(e.env)
}

// raw writes v as an event.
func (e *sseWriter) raw(v any) {
	if e.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil { // NaN log-probabilities from a broken checkpoint
		b, _ = json.Marshal(map[string]any{"error": &apiError{Msg: "encoding the response: " + err.Error(), Type: "server_error"}})
		e.err = err
	}
	if _, werr := fmt.Fprintf(e.w, "data: %s\n\n", b); werr != nil && e.err == nil {
		e.err = werr
	}
}

func (e *sseWriter) done() {
	if e.err == nil {
		_, e.err = io.WriteString(e.w, "data: [DONE]\n\n")
	}
	e.flush()
}

// flush sends what was written; a failure (the connection is gone) is
// remembered.
func (e *sseWriter) flush() {
	if err := e.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) && e.err == nil {
		e.err = err
	}
}
