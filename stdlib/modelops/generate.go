package modelops

import (
	"context"
	"fmt"
	"io"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/params"
	"github.com/ouroloop/ouro/stdlib/providers"
)

// Generate samples completions per record: one output record per (record,
// sample), in input order, with the input fields plus prompt, completion,
// sample, finish_reason and, when logprobs is set, logprob; with a schema,
// parsed: the completion read as a document of the schema (on_invalid
// says what one that is not does).
type Generate struct{}

func (*Generate) Name() string { return "generate" }
func (*Generate) Version() int { return 1 }

// sampled is one record's request and its completions.
type sampled struct {
	rec    cty.Value
	prompt string // the prompt as recorded (messages rendered with the chat template)
	comps  []runtime.Completion
}

// sampleRecords builds one request per record (prompt or messages), sends
// them all in chunks, and returns the records with their completions.
func sampleRecords(ctx context.Context, x *runtime.Exec, lm runtime.LM, recs []cty.Value, tmpl runtime.GenRequest, n int) ([]sampled, error) {
	progressTotal(x, int64(len(recs)))
	return sampleBlock(ctx, x, lm, recs, 0, tmpl, n)
}

// sampleInput reads every record of the `input` dataset, opens `model` and
// samples n completions per record: how judge and evaluate begin once their
// own arguments are read. It returns the input's record type too.
func sampleInput(ctx context.Context, x *runtime.Exec, tmpl runtime.GenRequest, n int) ([]sampled, cty.Type, error) {
	recs, in, err := readInput(x, "input")
	if err != nil {
		return nil, cty.NilType, err
	}
	lm, err := openModel(ctx, x, "model")
	if err != nil {
		return nil, cty.NilType, err
	}
	got, err := sampleRecords(ctx, x, lm, recs, tmpl, n)
	if err != nil {
		return nil, cty.NilType, err
	}
	return got, in, nil
}

// sampleBlock is sampleRecords for records first, first+1, … of the input
// (for messages), without setting the progress total.
func sampleBlock(ctx context.Context, x *runtime.Exec, lm runtime.LM, recs []cty.Value, first int, tmpl runtime.GenRequest, n int) ([]sampled, error) {
	reqs := make([]runtime.GenRequest, len(recs))
	out := make([]sampled, len(recs))
	_, useMsgs := x.Items["messages"]
	if _, ok := x.Items["prompt"]; ok {
		useMsgs = false
	}
	for j, rec := range recs {
		i := first + j
		r := tmpl
		r.N = n
		if useMsgs {
			msgs, err := itemMessages(x, i, rec)
			if err != nil {
				return nil, err
			}
			r.Messages = msgs
			out[j].prompt = providers.ChatPrompt(msgs)
		} else {
			p, err := itemString(x, "prompt", i, itemVars(rec))
			if err != nil {
				return nil, err
			}
			r.Prompt = p
			out[j].prompt = p
		}
		reqs[j] = r
		out[j].rec = rec
	}
	res, err := generateRecords(ctx, x, lm, reqs, first)
	if err != nil {
		return nil, err
	}
	for j := range out {
		out[j].comps = res[j][:n]
	}
	return out, nil
}

// sampleFields are the fields generate and evaluate add to a record.
func sampleFields(s sampled, i int, logprob bool) map[string]cty.Value {
	c := s.comps[i]
	add := map[string]cty.Value{
		"prompt":        cty.StringVal(s.prompt),
		"completion":    cty.StringVal(c.Text),
		"sample":        cty.NumberIntVal(int64(i)),
		"finish_reason": cty.StringVal(c.FinishReason),
	}
	if logprob {
		add["logprob"] = cty.NumberFloatVal(c.LogProb)
	}
	return add
}

var sampleTypes = map[string]cty.Type{"prompt": cty.String, "completion": cty.String, "sample": cty.Number, "finish_reason": cty.String}

func (*Generate) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	_, hasP := x.Items["prompt"]
	_, hasM := x.Items["messages"]
	if hasP == hasM {
		return cty.NilVal, fmt.Errorf("%s: give exactly one of prompt or messages", addr(x))
	}
	tmpl, n, err := sampling(x)
	if err != nil {
		return cty.NilVal, err
	}
	lm, err := openModel(ctx, x, "model")
	if err != nil {
		return cty.NilVal, err
	}
	r, c, err := x.Open("input")
	if err != nil {
		return cty.NilVal, err
	}
	defer c.Close()
	if ref, err := x.Dataset("input"); err == nil {
		progressTotal(x, ref.Count)
	}
	add := map[string]cty.Type{}
	for k, v := range sampleTypes {
		add[k] = v
	}
	if tmpl.LogProbs {
		add["logprob"] = cty.Number
	}
	node, err := responseNode(x)
	if err != nil {
		return cty.NilVal, err
	}
	onInvalid := params.String(x, "on_invalid", "fail")
	if node != nil {
		add["parsed"] = node.Type()
	}
	schema := outSchema(x, r.Schema(), add)
	var invalid int64
	defer func() {
		if invalid > 0 {
			x.Count("invalid_responses", invalid)
		}
	}()
	// Blocks of records: memory stays bounded however large the input.
	return x.WriteDataset(schema, func(write func(cty.Value) error) error {
		for first := 0; ; {
			recs := make([]cty.Value, 0, generateBlock)
			for len(recs) < generateBlock {
				rec, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					return fmt.Errorf("%s: reading input: %w", addr(x), err)
				}
				recs = append(recs, rec)
			}
			if len(recs) == 0 {
				return nil
			}
			got, err := sampleBlock(ctx, x, lm, recs, first, tmpl, n)
			if err != nil {
				return err
			}
			for j, s := range got {
				for i := range s.comps {
					fields := sampleFields(s, i, tmpl.LogProbs)
					if node != nil {
						v, err := parseResponse(s.comps[i], node)
						if err != nil {
							if invalid == 0 && onInvalid != "fail" {
								x.Warn("%v", responseProblem(first+j, s.prompt, i, err))
							}
							invalid++
							switch onInvalid {
							case "fail":
								return responseError(x, first+j, s.prompt, i, err)
							case "drop":
								continue
							}
							v = cty.NullVal(node.Type())
						}
						fields["parsed"] = v
					}
					if err := write(extend(s.rec, fields)); err != nil {
						return err
					}
				}
			}
			first += len(recs)
		}
	})
}

// generateBlock is how many records generate reads, samples and writes at
// a time (16 chunks).
const generateBlock = 16 * chunk
