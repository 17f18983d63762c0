// Package modelops implements ouro's model operators: generate, judge,
// refine, evaluate, sft, dpo and export_model. Their compiler signatures live in package
// stdlib; models are reached through runtime.Exec.OpenModel (which the
// executor wraps with the per-request memo) and, for training, through the
// builtin provider's checkpoint blobs.
package modelops

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/params"
	"github.com/ouroloop/ouro/stdlib/structured"
)

// Operators returns the model operators.
func Operators() []runtime.Operator {
	return []runtime.Operator{&Generate{}, &Judge{}, &Refine{}, &Evaluate{}, &SFT{}, &DPO{}, &ExportModelOp{}}
}

// chunk is how many requests go to LM.Generate at once: large enough for
// the builtin model to batch, small enough to report progress and to keep a
// killed run's lost work (the memo saves finished chunks) small.
const chunk = 256

// MixSeed combines the stage's seed with a parameter seed: the first 8 bytes
// (little-endian) of SHA-256("ouro-modelops-seed\x00" || le64(stage) ||
// le64(param)).
func MixSeed(stage, param uint64) uint64 {
	h := sha256.New()
	h.Write([]byte("ouro-modelops-seed\x00"))
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], stage)
	binary.LittleEndian.PutUint64(b[8:], param)
	h.Write(b[:])
	return binary.LittleEndian.Uint64(h.Sum(nil)[:8])
}

// --- parameters ---

func addr(x *runtime.Exec) string {
	if x.Node != nil && x.Node.Address != "" {
		return x.Node.Address
	}
	return "stage"
}

// intParam is params.Int with the stage's address in its error.
func intParam(x *runtime.Exec, name string, def int) (int, error) {
	i, err := params.Int(x, name, def)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", addr(x), err)
	}
	return i, nil
}

// uintParam is params.Uint64 with the stage's address in its error.
func uintParam(x *runtime.Exec, name string) (uint64, error) {
	u, err := params.Uint64(x, name)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", addr(x), err)
	}
	return u, nil
}

// sampling reads the shared sampling parameters into a request template and
// the number of samples.
func sampling(x *runtime.Exec) (runtime.GenRequest, int, error) {
	n, err := intParam(x, "samples", 1)
	if err != nil {
		return runtime.GenRequest{}, 0, err
	}
	if n < 0 {
		return runtime.GenRequest{}, 0, fmt.Errorf("%s: samples must be ≥ 0", addr(x))
	}
	topK, err := intParam(x, "top_k", 0)
	if err != nil {
		return runtime.GenRequest{}, 0, err
	}
	maxTok, err := intParam(x, "max_tokens", 64)
	if err != nil {
		return runtime.GenRequest{}, 0, err
	}
	seed, err := uintParam(x, "seed")
	if err != nil {
		return runtime.GenRequest{}, 0, err
	}
	var schema []byte
	if st, ok := x.Schemas["schema"]; ok {
		n, err := structured.FromType(st)
		if err != nil {
			return runtime.GenRequest{}, 0, fmt.Errorf("%s: schema: %w", addr(x), err)
		}
		schema = n.JSON()
	}
	return runtime.GenRequest{
		Schema:      schema,
		Temperature: params.NumberOr(x, "temperature", 1),
		TopP:        params.NumberOr(x, "top_p", 1),
		TopK:        topK,
		MaxTokens:   maxTok,
		Stop:        params.Strings(x, "stop"),
		Seed:        MixSeed(x.Seed, seed),
		LogProbs:    params.Bool(x, "logprobs"),
	}, n, nil
}

// textSampling is sampling for an operator that reads only the text of
// completions, never their log-probabilities.
func textSampling(x *runtime.Exec) (runtime.GenRequest, int, error) {
	tmpl, n, err := sampling(x)
	tmpl.LogProbs = false
	return tmpl, n, err
}

// --- models ---

func modelRef(x *runtime.Exec, name string) (*compiler.ModelRef, error) {
	v := x.Param(name)
	if v.IsNull() || !v.IsKnown() || !compiler.IsModelType(v.Type()) {
		return nil, fmt.Errorf("%s: parameter %q is not a model", addr(x), name)
	}
	return v.EncapsulatedValue().(*compiler.ModelRef), nil
}

func openModel(ctx context.Context, x *runtime.Exec, name string) (runtime.LM, error) {
	if _, err := modelRef(x, name); err != nil {
		return nil, err
	}
	if x.OpenModel == nil {
		return nil, fmt.Errorf("%s: the runtime gave no way to open models", addr(x))
	}
	lm, err := x.OpenModel(ctx, x.Param(name))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", addr(x), name, err)
	}
	return lm, nil
}

// generateAll sends reqs in chunks and reports each finished request as
// progress. It checks that every request got its N completions.
func generateAll(ctx context.Context, x *runtime.Exec, lm runtime.LM, reqs []runtime.GenRequest) ([][]runtime.Completion, error) {
	return generateRecords(ctx, x, lm, reqs, -1)
}

// generateRecords is generateAll for requests that are records firstRec,
// firstRec+1, … of the input (firstRec < 0: they are not), so a failed request
// is named by its record.
func generateRecords(ctx context.Context, x *runtime.Exec, lm runtime.LM, reqs []runtime.GenRequest, firstRec int) ([][]runtime.Completion, error) {
	out := make([][]runtime.Completion, len(reqs))
	// A model that serves several calls at once (runtime.Pipeliner) gets
	// the next chunks while one is finishing, about twice its concurrency
	// outstanding; others get one chunk at a time.
	depth := 1
	if p, ok := lm.(runtime.Pipeliner); ok && p.InFlight() > 0 {
		depth = max(2, (2*p.InFlight()+chunk-1)/chunk)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		lo, hi int
		err    error
	}
	var (
		wg      sync.WaitGroup
		slots   = make(chan struct{}, depth)
		results = make(chan result, (len(reqs)+chunk-1)/chunk)
	)
	for lo := 0; lo < len(reqs); lo += chunk {
		hi := min(lo+chunk, len(reqs))
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			res, err := lm.Generate(ctx, reqs[lo:hi])
			if err == nil {
				err = checkAnswers(lm, reqs, lo, hi, res)
			}
			var re *runtime.RequestError
			if errors.As(err, &re) {
				c := *re
				c.Request += lo
				if firstRec >= 0 {
					c.Label = fmt.Sprintf("record %d", firstRec+c.Request+1)
				}
				err = &c
			}
			if err != nil {
				cancel()
			} else {
				copy(out[lo:hi], res)
				progressAdd(x, int64(hi-lo))
			}
			results <- result{lo, hi, err}
		}()
	}
	wg.Wait()
	close(results)
	// Report the error that stopped the stage: the earliest chunk's real
	// error, not the cancellations it caused in the chunks beside it.
	var first *result
	rank := func(r *result) int {
		if errors.Is(r.err, context.Canceled) {
			return 1
		}
		return 0
	}
	for r := range results {
		if r.err == nil {
			continue
		}
		r := r
		if first == nil || rank(&r) < rank(first) || (rank(&r) == rank(first) && r.lo < first.lo) {
			first = &r
		}
	}
	if first != nil {
		return nil, fmt.Errorf("%s: %w", addr(x), first.err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// checkAnswers checks that a model answered every request of reqs[lo:hi]
// with all its samples.
func checkAnswers(lm runtime.LM, reqs []runtime.GenRequest, lo, hi int, res [][]runtime.Completion) error {
	if len(res) != hi-lo {
		return fmt.Errorf("model %s answered %d of %d requests", lm.Identity(), len(res), hi-lo)
	}
	for i, cs := range res {
		if len(cs) < reqs[lo+i].N {
			return fmt.Errorf("model %s returned %d of %d samples for request %d", lm.Identity(), len(cs), reqs[lo+i].N, lo+i)
		}
	}
	return nil
}

func progressTotal(x *runtime.Exec, n int64) {
	if x.Progress != nil {
		x.Progress.SetTotal(n)
	}
}

func progressAdd(x *runtime.Exec, n int64) {
	if x.Progress != nil {
		x.Progress.Add(n)
	}
}

// --- records ---

// readInput reads every record of a dataset parameter.
func readInput(x *runtime.Exec, name string) ([]cty.Value, cty.Type, error) {
	r, c, err := x.Open(name)
	if err != nil {
		return nil, cty.NilType, err
	}
	defer c.Close()
	recs, err := r.ReadAll()
	if err != nil {
		return nil, cty.NilType, fmt.Errorf("%s: reading %s: %w", addr(x), name, err)
	}
	return recs, r.Schema(), nil
}

// extendType adds fields to a record type.
func extendType(elem cty.Type, add map[string]cty.Type) cty.Type {
	attrs := map[string]cty.Type{}
	if elem.IsObjectType() {
		for k, v := range elem.AttributeTypes() {
			attrs[k] = v
		}
	}
	for k, v := range add {
		attrs[k] = v
	}
	return cty.Object(attrs)
}

// extend adds fields to a record.
func extend(rec cty.Value, add map[string]cty.Value) cty.Value {
	attrs := map[string]cty.Value{}
	if !rec.IsNull() && rec.Type().IsObjectType() {
		for k, v := range rec.AsValueMap() {
			attrs[k] = v
		}
	}
	for k, v := range add {
		attrs[k] = v
	}
	return cty.ObjectVal(attrs)
}

// outSchema is the record type of the stage's output: what the compiler
// inferred, or else the input type with the added fields.
func outSchema(x *runtime.Exec, in cty.Type, add map[string]cty.Type) cty.Type {
	if e := x.OutputElem(); e.IsObjectType() {
		return e
	}
	return extendType(in, add)
}

// nodeType is the stage's value type as the compiler inferred it.
func nodeType(x *runtime.Exec) cty.Type {
	if x.Node == nil || len(x.Node.Type) == 0 {
		return cty.DynamicPseudoType
	}
	t, err := compiler.UnmarshalType(x.Node.Type)
	if err != nil {
		return cty.DynamicPseudoType
	}
	return t
}

func recErr(x *runtime.Exec, i int, what string, err error) error {
	return fmt.Errorf("%s: record %d: %s: %w", addr(x), i+1, what, err)
}

// itemString evaluates a per-item string expression.
func itemString(x *runtime.Exec, name string, i int, vars map[string]cty.Value) (string, error) {
	e, ok := x.Items[name]
	if !ok {
		return "", fmt.Errorf("%s: missing %s", addr(x), name)
	}
	v, err := e.Eval(vars)
	if err != nil {
		return "", recErr(x, i, name, err)
	}
	if !v.IsKnown() || v.IsNull() {
		return "", recErr(x, i, name, fmt.Errorf("value is null"))
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		return "", recErr(x, i, name, err)
	}
	return s.AsString(), nil
}

func itemVars(rec cty.Value) map[string]cty.Value { return map[string]cty.Value{"item": rec} }

// itemMessages evaluates the per-item `messages` expression.
func itemMessages(x *runtime.Exec, i int, rec cty.Value) ([]runtime.Message, error) {
	v, err := x.Items["messages"].EvalItem(rec)
	if err != nil {
		return nil, recErr(x, i, "messages", err)
	}
	if v.IsNull() || !v.IsKnown() || !(v.Type().IsListType() || v.Type().IsTupleType()) {
		return nil, recErr(x, i, "messages", fmt.Errorf("not a list of {role, content}"))
	}
	var out []runtime.Message
	for it := v.ElementIterator(); it.Next(); {
		_, m := it.Element()
		if m.IsNull() || !m.Type().IsObjectType() || !m.Type().HasAttribute("role") || !m.Type().HasAttribute("content") {
			return nil, recErr(x, i, "messages", fmt.Errorf("each message needs role and content"))
		}
		role, err1 := convert.Convert(m.GetAttr("role"), cty.String)
		content, err2 := convert.Convert(m.GetAttr("content"), cty.String)
		if err1 != nil || err2 != nil || role.IsNull() || content.IsNull() {
			return nil, recErr(x, i, "messages", fmt.Errorf("role and content must be strings"))
		}
		out = append(out, runtime.Message{Role: role.AsString(), Content: content.AsString()})
	}
	return out, nil
}

// listOf builds a list of vals of type elem (converted when elem is known);
// values of differing types make a tuple.
func listOf(vals []cty.Value, elem cty.Type) (cty.Value, error) {
	if elem != cty.NilType && elem != cty.DynamicPseudoType && !elem.HasDynamicTypes() {
		if len(vals) == 0 {
			return cty.ListValEmpty(elem), nil
		}
		cv := make([]cty.Value, len(vals))
		for i, v := range vals {
			c, err := convert.Convert(v, elem)
			if err != nil {
				return cty.NilVal, err
			}
			cv[i] = c
		}
		return cty.ListVal(cv), nil
	}
	if len(vals) == 0 {
		return cty.ListValEmpty(cty.DynamicPseudoType), nil
	}
	t := vals[0].Type()
	same := true
	for _, v := range vals[1:] {
		if !v.Type().Equals(t) {
			same = false
			break
		}
	}
	if same && t != cty.DynamicPseudoType {
		return cty.ListVal(vals), nil
	}
	if ut, conv := convert.UnifyUnsafe(typesOf(vals)); ut != cty.NilType && ut != cty.DynamicPseudoType {
		cv := make([]cty.Value, len(vals))
		for i, v := range vals {
			if conv[i] == nil {
				cv[i] = v
				continue
			}
			c, err := conv[i](v)
			if err != nil {
				return cty.TupleVal(vals), nil
			}
			cv[i] = c
		}
		return cty.ListVal(cv), nil
	}
	return cty.TupleVal(vals), nil
}

func typesOf(vals []cty.Value) []cty.Type {
	ts := make([]cty.Type, len(vals))
	for i, v := range vals {
		ts[i] = v.Type()
	}
	return ts
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// promptPrefix is the start of a prompt for a message: newlines shown as
// \n, at most 80 characters (never a split one), "…" when shortened.
func promptPrefix(s string) string {
	s = strings.ReplaceAll(s, "\n", `\n`)
	k := 0
	for i := range s {
		if k == 80 {
			return s[:i] + "…"
		}
		k++
	}
	return s
}

// responseNode is the stage's response schema (nil without one).
func responseNode(x *runtime.Exec) (*structured.Node, error) {
	st, ok := x.Schemas["schema"]
	if !ok {
		return nil, nil
	}
	n, err := structured.FromType(st)
	if err != nil {
		return nil, fmt.Errorf("%s: schema: %w", addr(x), err)
	}
	return n, nil
}

// parseResponse reads completion c as a document of schema n; the error
// says why it is not one, and that max_tokens cut it when it did.
func parseResponse(c runtime.Completion, n *structured.Node) (cty.Value, error) {
	v, err := structured.Decode(c.Text, n)
	switch {
	case err == nil:
	case c.FinishReason == "length":
		err = fmt.Errorf("%w (the completion stopped at max_tokens, finish_reason \"length\", before the document was complete)", err)
	case c.FinishReason == "stop":
		// A server that constrains decoding to the schema ends a
		// completion only after a complete document, or on a stop
		// sequence.
		err = fmt.Errorf("%w (the completion ended with finish_reason \"stop\" before the document was complete: a stop sequence matched, or the server does not constrain decoding to the schema on this endpoint, as Ollama's /v1/completions ignores response_format; docs/providers.md#structured-output-schema)", err)
	}
	return v, err
}

// responseError names the record, the sample and the prompt of a response
// that is not a document of the schema.
func responseError(x *runtime.Exec, rec int, prompt string, sample int, err error) error {
	return fmt.Errorf("%s: %w", addr(x), responseProblem(rec, prompt, sample, err))
}

// responseProblem is responseError without the stage, for a warning (the
// run names the stage of a warning itself).
func responseProblem(rec int, prompt string, sample int, err error) error {
	return fmt.Errorf("record %d (%q), sample %d: %w", rec+1, promptPrefix(prompt), sample, err)
}
