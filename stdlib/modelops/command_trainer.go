package modelops

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/store"
	"github.com/ouroloop/ouro/stdlib/models/gpt"
	"github.com/ouroloop/ouro/stdlib/params"
	"github.com/ouroloop/ouro/stdlib/providers"
)

// TrainerHParams is hparams.json of the trainer contract (docs/trainers.md).
type TrainerHParams struct {
	Kind         string             `json:"kind"` // "sft" or "dpo"
	Examples     int                `json:"examples"`
	Steps        int                `json:"steps"`
	Epochs       *float64           `json:"epochs"`
	BatchSize    int                `json:"batch_size"`
	LearningRate float64            `json:"learning_rate"`
	WeightDecay  float64            `json:"weight_decay"`
	Warmup       int                `json:"warmup"`
	Schedule     string             `json:"schedule"`
	Seed         uint64             `json:"seed"`
	Beta         *float64           `json:"beta,omitempty"`
	Config       map[string]string  `json:"config"`
	Base         compiler.ModelRef  `json:"base"`
	Reference    *compiler.ModelRef `json:"reference,omitempty"`
}

// commandTrain runs an external trainer following the file contract of
// docs/trainers.md and stores the checkpoint it writes.
func commandTrain(ctx context.Context, x *runtime.Exec, kind string, rows []map[string]string) (cty.Value, error) {
	argv := params.Strings(x, "command")
	if len(argv) == 0 {
		return cty.NilVal, fmt.Errorf("%s: trainer = \"command\" needs command = [program, args…]", addr(x))
	}
	base, err := modelRef(x, "base")
	if err != nil {
		return cty.NilVal, err
	}
	scratch := ""
	if x.Env != nil {
		scratch = x.Env.Scratch
	}
	if scratch != "" {
		if err := os.MkdirAll(scratch, 0o755); err != nil {
			return cty.NilVal, err
		}
	}
	dir, err := os.MkdirTemp(scratch, "train-")
	if err != nil {
		return cty.NilVal, err
	}
	defer os.RemoveAll(dir)
	fail := func(err error) (cty.Value, error) { return cty.NilVal, fmt.Errorf("%s: trainer: %w", addr(x), err) }

	// data.jsonl
	f, err := os.Create(filepath.Join(dir, "data.jsonl"))
	if err != nil {
		return fail(err)
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return fail(err)
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}

	// Checkpoints of builtin models; other models are described in hparams.json.
	env := []string{"OURO_TRAIN_DIR=" + dir, "OURO_TRAIN_KIND=" + kind,
		"OURO_TRAIN_DATA=" + filepath.Join(dir, "data.jsonl"),
		"OURO_HPARAMS=" + filepath.Join(dir, "hparams.json"),
		"OURO_OUTPUT_DIR=" + filepath.Join(dir, "output")}
	writeCk := func(ref *compiler.ModelRef, name, envName string) error {
		if ref.Provider != "builtin" {
			return nil
		}
		p := filepath.Join(dir, name)
		if err := providers.WriteCheckpointFile(x.Blobs, store.Digest(ref.Digest), p); err != nil {
			return fmt.Errorf("%s checkpoint: %w", name, err)
		}
		env = append(env, envName+"="+p)
		return nil
	}
	if err := writeCk(base, "base.safetensors", "OURO_BASE_CHECKPOINT"); err != nil {
		return fail(err)
	}
	hp := TrainerHParams{Kind: kind, Examples: len(rows), Base: *base, Config: map[string]string{}}
	if kind == "dpo" {
		if v := x.Param("reference"); !v.IsNull() && v.IsKnown() && compiler.IsModelType(v.Type()) {
			ref, err := modelRef(x, "reference")
			if err != nil {
				return cty.NilVal, err
			}
			hp.Reference = ref
			if err := writeCk(ref, "reference.safetensors", "OURO_REFERENCE_CHECKPOINT"); err != nil {
				return fail(err)
			}
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "output"), 0o755); err != nil {
		return fail(err)
	}
	opts, err := trainOpts(x, len(rows))
	if err != nil {
		return cty.NilVal, err
	}
	hp.Steps, hp.BatchSize, hp.LearningRate, hp.WeightDecay, hp.Warmup, hp.Schedule, hp.Seed =
		opts.Steps, opts.BatchSize, opts.LR, opts.WeightDecay, opts.Warmup, opts.Schedule, opts.Seed
	if ep, ok := params.Number(x, "epochs"); ok {
		hp.Epochs = &ep
	}
	if b, ok := params.Number(x, "beta"); ok && kind == "dpo" {
		hp.Beta = &b
	}
	if v := x.Param("config"); !v.IsNull() && v.IsKnown() && (v.Type().IsMapType() || v.Type().IsObjectType()) {
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if !e.IsNull() && e.Type() == cty.String {
				hp.Config[k.AsString()] = e.AsString()
			}
		}
	}
	hb, _ := json.MarshalIndent(hp, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "hparams.json"), hb, 0o644); err != nil {
		return fail(err)
	}

	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if x.Env != nil {
		cmd.Dir = x.Env.SpecDir
	}
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fail(err)
	}
	var errTail strings.Builder
	cmd.Stderr = &limited{b: &errTail, max: 4096}
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	var lastLoss *float64
	go func() { // progress lines: {"step": n, "loss": x}
		defer wg.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var p struct {
				Step *int     `json:"step"`
				Loss *float64 `json:"loss"`
			}
			if json.Unmarshal(sc.Bytes(), &p) == nil && p.Step != nil {
				progressAdd(x, 1)
				if p.Loss != nil {
					l := *p.Loss
					lastLoss = &l
				}
			} else if x.Log != nil {
				x.Log.Info("trainer", "stage", addr(x), "out", sc.Text())
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		msg := strings.TrimSpace(errTail.String())
		if msg != "" {
			msg = "; stderr: " + msg
		}
		return fail(fmt.Errorf("%s: %w%s", argv[0], err, msg))
	}

	ck := filepath.Join(dir, "output", "model.safetensors")
	cf, err := os.Open(ck)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fail(fmt.Errorf("%s wrote no output/model.safetensors", argv[0]))
		}
		return fail(err)
	}
	m, err := gpt.Load(cf)
	cf.Close()
	if err != nil {
		return fail(fmt.Errorf("output/model.safetensors: %w", err))
	}
	var baseModel *gpt.Model
	if base.Provider == "builtin" {
		if baseModel, err = providers.LoadModel(x.Blobs, store.Digest(base.Digest)); err != nil {
			return fail(err)
		}
	}
	if m, err = withChatTemplate(x, m, baseModel); err != nil {
		return cty.NilVal, err
	}
	loss := cty.NullVal(cty.Number)
	if b, err := os.ReadFile(filepath.Join(dir, "output", "metrics.json")); err == nil {
		var mt struct {
			Loss *float64 `json:"loss"`
		}
		if err := json.Unmarshal(b, &mt); err != nil {
			return fail(fmt.Errorf("output/metrics.json: %w", err))
		}
		if mt.Loss != nil {
			lastLoss = mt.Loss
		}
	}
	if lastLoss != nil {
		loss = cty.NumberFloatVal(*lastLoss)
	}
	d, err := providers.SaveModel(x.Blobs, m)
	if err != nil {
		return fail(err)
	}
	return trainResult(providers.BuiltinRef(addr(x), d, m), loss, len(rows)), nil
}

type limited struct {
	b   *strings.Builder
	max int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
