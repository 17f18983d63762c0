package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang/pattern"
	"github.com/ouroloop/ouro/runtime/dataset"
	"github.com/ouroloop/ouro/runtime/store"
)

// Operator is the runtime half of an operator; the compiler checked its
// signature (compiler.Signature of the same Name).
type Operator interface {
	Name() string
	// Version is the implementation version. It is part of every cache
	// key: bump it whenever the operator's results change for the same
	// inputs, and cached results of older versions re-run ("operator
	// upgraded").
	Version() int
	// Run computes the stage's value: a dataset (DatasetVal), or an object
	// such as { model, loss, examples } or { metrics, items }, matching the
	// type the compiler inferred (x.Node.Type). Everything it writes goes
	// through x.Blobs; a failed Run leaves no reference to partial output.
	Run(ctx context.Context, x *Exec) (cty.Value, error)
}

// FileWriter is implemented by operators whose stages also write files
// outside the store (export). A cached stage whose file is gone runs again
// ("output file … is missing"), as make rebuilds a deleted target.
type FileWriter interface {
	// OutputFiles returns the files a stage with these evaluated value
	// parameters (x.Params) writes: absolute, or relative to the spec's
	// directory.
	OutputFiles(x *Exec) []string
}

// Provider is the runtime half of a model provider.
type Provider interface {
	Name() string
	Version() int
	// Resolve turns a model block's evaluated arguments into a model
	// value with a content identity (for builtin: the checkpoint digest,
	// writing a freshly initialised checkpoint to the blob store; for
	// openai: a hash of base URL, model name and revision — never the key).
	Resolve(ctx context.Context, x *Exec) (compiler.ModelRef, error)
	// Open returns a client for a model value of this provider.
	Open(ctx context.Context, ref compiler.ModelRef, env *Env) (LM, error)
}

// Library is the set of operator and provider implementations the runtime
// runs. Package stdlib provides the standard one.
type Library interface {
	Operator(name string) (Operator, bool)
	Provider(name string) (Provider, bool)
	// Signature returns the compiler signature of an operator or provider,
	// so the runtime can fill in parameter defaults.
	Signatures() compiler.Registry
}

// LM is a model a stage can sample from.
type LM interface {
	// Identity is the provider and model identity that keys the memo.
	Identity() string
	// Generate answers each request with req.N completions. Completion i
	// of a request must depend only on the model, the request and i (not on
	// N or the other requests), so memoised samples stay valid. When it
	// fails (or ctx is cancelled) it may still return a slice of len(reqs)
	// holding the completions of the requests it did finish (nil for the
	// others): the runtime memoises those, so they are not sent again.
	Generate(ctx context.Context, reqs []GenRequest) ([][]Completion, error)
}

// Streamer is implemented by models that answer a call's requests one by
// one (a remote server, a request per prompt). GenerateEach is Generate
// that also calls done for each request as its answer arrives, from any
// goroutine; the runtime memoises each answer then, not when the whole
// call ends, so a process killed halfway through a call loses only the
// requests in flight.
type Streamer interface {
	GenerateEach(ctx context.Context, reqs []GenRequest, done func(i int, c []Completion)) ([][]Completion, error)
}

// SampleStreamer is implemented by models that can be asked for some
// samples of a request only, and answer sample by sample (a remote server
// that may return fewer choices than n). GenerateSamples answers sample
// want[j][k] of reqs[j] for every j and k (want[j] ascending, each below
// reqs[j].N), calling done for each as it arrives, from any goroutine:
// the runtime memoises each sample then, so an interrupted call loses only
// the samples in flight and a re-run asks for none it already has. report
// (may be nil) receives what the server did (store.ServerStats), in parts
// to be added up. A failure names its request with a *RequestError.
type SampleStreamer interface {
	GenerateSamples(ctx context.Context, reqs []GenRequest, want [][]int, done func(j, i int, c Completion), report func(ServerStats)) error
}

// ServerStats is what a model server did for a stage (run record).
type ServerStats = store.ServerStats

// RequestError is a failure of one request of a Generate call: Request is
// its index in the call, Sample the sample index (-1: the whole request).
// Callers re-number Request to what they sent (the memo to its caller's
// requests, an operator to the record).
type RequestError struct {
	Model   string // "openai model m (http://…)"
	Request int
	// Label replaces "request N" in the message when set ("record 18").
	Label string
	// Sample … Last are the samples the failed request asked for
	// (Sample -1: the whole request).
	Sample, Last int
	Prompt       string // a prefix of the prompt, for the message
	Err          error
}

func (e *RequestError) Error() string {
	var b strings.Builder
	if e.Model != "" {
		b.WriteString(e.Model + ": ")
	}
	if e.Label != "" {
		b.WriteString(e.Label)
	} else {
		fmt.Fprintf(&b, "request %d", e.Request)
	}
	fmt.Fprintf(&b, " (%q)", e.Prompt)
	switch {
	case e.Sample < 0:
	case e.Last > e.Sample:
		fmt.Fprintf(&b, ", samples %d–%d", e.Sample, e.Last)
	default:
		fmt.Fprintf(&b, ", sample %d", e.Sample)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *RequestError) Unwrap() error { return e.Err }

// Pipeliner is implemented by models that serve several Generate calls at
// once within their own concurrency limit (a remote server behind a
// shared semaphore). InFlight is that limit: operators keep about twice as
// many requests outstanding, across calls, so a call's slowest request does
// not leave the others idle.
type Pipeliner interface {
	InFlight() int
}

// Scorer is implemented by models that can score a continuation.
type Scorer interface {
	LogProb(ctx context.Context, prompt, continuation string) (float64, error)
}

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// GenRequest is one generation request. Its canonical JSON (without N) plus
// the sample index keys the per-request memo.
type GenRequest struct {
	Prompt      string    `json:"prompt,omitempty"`
	Messages    []Message `json:"messages,omitempty"`
	N           int       `json:"-"`
	Temperature float64   `json:"temperature"`
	TopP        float64   `json:"top_p"`
	TopK        int       `json:"top_k"`
	MaxTokens   int       `json:"max_tokens"`
	Stop        []string  `json:"stop,omitempty"`
	Seed        uint64    `json:"seed"`
	LogProbs    bool      `json:"logprobs,omitempty"`
	// Schema, when set, is the JSON Schema of a structured response
	// (package stdlib/structured: compact, keys sorted, so the same schema
	// always keys the memo the same way): the completion's text must be a
	// JSON document of it.
	Schema json.RawMessage `json:"schema,omitempty"`
}

// Completion is one sampled completion.
type Completion struct {
	Text         string  `json:"text"`
	FinishReason string  `json:"finish_reason"`
	LogProb      float64 `json:"logprob,omitempty"`
	Tokens       int     `json:"tokens,omitempty"`
}

// Env is what providers see of the run: the blob store (for checkpoints),
// the spec's directory, a scratch directory and a logger.
type Env struct {
	Blobs   store.BlobStore
	SpecDir string
	Scratch string
	Log     *slog.Logger
}

// Progress receives item-level progress of a running stage.
type Progress interface {
	SetTotal(n int64)
	Add(n int64)
}

// Memo is the per-request memo (store.Memo satisfies it).
type Memo interface {
	Get(key []byte) ([]byte, bool, error)
	Put(key, value []byte) error
}

// Exec is everything an operator's Run sees.
type Exec struct {
	Node *compiler.Node
	Sig  *compiler.Signature
	// Params holds every ModeValue parameter: the evaluated value, or the
	// signature's default when the spec omits it (cty.NullVal of the
	// parameter's type when there is neither).
	Params   map[string]cty.Value
	Items    map[string]*ItemExpr // per-item parameters present in the spec
	Patterns map[string]*pattern.Pattern
	Schemas  map[string]cty.Type
	// Seed is the stage's seed: the spec's seed mixed with the node address.
	Seed     uint64
	Blobs    store.BlobStore
	Memo     Memo
	Env      *Env
	Log      *slog.Logger
	Progress Progress
	// Counts are reported in the run record (e.g. "skipped", "dropped").
	Counts map[string]int64
	// Warnings are what the user should know about a stage that worked
	// (an empty input, an inferred schema): printed with its progress and
	// kept in the run record. Add them with Warn.
	Warnings []string
	// OpenModel returns a client for a model value (the runtime resolves
	// the provider); calls through it are memoised.
	OpenModel func(ctx context.Context, m cty.Value) (LM, error)
	// Worker names the machine that ran the stage when a StageRunner ran
	// it elsewhere (empty: this process). It goes into the run record.
	Worker string
	// Servers is what the servers of the stage's remote models did, by
	// model identity (run record). Add to it with AddServer.
	Servers map[string]*store.ServerStats
}

// AddServer adds a model server's report to the stage's (see Servers).
func (x *Exec) AddServer(identity string, d store.ServerStats) {
	if x.Servers == nil {
		x.Servers = map[string]*store.ServerStats{}
	}
	s := x.Servers[identity]
	if s == nil {
		s = &store.ServerStats{}
		x.Servers[identity] = s
	}
	s.Add(d)
}

// Count adds n to a named counter of the run record.
func (x *Exec) Count(name string, n int64) {
	if x.Counts == nil {
		x.Counts = map[string]int64{}
	}
	x.Counts[name] += n
}

// Warn records a warning for the user (see Warnings) and logs it.
func (x *Exec) Warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	x.Warnings = append(x.Warnings, msg)
	if x.Log != nil {
		x.Log.Warn(msg, "stage", x.Node.Address)
	}
}

// Param returns a value parameter (never cty.NilVal).
func (x *Exec) Param(name string) cty.Value {
	if v, ok := x.Params[name]; ok {
		return v
	}
	return cty.DynamicVal
}

// Dataset returns the dataset reference held by a parameter.
func (x *Exec) Dataset(name string) (*compiler.DatasetRef, error) {
	v := x.Param(name)
	if v.IsNull() || !v.IsKnown() || !compiler.IsDatasetType(v.Type()) {
		return nil, fmt.Errorf("%s: parameter %q is not a dataset", x.Node.Address, name)
	}
	return v.EncapsulatedValue().(*compiler.DatasetRef), nil
}

// Open opens the dataset held by a parameter for streaming reads.
func (x *Exec) Open(name string) (*dataset.Reader, io.Closer, error) {
	ref, err := x.Dataset(name)
	if err != nil {
		return nil, nil, err
	}
	return dataset.OpenBlob(x.Blobs, store.Digest(ref.Digest))
}

// OutputElem is the record type of the stage's output dataset as the
// compiler inferred it (cty.DynamicPseudoType when unknown).
func (x *Exec) OutputElem() cty.Type {
	t, err := compiler.UnmarshalType(x.Node.Type)
	if err != nil {
		return cty.DynamicPseudoType
	}
	if compiler.IsDatasetType(t) {
		return compiler.DatasetElem(t)
	}
	return cty.DynamicPseudoType
}

// WriteDataset writes records through fill into a new dataset blob and
// returns its value. Nothing is referenced if fill fails.
func (x *Exec) WriteDataset(schema cty.Type, fill func(write func(rec cty.Value) error) error) (cty.Value, error) {
	d, n, err := dataset.WriteBlob(x.Blobs, schema, fill)
	if err != nil {
		return cty.NilVal, err
	}
	return compiler.DatasetVal(compiler.DatasetRef{Digest: string(d), Count: n, Schema: schema}), nil
}

// ItemExpr is a per-item parameter: an expression evaluated once per
// record with `item` (and any other per-item names) bound.
type ItemExpr struct {
	Name string
	Expr hcl.Expression
	// Scope holds the node's non-item references (var, state, stages…),
	// already evaluated.
	Scope *hcl.EvalContext

	bareOnce sync.Once
	bare     []string // for `item.a.b`: ["a", "b"]
}

// Eval evaluates the expression with the given per-item names bound.
func (e *ItemExpr) Eval(vars map[string]cty.Value) (cty.Value, error) {
	ctx := e.Scope.NewChild()
	ctx.Variables = vars
	v, diags := e.Expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, diagError(diags)
	}
	return v, nil
}

// EvalItem evaluates the expression for one record. A bare reference to a
// field (`item.completion`, `item.parsed.answer`), the commonest per-item
// argument, is read from the record without HCL when every step is an
// attribute of a known, non-null object; anything else is evaluated (and
// its errors worded) by HCL.
func (e *ItemExpr) EvalItem(item cty.Value) (cty.Value, error) {
	e.bareOnce.Do(e.findBare)
	if e.bare != nil {
		v := item
		ok := true
		for _, name := range e.bare {
			if v.IsNull() || !v.IsKnown() || v.IsMarked() || !v.Type().IsObjectType() || !v.Type().HasAttribute(name) {
				ok = false
				break
			}
			v = v.GetAttr(name)
		}
		if ok {
			return v, nil
		}
	}
	return e.Eval(map[string]cty.Value{"item": item})
}

func (e *ItemExpr) findBare() {
	st, ok := e.Expr.(*hclsyntax.ScopeTraversalExpr)
	if !ok || st.Traversal.RootName() != "item" || len(st.Traversal) < 2 {
		return
	}
	var path []string
	for _, step := range st.Traversal[1:] {
		a, ok := step.(hcl.TraverseAttr)
		if !ok {
			return
		}
		path = append(path, a.Name)
	}
	e.bare = path
}

// diagError turns diagnostics into an error carrying them.
func diagError(diags hcl.Diagnostics) error { return DiagnosticsError{diags} }

// DiagnosticsError is an error made of HCL diagnostics (with ranges), so
// the CLI can render it with a snippet.
type DiagnosticsError struct{ Diags hcl.Diagnostics }

func (e DiagnosticsError) Error() string { return e.Diags.Error() }
