package gpt

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readSafetensors reads a safetensors file into name → (shape, data),
// independently of Load (which reads only ouro's own checkpoints).
func readSafetensors(t *testing.T, path string) (map[string]string, map[string][]int, map[string][]float32) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hl := binary.LittleEndian.Uint64(raw)
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+hl], &hdr); err != nil {
		t.Fatal(err)
	}
	var meta map[string]string
	json.Unmarshal(hdr["__metadata__"], &meta)
	shapes, datas := map[string][]int{}, map[string][]float32{}
	body := raw[8+hl:]
	var end int64
	for name, msg := range hdr {
		if name == "__metadata__" {
			continue
		}
		var e stEntry
		if err := json.Unmarshal(msg, &e); err != nil || e.DType != "F32" {
			t.Fatalf("%s: %s %v", name, msg, err)
		}
		d := make([]float32, (e.DataOffsets[1]-e.DataOffsets[0])/4)
		for i := range d {
			d[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[e.DataOffsets[0]+int64(4*i):]))
		}
		shapes[name], datas[name] = e.Shape, d
		end = max(end, e.DataOffsets[1])
	}
	if end != int64(len(body)) {
		t.Fatalf("tensor data ends at %d of %d bytes", end, len(body))
	}
	return meta, shapes, datas
}

// hfUnpermute inverts hfPermute, written from transformers' formula (HF
// row h·hd + t·hd/2 + p holds Meta row h·hd + 2p + t) in the other
// direction.
func hfUnpermute(w []float32, heads, hd, cols int) []float32 {
	out := make([]float32, len(w))
	for r := 0; r < heads*hd; r++ {
		h, i := r/hd, r%hd
		t, p := i/(hd/2), i%(hd/2)
		copy(out[(h*hd+2*p+t)*cols:][:cols], w[r*cols:][:cols])
	}
	return out
}

func TestHFExportRoundTrip(t *testing.T) {
	cfg := Config{Layers: 2, Dim: 24, Heads: 3, Hidden: 40, MaxSeq: 50, Vocab: "xy z\n1"}
	m, err := New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.WriteHF(dir); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, HFFiles) {
		t.Fatalf("files %v, want %v", names, HFFiles)
	}

	meta, shapes, datas := readSafetensors(t, filepath.Join(dir, "model.safetensors"))
	if meta["format"] != "pt" {
		t.Errorf("metadata %v", meta)
	}
	if len(datas) != len(m.lo.tensors) {
		t.Fatalf("%d tensors, want %d", len(datas), len(m.lo.tensors))
	}
	toOuro := map[string]string{"model.embed_tokens.weight": "tok_embeddings.weight", "model.norm.weight": "norm.weight", "lm_head.weight": "output.weight"}
	for l := 0; l < cfg.Layers; l++ {
		h, o := fmt.Sprintf("model.layers.%d.", l), fmt.Sprintf("layers.%d.", l)
		for hn, on := range map[string]string{
			"input_layernorm": "attention_norm", "self_attn.q_proj": "attention.wq", "self_attn.k_proj": "attention.wk",
			"self_attn.v_proj": "attention.wv", "self_attn.o_proj": "attention.wo", "post_attention_layernorm": "ffn_norm",
			"mlp.gate_proj": "feed_forward.w1", "mlp.down_proj": "feed_forward.w2", "mlp.up_proj": "feed_forward.w3",
		} {
			toOuro[h+hn+".weight"] = o + on + ".weight"
		}
	}
	for hn, on := range toOuro {
		got, ok := datas[hn]
		if !ok {
			t.Errorf("missing %s", hn)
			continue
		}
		if !slices.Equal(shapes[hn], m.shape(on)) {
			t.Errorf("%s: shape %v, want %v", hn, shapes[hn], m.shape(on))
		}
		permuted := strings.HasSuffix(hn, "q_proj.weight") || strings.HasSuffix(hn, "k_proj.weight")
		if permuted {
			if slices.Equal(got, m.tensor(on)) {
				t.Errorf("%s: not permuted", hn)
			}
			got = hfUnpermute(got, cfg.Heads, cfg.Dim/cfg.Heads, cfg.Dim)
		}
		for i, f := range m.tensor(on) {
			if math.Float32bits(got[i]) != math.Float32bits(f) {
				t.Fatalf("%s[%d] = %v, want %v (bit for bit)", hn, i, got[i], f)
			}
		}
	}

	var conf map[string]any
	readJSON(t, filepath.Join(dir, "config.json"), &conf)
	for k, want := range map[string]any{
		"architectures": []any{"LlamaForCausalLM"}, "model_type": "llama", "hidden_size": 24.0, "intermediate_size": 40.0,
		"num_attention_heads": 3.0, "num_key_value_heads": 3.0, "num_hidden_layers": 2.0, "head_dim": 8.0,
		"rms_norm_eps": 1e-5, "rope_theta": 10000.0, "vocab_size": 10.0, "max_position_embeddings": 50.0,
		"bos_token_id": 1.0, "eos_token_id": 2.0, "pad_token_id": 0.0, "tie_word_embeddings": false, "torch_dtype": "float32",
		"hidden_act": "silu",
	} {
		if fmt.Sprint(conf[k]) != fmt.Sprint(want) {
			t.Errorf("config.json %s = %v, want %v", k, conf[k], want)
		}
	}
	var tok struct {
		Model struct {
			Type   string         `json:"type"`
			Vocab  map[string]int `json:"vocab"`
			Merges []string       `json:"merges"`
			Unk    string         `json:"unk_token"`
		} `json:"model"`
		Decoder struct{ Type string } `json:"decoder"`
	}
	readJSON(t, filepath.Join(dir, "tokenizer.json"), &tok)
	if tok.Model.Type != "BPE" || len(tok.Model.Merges) != 0 || tok.Model.Unk != "<unk>" || tok.Decoder.Type != "Fuse" || len(tok.Model.Vocab) != 10 {
		t.Errorf("tokenizer.json: %+v", tok)
	}
	for _, r := range cfg.Vocab {
		if id := m.tok.encode(nil, string(r))[0]; tok.Model.Vocab[string(r)] != id {
			t.Errorf("tokenizer.json: %q → %d, ouro %d", r, tok.Model.Vocab[string(r)], id)
		}
	}
	for i, s := range []string{"<pad>", "<s>", "</s>", "<unk>"} {
		if tok.Model.Vocab[s] != i {
			t.Errorf("tokenizer.json: %s → %d, want %d", s, tok.Model.Vocab[s], i)
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestHFPermutationMatchesRotateHalf checks the reason for the permutation:
// Hugging Face's rotary embedding (q·cos + rotate_half(q)·sin, with cos and
// sin of cat(freqs, freqs), as in transformers' apply_rotary_pos_emb) on
// the permuted projection gives ouro's adjacent-pairs rotation of the
// original, permuted the same way — so q·k, and the whole model, agree.
func TestHFPermutationMatchesRotateHalf(t *testing.T) {
	m, err := New(Config{Layers: 1, Dim: 32, Heads: 4, MaxSeq: 40}, 5)
	if err != nil {
		t.Fatal(err)
	}
	D, NH, HD := 32, 4, 8
	wq := m.tensor("layers.0.attention.wq.weight")
	whf := hfPermute(wq, NH, HD, D)
	r := newRNG(9)
	x := make([]float32, D)
	for i := range x {
		x[i] = float32(r.normal())
	}
	matvec := func(w []float32) []float32 {
		y := make([]float32, D)
		for o := 0; o < D; o++ {
			var s float64
			for i := 0; i < D; i++ {
				s += float64(w[o*D+i]) * float64(x[i])
			}
			y[o] = float32(s)
		}
		return y
	}
	for _, pos := range []int{0, 1, 7, 39} {
		qo := matvec(wq)
		m.net.rope(qo, []int{pos}, false) // ouro: adjacent pairs
		qh := matvec(whf)
		// transformers: inv_freq = base^(-2i/hd), emb = cat(freqs, freqs)
		out := make([]float32, D)
		for h := 0; h < NH; h++ {
			q := qh[h*HD : (h+1)*HD]
			for i := 0; i < HD; i++ {
				th := float64(pos) * math.Pow(10000, -float64(2*(i%(HD/2)))/float64(HD))
				var rot float32 // rotate_half: cat(-x2, x1)
				if i < HD/2 {
					rot = -q[i+HD/2]
				} else {
					rot = q[i-HD/2]
				}
				out[h*HD+i] = q[i]*float32(math.Cos(th)) + rot*float32(math.Sin(th))
			}
		}
		want := hfPermute(qo, NH, HD, 1)
		for i := range out {
			if d := math.Abs(float64(out[i] - want[i])); d > 1e-5 {
				t.Fatalf("pos %d: HF rotate-half q[%d] = %v, permuted ouro q = %v", pos, i, out[i], want[i])
			}
		}
	}
}

func TestHFRefusesNoPE(t *testing.T) {
	m, err := New(Config{Layers: 1, Dim: 16, Heads: 2, MaxSeq: 16, Positions: "none"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.WriteHF(dir); !errors.Is(err, ErrNotExportable) {
		t.Fatalf("err = %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("%d files written", len(ents))
	}
}

// torchPython returns a Python that imports torch, or "".
func torchPython() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import torch").Run() == nil {
			return py
		}
	}
	return ""
}

// TestHFForwardInTorch runs the exported folder through an independent
// LLaMA forward pass in torch written the Hugging Face way
// (testdata/hf_llama_forward.py: rotate-half RoPE on the permuted q/k) and
// compares its log-probabilities with ouro's. Skipped without torch
// (Debian: apt-get install python3-torch).
func TestHFForwardInTorch(t *testing.T) {
	py := torchPython()
	if py == "" {
		t.Skip("no python3 with torch")
	}
	cfg := Config{Layers: 2, Dim: 32, Heads: 4, Hidden: 48, MaxSeq: 40}
	m, err := New(cfg, 11)
	if err != nil {
		t.Fatal(err)
	}
	// Larger weights than New's make sharper, more position-dependent
	// distributions, so a RoPE mistake cannot hide in near-uniform ones.
	for i := range m.w {
		m.w[i] *= 8
	}
	m = newModel(m.cfg, m.lo, m.w)
	dir := t.TempDir()
	if err := m.WriteHF(dir); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{{"The cat", " sat on the mat.\n"}, {"x", "yz 123 !?"}, {"reverse abc\n", "cba"}} {
		_, want, err := m.LogProb(c[0], c[1])
		if err != nil {
			t.Fatal(err)
		}
		ids := append([]int{tokBOS}, m.tok.encode(nil, c[0]+c[1])...)
		req, _ := json.Marshal(map[string]any{"ids": ids, "prompt_len": 1 + len([]rune(c[0]))})
		reqPath := filepath.Join(dir, "ids.json")
		os.WriteFile(reqPath, req, 0o644)
		out, err := exec.Command(py, "testdata/hf_llama_forward.py", dir, reqPath).Output()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		var got []float64
		if err := json.Unmarshal(out, &got); err != nil || len(got) != len(want) {
			t.Fatalf("torch printed %q (%v), want %d log-probs", out, err, len(want))
		}
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-4*max(1, math.Abs(want[i])) {
				t.Errorf("%q+%q token %d: torch %.6f, ouro %.6f", c[0], c[1], i, got[i], want[i])
			}
		}
		t.Logf("%q → %q: %d tokens agree, e.g. %.5f / %.5f", c[0], c[1], len(want), got[0], want[0])
	}
}
