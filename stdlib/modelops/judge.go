package modelops

import (
	"context"
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/params"
)

// Judge is LLM-as-a-judge: per record, k completions of the rubric prompt,
// each parsed with the pattern; score is the mean of the parsed `score`
// captures (judgements that do not parse are left out; none parsing gives
// a null score) and judgements lists the k raw texts. With a schema
// instead of a pattern, each judgement is read as a document of the
// schema (verdicts lists them, null for one that is not a document of
// it) and score is the mean of their score fields.
type Judge struct{}

func (*Judge) Name() string { return "judge" }
func (*Judge) Version() int { return 1 }

func (*Judge) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	pat := x.Patterns["pattern"]
	node, err := responseNode(x)
	if err != nil {
		return cty.NilVal, err
	}
	if (pat == nil) == (node == nil) {
		return cty.NilVal, fmt.Errorf("%s: give exactly one of pattern or schema", addr(x))
	}
	tmpl, _, err := textSampling(x)
	if err != nil {
		return cty.NilVal, err
	}
	k, err := intParam(x, "k", 1)
	if err != nil {
		return cty.NilVal, err
	}
	if k < 1 {
		return cty.NilVal, fmt.Errorf("%s: k must be at least 1", addr(x))
	}
	got, in, err := sampleInput(ctx, x, tmpl, k)
	if err != nil {
		return cty.NilVal, err
	}
	add := map[string]cty.Type{"score": cty.Number, "judgements": cty.List(cty.String)}
	if node != nil {
		add["verdicts"] = cty.List(node.Type())
	}
	schema := outSchema(x, in, add)
	var unparsed int64
	v, err := x.WriteDataset(schema, func(write func(cty.Value) error) error {
		for ri, s := range got {
			texts := make([]cty.Value, len(s.comps))
			var parsed []cty.Value
			var sum float64
			var n int
			for i, c := range s.comps {
				texts[i] = cty.StringVal(c.Text)
				var f float64
				ok := false
				if node != nil {
					v, err := parseResponse(c, node)
					if err != nil {
						v = cty.NullVal(node.Type())
						if unparsed == 0 {
							x.Warn("%v", responseProblem(ri, s.prompt, i, err))
						}
					} else {
						f, _ = v.GetAttr("score").AsBigFloat().Float64()
						ok = true
					}
					parsed = append(parsed, v)
				} else {
					f, ok = judgeScore(pat.Match, c.Text)
				}
				if ok {
					sum += f
					n++
				} else {
					unparsed++
				}
			}
			score := cty.NullVal(cty.Number)
			if n > 0 {
				score = cty.NumberFloatVal(sum / float64(n))
			}
			fields := map[string]cty.Value{"score": score, "judgements": cty.ListVal(texts)}
			if node != nil {
				fields["verdicts"] = cty.ListVal(parsed)
			}
			if err := write(extend(s.rec, fields)); err != nil {
				return err
			}
		}
		return nil
	})
	if unparsed > 0 {
		x.Count("unparsed_judgements", unparsed)
	}
	return v, err
}

func judgeScore(match func(string) (map[string]cty.Value, bool), text string) (float64, bool) {
	caps, ok := match(text)
	if !ok {
		return 0, false
	}
	sv, ok := caps["score"]
	if !ok || sv.IsNull() || !sv.IsKnown() {
		return 0, false
	}
	nv, err := convert.Convert(sv, cty.Number)
	if err != nil || nv.IsNull() {
		return 0, false
	}
	f, _ := nv.AsBigFloat().Float64()
	return f, true
}

// Refine is Self-Refine: per record, a draft from prompt, then up to
// `iterations` rounds of critique (sees item, draft) and revision (sees
// item, draft, feedback); a critique containing stop_when ends the record's
// refinement. Adds draft (the first), refined (the last) and history (every
// critiqued draft with its feedback). All records advance in lockstep, so
// each round is one batch of requests.
type Refine struct{}

func (*Refine) Name() string { return "refine" }
func (*Refine) Version() int { return 1 }

func (*Refine) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	tmpl, _, err := textSampling(x)
	if err != nil {
		return cty.NilVal, err
	}
	tmpl.N = 1
	iters, err := intParam(x, "iterations", 2)
	if err != nil {
		return cty.NilVal, err
	}
	stopWhen := params.String(x, "stop_when", "")
	recs, in, err := readInput(x, "input")
	if err != nil {
		return cty.NilVal, err
	}
	lm, err := openModel(ctx, x, "model")
	if err != nil {
		return cty.NilVal, err
	}
	progressTotal(x, int64(len(recs)*(1+2*max(iters, 0))))

	ask := func(prompts []string) ([]string, error) {
		reqs := make([]runtime.GenRequest, len(prompts))
		for i, p := range prompts {
			reqs[i] = tmpl
			reqs[i].Prompt = p
		}
		res, err := generateAll(ctx, x, lm, reqs)
		if err != nil {
			return nil, err
		}
		out := make([]string, len(res))
		for i, cs := range res {
			out[i] = cs[0].Text
		}
		return out, nil
	}

	prompts := make([]string, len(recs))
	for i, rec := range recs {
		if prompts[i], err = itemString(x, "prompt", i, itemVars(rec)); err != nil {
			return cty.NilVal, err
		}
	}
	first, err := ask(prompts)
	if err != nil {
		return cty.NilVal, err
	}
	current := append([]string(nil), first...)
	history := make([][]cty.Value, len(recs))
	active := make([]int, len(recs))
	for i := range active {
		active[i] = i
	}
	for it := 0; it < iters && len(active) > 0; it++ {
		cp := make([]string, len(active))
		for j, i := range active {
			vars := map[string]cty.Value{"item": recs[i], "draft": cty.StringVal(current[i])}
			if cp[j], err = itemString(x, "critique", i, vars); err != nil {
				return cty.NilVal, err
			}
		}
		fb, err := ask(cp)
		if err != nil {
			return cty.NilVal, err
		}
		var revise []int
		var rp []string
		for j, i := range active {
			history[i] = append(history[i], cty.ObjectVal(map[string]cty.Value{"draft": cty.StringVal(current[i]), "feedback": cty.StringVal(fb[j])}))
			if stopWhen != "" && strings.Contains(fb[j], stopWhen) {
				progressAdd(x, int64(1+2*(iters-it-1))) // the rounds this record skips
				continue
			}
			vars := map[string]cty.Value{"item": recs[i], "draft": cty.StringVal(current[i]), "feedback": cty.StringVal(fb[j])}
			p, err := itemString(x, "revise", i, vars)
			if err != nil {
				return cty.NilVal, err
			}
			revise = append(revise, i)
			rp = append(rp, p)
		}
		rev, err := ask(rp)
		if err != nil {
			return cty.NilVal, err
		}
		for j, i := range revise {
			current[i] = rev[j]
		}
		active = revise
	}
	step := cty.Object(map[string]cty.Type{"draft": cty.String, "feedback": cty.String})
	schema := outSchema(x, in, map[string]cty.Type{"draft": cty.String, "refined": cty.String, "history": cty.List(step)})
	return x.WriteDataset(schema, func(write func(cty.Value) error) error {
		for i, rec := range recs {
			h := cty.ListValEmpty(step)
			if len(history[i]) > 0 {
				h = cty.ListVal(history[i])
			}
			if err := write(extend(rec, map[string]cty.Value{"draft": cty.StringVal(first[i]), "refined": cty.StringVal(current[i]), "history": h})); err != nil {
				return err
			}
		}
		return nil
	})
}
