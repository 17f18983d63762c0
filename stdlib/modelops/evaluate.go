package modelops

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
)

// Evaluate generates per record, scores every completion with `score`
// (item = the record plus prompt, completion, sample, finish_reason) and
// aggregates `metrics` over scores and items. Value: { metrics, items }
// where items is the dataset of scored records.
type Evaluate struct{}

func (*Evaluate) Name() string { return "evaluate" }
func (*Evaluate) Version() int { return 1 }

func (*Evaluate) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	if x.Items["score"] == nil || x.Items["metrics"] == nil {
		return cty.NilVal, fmt.Errorf("%s: score and metrics are required", addr(x))
	}
	tmpl, n, err := textSampling(x)
	if err != nil {
		return cty.NilVal, err
	}
	got, in, err := sampleInput(ctx, x, tmpl, n)
	if err != nil {
		return cty.NilVal, err
	}

	// Types the compiler inferred, when known.
	var metricsT, itemsElem, scoreT cty.Type = cty.DynamicPseudoType, cty.NilType, cty.DynamicPseudoType
	if nt := nodeType(x); nt.IsObjectType() {
		if nt.HasAttribute("metrics") {
			metricsT = nt.AttributeType("metrics")
		}
		if nt.HasAttribute("items") && compiler.IsDatasetType(nt.AttributeType("items")) {
			if e := compiler.DatasetElem(nt.AttributeType("items")); e.IsObjectType() {
				itemsElem = e
				if e.HasAttribute("score") {
					scoreT = e.AttributeType("score")
				}
			}
		}
	}
	evalT := extendType(in, sampleTypes)

	var items, scores []cty.Value
	for ri, s := range got {
		for i := range s.comps {
			item := extend(s.rec, sampleFields(s, i, false))
			if c, err := convert.Convert(item, evalT); err == nil {
				item = c
			}
			sc, err := x.Items["score"].EvalItem(item)
			if err != nil {
				return cty.NilVal, recErr(x, ri, "score", err)
			}
			if scoreT != cty.DynamicPseudoType {
				c, err := convert.Convert(sc, scoreT)
				if err != nil {
					return cty.NilVal, recErr(x, ri, "score", err)
				}
				sc = c
			}
			items = append(items, item)
			scores = append(scores, sc)
		}
	}
	if scoreT == cty.DynamicPseudoType {
		for _, s := range scores {
			if !s.IsNull() {
				scoreT = s.Type()
				break
			}
		}
	}
	scoreList, err := listOf(scores, scoreT)
	if err != nil {
		return cty.NilVal, fmt.Errorf("%s: scores: %w", addr(x), err)
	}
	itemList, err := listOf(items, evalT)
	if err != nil {
		return cty.NilVal, fmt.Errorf("%s: items: %w", addr(x), err)
	}
	metrics, err := x.Items["metrics"].Eval(map[string]cty.Value{"scores": scoreList, "items": itemList})
	if err != nil {
		return cty.NilVal, fmt.Errorf("%s: metrics: %w", addr(x), err)
	}
	if metricsT != cty.DynamicPseudoType {
		if c, err := convert.Convert(metrics, metricsT); err == nil {
			metrics = c
		}
	}
	if itemsElem == cty.NilType {
		itemsElem = extendType(evalT, map[string]cty.Type{"score": scoreT})
	}
	ds, err := x.WriteDataset(itemsElem, func(write func(cty.Value) error) error {
		for i, it := range items {
			if err := write(extend(it, map[string]cty.Value{"score": scores[i]})); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return cty.NilVal, err
	}
	return cty.ObjectVal(map[string]cty.Value{"metrics": metrics, "items": ds}), nil
}
