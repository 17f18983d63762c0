package modelops_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
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

// torchPython returns a Python interpreter that can import torch (Debian's
// python3-torch lives under /usr/bin/python3, which may not be the first
// python3 on PATH), or skips the test.
func torchPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import torch").Run() == nil {
			return py
		}
	}
	if os.Getenv("OURO_REQUIRE_TORCH") != "" {
		t.Fatal("OURO_REQUIRE_TORCH is set but no python3 can import torch")
	}
	t.Skip("no python3 with torch (apt-get install python3-torch); .ci/run installs it")
	return ""
}

// TestTorchTrainer runs examples/trainers/torch_trainer.py, a real PyTorch
// trainer, through the command-trainer contract: sft must raise the
// log-probability of the targets, dpo the margin of chosen over rejected,
// and both results must load as builtin models.
func TestTorchTrainer(t *testing.T) {
	py := torchPython(t)
	script, err := filepath.Abs("../../examples/trainers/torch_trainer.py")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	base := h.tinyModel(3)
	score := func(m cty.Value, prompt, completion string) float64 {
		lm, err := h.exec("generate", nil, nil).OpenModel(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		lp, err := lm.(runtime.Scorer).LogProb(ctx, prompt, completion)
		if err != nil {
			t.Fatal(err)
		}
		return lp
	}
	cmd := cty.ListVal([]cty.Value{cty.StringVal(py), cty.StringVal(script)})

	x := h.exec("sft", map[string]cty.Value{
		"base": base, "data": h.dataset(problems(6)), "trainer": cty.StringVal("command"), "command": cmd,
		"steps": cty.NumberIntVal(30), "batch_size": cty.NumberIntVal(6), "learning_rate": cty.NumberFloatVal(1e-2), "warmup": cty.NumberIntVal(0),
	}, map[string]string{"prompt": `"Q: ${item.question}\nA:"`, "target": `" ${item.answer}"`})
	v, err := (&modelops.SFT{}).Run(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	tuned := v.GetAttr("model")
	before, after := score(base, "Q: 1+3\nA:", " 4"), score(tuned, "Q: 1+3\nA:", " 4")
	if !(after > before+1) {
		t.Fatalf("sft with torch: log p(target) %.3f → %.3f, want a clear rise", before, after)
	}
	// At initialisation the loss is about ln(44 tokens) ≈ 3.8.
	if l, _ := v.GetAttr("loss").AsBigFloat().Float64(); !(l < 2) {
		t.Fatalf("final sft loss %v", l)
	}

	pairs := preferencePairs(6)
	x = h.exec("dpo", map[string]cty.Value{
		"base": base, "data": h.dataset(pairs), "trainer": cty.StringVal("command"), "command": cmd,
		"steps": cty.NumberIntVal(20), "batch_size": cty.NumberIntVal(6), "learning_rate": cty.NumberFloatVal(5e-3), "warmup": cty.NumberIntVal(0),
	}, map[string]string{"prompt": `item.prompt`, "chosen": `item.chosen`, "rejected": `item.rejected`})
	v, err = (&modelops.DPO{}).Run(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	margin := func(m cty.Value) float64 {
		return score(m, "Q: 1+3\nA:", " 4") - score(m, "Q: 1+3\nA:", " 5")
	}
	if m0, m1 := margin(base), margin(v.GetAttr("model")); !(m1 > m0) {
		t.Fatalf("dpo with torch: margin chosen − rejected %.3f → %.3f, want a rise", m0, m1)
	}
	if l, _ := v.GetAttr("loss").AsBigFloat().Float64(); !(l < 0.69) {
		t.Fatalf("final dpo loss %v", l)
	}
}
