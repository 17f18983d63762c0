package modelops

import (
	"context"
	"fmt"
	"math"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/store"
	"github.com/ouroloop/ouro/stdlib/models/gpt"
	"github.com/ouroloop/ouro/stdlib/params"
	"github.com/ouroloop/ouro/stdlib/providers"
)

// SFT fine-tunes a model on prompt/target pairs. Value: { model, loss,
// examples }.
type SFT struct{}

func (*SFT) Name() string { return "sft" }
func (*SFT) Version() int { return 1 }

// DPO trains a model on chosen/rejected pairs against a frozen reference.
// Value: { model, loss, examples }.
type DPO struct{}

func (*DPO) Name() string { return "dpo" }
func (*DPO) Version() int { return 1 }

// trainOpts reads the trainer hyperparameters. n is the number of examples
// (for epochs).
func trainOpts(x *runtime.Exec, n int) (gpt.TrainOptions, error) {
	var o gpt.TrainOptions
	var err error
	if o.Steps, err = intParam(x, "steps", 200); err != nil {
		return o, err
	}
	if o.BatchSize, err = intParam(x, "batch_size", 16); err != nil {
		return o, err
	}
	if o.BatchSize <= 0 {
		return o, fmt.Errorf("%s: batch_size must be positive", addr(x))
	}
	if o.Warmup, err = intParam(x, "warmup", 10); err != nil {
		return o, err
	}
	if ep, ok := params.Number(x, "epochs"); ok {
		if ep <= 0 {
			return o, fmt.Errorf("%s: epochs must be positive", addr(x))
		}
		o.Steps = max(1, int(math.Ceil(ep*float64(n)/float64(o.BatchSize))))
	}
	if o.Steps <= 0 {
		return o, fmt.Errorf("%s: steps must be positive", addr(x))
	}
	o.LR = params.NumberOr(x, "learning_rate", 1e-3)
	o.WeightDecay = params.NumberOr(x, "weight_decay", 0)
	o.Schedule = params.String(x, "schedule", "cosine")
	seed, err := uintParam(x, "seed")
	if err != nil {
		return o, err
	}
	o.Seed = MixSeed(x.Seed, seed)
	if b, ok := params.Number(x, "beta"); ok {
		o.Beta = b
	}
	steps := o.Steps
	progressTotal(x, int64(steps))
	o.Log = func(step int, loss float64) {
		progressAdd(x, 1)
		if x.Log != nil && (step+1)%50 == 0 {
			x.Log.Debug("training", "stage", addr(x), "step", step+1, "of", steps, "loss", loss)
		}
	}
	return o, nil
}

// builtinModel loads the builtin model held by a model parameter.
func builtinModel(x *runtime.Exec, name string) (*compiler.ModelRef, *gpt.Model, error) {
	ref, err := modelRef(x, name)
	if err != nil {
		return nil, nil, err
	}
	if ref.Provider != "builtin" {
		return nil, nil, fmt.Errorf("%s: the builtin trainer trains builtin models; %s is a %q model (use trainer = \"command\")", addr(x), name, ref.Provider)
	}
	m, err := providers.LoadModel(x.Blobs, store.Digest(ref.Digest))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %s: %w", addr(x), name, err)
	}
	return ref, m, nil
}

// trainResult is the { model, loss, examples } value.
func trainResult(model compiler.ModelRef, loss cty.Value, examples int) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"model":    compiler.ModelVal(model),
		"loss":     loss,
		"examples": cty.NumberIntVal(int64(examples)),
	})
}

// unchanged is the value of training on no data: the base model as it was,
// a null loss and zero examples.
// A chat_template the base lacks still gives a new checkpoint.
func unchanged(x *runtime.Exec) (cty.Value, error) {
	ref, err := modelRef(x, "base")
	if err != nil {
		return cty.NilVal, err
	}
	x.Count("empty_data", 1)
	if t := params.String(x, "chat_template", ""); t != "" && ref.Provider == "builtin" {
		_, base, err := builtinModel(x, "base")
		if err != nil {
			return cty.NilVal, err
		}
		if base.ChatTemplate() != t {
			m, err := withChatTemplate(x, base, nil)
			if err != nil {
				return cty.NilVal, err
			}
			d, err := providers.SaveModel(x.Blobs, m)
			if err != nil {
				return cty.NilVal, fmt.Errorf("%s: %w", addr(x), err)
			}
			return trainResult(providers.BuiltinRef(addr(x), d, m), cty.NullVal(cty.Number), 0), nil
		}
	}
	return trainResult(*ref, cty.NullVal(cty.Number), 0), nil
}

func (*SFT) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	recs, _, err := readInput(x, "data")
	if err != nil {
		return cty.NilVal, err
	}
	var data []gpt.SFTExample
	for i, rec := range recs {
		p, err := itemString(x, "prompt", i, itemVars(rec))
		if err != nil {
			return cty.NilVal, err
		}
		t, err := itemString(x, "target", i, itemVars(rec))
		if err != nil {
			return cty.NilVal, err
		}
		data = append(data, gpt.SFTExample{Prompt: p, Target: t})
	}
	if len(data) == 0 {
		return unchanged(x)
	}
	if params.String(x, "trainer", "builtin") == "command" {
		rows := make([]map[string]string, len(data))
		for i, d := range data {
			rows[i] = map[string]string{"prompt": d.Prompt, "target": d.Target}
		}
		return commandTrain(ctx, x, "sft", rows)
	}
	_, base, err := builtinModel(x, "base")
	if err != nil {
		return cty.NilVal, err
	}
	opts, err := trainOpts(x, len(data))
	if err != nil {
		return cty.NilVal, err
	}
	m, stats, err := gpt.TrainSFT(ctx, base, data, opts)
	if err != nil {
		return cty.NilVal, fmt.Errorf("%s: sft: %w", addr(x), err)
	}
	return saveTrained(x, m, stats, len(data))
}

// withChatTemplate gives a model the stage trained its chat template: the
// chat_template parameter when given, else the base's (a builtin trainer's
// model already has it; a command trainer's checkpoint may not).
func withChatTemplate(x *runtime.Exec, m, base *gpt.Model) (*gpt.Model, error) {
	t := params.String(x, "chat_template", "")
	if t == "" && base != nil {
		t = base.ChatTemplate()
	}
	if t == "" || t == m.ChatTemplate() {
		return m, nil
	}
	m, err := m.WithChatTemplate(t)
	if err != nil {
		return nil, fmt.Errorf("%s: chat_template: %w", addr(x), err)
	}
	return m, nil
}

func saveTrained(x *runtime.Exec, m *gpt.Model, stats gpt.TrainStats, n int) (cty.Value, error) {
	m, err := withChatTemplate(x, m, nil)
	if err != nil {
		return cty.NilVal, err
	}
	d, err := providers.SaveModel(x.Blobs, m)
	if err != nil {
		return cty.NilVal, fmt.Errorf("%s: %w", addr(x), err)
	}
	x.Count("steps", int64(stats.Steps))
	x.Count("tokens", int64(stats.Tokens))
	return trainResult(providers.BuiltinRef(addr(x), d, m), cty.NumberFloatVal(stats.FinalLoss), n), nil
}

func (*DPO) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	recs, _, err := readInput(x, "data")
	if err != nil {
		return cty.NilVal, err
	}
	var data []gpt.DPOPair
	for i, rec := range recs {
		var p gpt.DPOPair
		if p.Prompt, err = itemString(x, "prompt", i, itemVars(rec)); err != nil {
			return cty.NilVal, err
		}
		if p.Chosen, err = itemString(x, "chosen", i, itemVars(rec)); err != nil {
			return cty.NilVal, err
		}
		if p.Rejected, err = itemString(x, "rejected", i, itemVars(rec)); err != nil {
			return cty.NilVal, err
		}
		data = append(data, p)
	}
	if len(data) == 0 {
		return unchanged(x)
	}
	if params.String(x, "trainer", "builtin") == "command" {
		rows := make([]map[string]string, len(data))
		for i, d := range data {
			rows[i] = map[string]string{"prompt": d.Prompt, "chosen": d.Chosen, "rejected": d.Rejected}
		}
		return commandTrain(ctx, x, "dpo", rows)
	}
	_, policy, err := builtinModel(x, "base")
	if err != nil {
		return cty.NilVal, err
	}
	ref := policy
	if v := x.Param("reference"); !v.IsNull() && v.IsKnown() && compiler.IsModelType(v.Type()) {
		if _, ref, err = builtinModel(x, "reference"); err != nil {
			return cty.NilVal, err
		}
	}
	opts, err := trainOpts(x, len(data))
	if err != nil {
		return cty.NilVal, err
	}
	m, stats, err := gpt.TrainDPO(ctx, policy, ref, data, opts)
	if err != nil {
		return cty.NilVal, fmt.Errorf("%s: dpo: %w", addr(x), err)
	}
	return saveTrained(x, m, stats, len(data))
}
