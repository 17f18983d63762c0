package modelops_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/stdlib/modelops"
	"github.com/ouroloop/ouro/stdlib/models/gpt"
)

// TestMain doubles as a command trainer following docs/trainers.md.
func TestMain(m *testing.M) {
	if mode := os.Getenv("OURO_FAKE_TRAINER"); mode != "" {
		if err := fakeTrainer(mode); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func fakeTrainer(mode string) error {
	if mode == "fail" {
		return fmt.Errorf("CUDA out of memory")
	}
	var hp modelops.TrainerHParams
	b, err := os.ReadFile(os.Getenv("OURO_HPARAMS"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &hp); err != nil {
		return err
	}
	if hp.Kind != os.Getenv("OURO_TRAIN_KIND") || hp.Config["lora_r"] != "8" || hp.Base.Provider != "builtin" {
		return fmt.Errorf("bad hparams %s", b)
	}
	f, err := os.Open(os.Getenv("OURO_TRAIN_DATA"))
	if err != nil {
		return err
	}
	defer f.Close()
	var data []gpt.SFTExample
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct{ Prompt, Target string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return err
		}
		data = append(data, gpt.SFTExample{Prompt: r.Prompt, Target: r.Target})
	}
	if len(data) != hp.Examples {
		return fmt.Errorf("%d examples, hparams say %d", len(data), hp.Examples)
	}
	cf, err := os.Open(os.Getenv("OURO_BASE_CHECKPOINT"))
	if err != nil {
		return err
	}
	base, err := gpt.Load(cf)
	cf.Close()
	if err != nil {
		return err
	}
	m, stats, err := gpt.TrainSFT(context.Background(), base, data, gpt.TrainOptions{Steps: hp.Steps, BatchSize: hp.BatchSize, LR: hp.LearningRate, Seed: hp.Seed})
	if err != nil {
		return err
	}
	for i, l := range stats.Losses {
		fmt.Printf("{\"step\": %d, \"loss\": %g}\n", i+1, l)
	}
	fmt.Println("some other log line")
	out := os.Getenv("OURO_OUTPUT_DIR")
	if mode == "nothing" {
		return nil
	}
	of, err := os.Create(filepath.Join(out, "model.safetensors"))
	if err != nil {
		return err
	}
	if err := m.Save(of); err != nil {
		return err
	}
	if err := of.Close(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "metrics.json"), []byte(fmt.Sprintf(`{"loss": %g}`, stats.FinalLoss)), 0o644)
}

func TestCommandTrainer(t *testing.T) {
	h := newHarness(t)
	base := h.tinyModel(1)
	run := func(mode string) (cty.Value, *progress, error) {
		x := h.exec("sft", map[string]cty.Value{
			"base": base, "data": h.dataset(problems(4)), "trainer": cty.StringVal("command"),
			"command": cty.ListVal([]cty.Value{cty.StringVal(os.Args[0]), cty.StringVal("-test.run=^$")}),
			"steps":   cty.NumberIntVal(5), "batch_size": cty.NumberIntVal(4),
			"config": cty.MapVal(map[string]cty.Value{"lora_r": cty.StringVal("8")}),
		}, map[string]string{"prompt": `"Q: ${item.question}\nA:"`, "target": `" ${item.answer}"`})
		t.Setenv("OURO_FAKE_TRAINER", mode)
		var p progress
		x.Progress = &p
		v, err := (&modelops.SFT{}).Run(ctx, x)
		return v, &p, err
	}
	v, p, err := run("ok")
	if err != nil {
		t.Fatal(err)
	}
	ref := v.GetAttr("model").EncapsulatedValue().(*compiler.ModelRef)
	if ref.Provider != "builtin" || v.GetAttr("model").RawEquals(base) || v.GetAttr("loss").IsNull() {
		t.Fatalf("got %#v", v)
	}
	if p.total != 5 || p.done != 5 {
		t.Fatalf("progress %d/%d", p.done, p.total)
	}
	// The trained model opens and generates.
	if _, err := h.exec("generate", nil, nil).OpenModel(ctx, v.GetAttr("model")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run("fail"); err == nil || !strings.Contains(err.Error(), "CUDA out of memory") {
		t.Fatalf("failing trainer: %v", err)
	}
	if _, _, err := run("nothing"); err == nil || !strings.Contains(err.Error(), "wrote no output/model.safetensors") {
		t.Fatalf("trainer without output: %v", err)
	}
}
