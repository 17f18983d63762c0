package providers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/store"
	"github.com/ouroloop/ouro/stdlib/models/gpt"
)

// TestMain doubles as the fake generator of the command provider tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("OURO_FAKE_GENERATOR"); mode != "" {
		fakeGenerator(mode)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func fakeGenerator(mode string) {
	if mode == "fail" {
		fmt.Fprintln(os.Stderr, "model weights not found")
		os.Exit(3)
	}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	var reqs []CommandRequest
	for sc.Scan() {
		var r CommandRequest
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		reqs = append(reqs, r)
	}
	// Answer in reverse order: the provider must match by index.
	for i := len(reqs) - 1; i >= 0; i-- {
		r := reqs[i]
		if mode == "short" && i == 1 {
			continue
		}
		var cs []map[string]any
		for s := 0; s < r.N; s++ {
			cs = append(cs, map[string]any{"text": fmt.Sprintf("%s|%d|%d", r.Prompt, r.Seed, s), "finish_reason": "length"})
		}
		b, _ := json.Marshal(map[string]any{"index": r.Index, "completions": cs})
		w.Write(b)
		w.WriteByte('\n')
	}
}

func commandLM(t *testing.T, mode string) runtime.LM {
	t.Helper()
	x := &runtime.Exec{Params: map[string]cty.Value{
		"command":  cty.ListVal([]cty.Value{cty.StringVal(os.Args[0]), cty.StringVal("-test.run=^$")}),
		"env":      cty.MapVal(map[string]cty.Value{"OURO_FAKE_GENERATOR": cty.StringVal(mode)}),
		"identity": cty.StringVal("v1"), "timeout": cty.StringVal("1m"),
	}}
	ref, err := (&Command{}).Resolve(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	lm, err := (&Command{}).Open(context.Background(), ref, &runtime.Env{SpecDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return lm
}

func TestCommandProvider(t *testing.T) {
	lm := commandLM(t, "ok")
	if !strings.HasPrefix(lm.Identity(), "command:") {
		t.Fatal(lm.Identity())
	}
	reqs := []runtime.GenRequest{
		{Prompt: "a", N: 2, Seed: 7},
		{Messages: []runtime.Message{{Role: "user", Content: "hi"}}, N: 1, Seed: 8},
		{Prompt: "c", N: 0},
	}
	got, err := lm.Generate(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]runtime.Completion{
		{{Text: "a|7|0", FinishReason: "length"}, {Text: "a|7|1", FinishReason: "length"}},
		{{Text: "user: hi\nassistant:|8|0", FinishReason: "length"}},
		{},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
	if _, err := commandLM(t, "short").Generate(context.Background(), reqs); err == nil || !strings.Contains(err.Error(), "no answer for request 1") {
		t.Fatalf("missing answer: %v", err)
	}
	if _, err := commandLM(t, "fail").Generate(context.Background(), reqs); err == nil || !strings.Contains(err.Error(), "model weights not found") {
		t.Fatalf("failing generator: %v", err)
	}
}

func TestBuiltinProvider(t *testing.T) {
	dir := t.TempDir()
	bs, err := store.NewDiskBlobs(filepath.Join(dir, "b"), filepath.Join(dir, "t"))
	if err != nil {
		t.Fatal(err)
	}
	env := &runtime.Env{Blobs: bs, SpecDir: dir}
	x := &runtime.Exec{Blobs: bs, Env: env, Params: map[string]cty.Value{
		"layers": cty.NumberIntVal(1), "dim": cty.NumberIntVal(16), "heads": cty.NumberIntVal(2), "hidden": cty.NumberIntVal(0),
		"max_seq": cty.NumberIntVal(32), "positions": cty.StringVal("none"), "vocab": cty.StringVal("abc "), "seed": cty.NumberIntVal(3),
		"checkpoint": cty.NullVal(cty.String),
	}}
	ref, err := (&Builtin{}).Resolve(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := gpt.New(gpt.Config{Layers: 1, Dim: 16, Heads: 2, MaxSeq: 32, Positions: "none", Vocab: "abc "}, 3)
	if ref.Digest != want.Digest() || ref.Provider != "builtin" {
		t.Fatalf("ref %+v, want digest %s", ref, want.Digest())
	}
	// The same model from a checkpoint file.
	var buf bytes.Buffer
	want.Save(&buf)
	os.WriteFile(filepath.Join(dir, "m.safetensors"), buf.Bytes(), 0o644)
	x.Params["checkpoint"] = cty.StringVal("m.safetensors")
	ref2, err := (&Builtin{}).Resolve(context.Background(), x)
	if err != nil || ref2.Digest != ref.Digest {
		t.Fatalf("checkpoint: %v %+v", err, ref2)
	}
	os.WriteFile(filepath.Join(dir, "bad.safetensors"), []byte("nope"), 0o644)
	x.Params["checkpoint"] = cty.StringVal("bad.safetensors")
	if _, err := (&Builtin{}).Resolve(context.Background(), x); err == nil {
		t.Fatal("bad checkpoint accepted")
	}

	modelCache = &lru{max: 8} // force a load from the blob
	lm, err := (&Builtin{}).Open(context.Background(), ref, env)
	if err != nil {
		t.Fatal(err)
	}
	if lm.Identity() != "builtin:"+ref.Digest {
		t.Fatal(lm.Identity())
	}
	reqs := []runtime.GenRequest{
		{Prompt: "ab", N: 2, Temperature: 1, MaxTokens: 5, Seed: 1},
		{Prompt: "ca", N: 3, Temperature: 1, MaxTokens: 5, Seed: 1},
		{Prompt: "ab", N: 2, Temperature: 0.5, MaxTokens: 5, Seed: 1, LogProbs: true},
		{Messages: []runtime.Message{{Role: "a", Content: "b"}}, N: 1, MaxTokens: 3},
	}
	all, err := lm.Generate(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	// Batched or one by one, and whatever N: the same samples.
	for i, r := range reqs {
		one, err := lm.Generate(context.Background(), []runtime.GenRequest{r})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(one[0], all[i]) {
			t.Fatalf("request %d: batched %v, alone %v", i, all[i], one[0])
		}
		r.N = 1
		first, _ := lm.Generate(context.Background(), []runtime.GenRequest{r})
		if !reflect.DeepEqual(first[0][0], all[i][0]) {
			t.Fatalf("request %d: sample 0 depends on N", i)
		}
	}
	if all[2][0].LogProb == 0 || all[0][0].LogProb != 0 {
		t.Fatal("logprobs only when asked")
	}
	if _, ok := lm.(runtime.Scorer); !ok {
		t.Fatal("builtin LM is not a Scorer")
	}
	if _, err := (&Builtin{}).Open(context.Background(), compiler.ModelRef{Provider: "builtin", Digest: string(store.DigestOf([]byte("x")))}, env); err == nil {
		t.Fatal("missing checkpoint opened")
	}
}
