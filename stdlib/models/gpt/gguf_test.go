package gpt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gguf "github.com/gpustack/gguf-parser-go"
)

// writeGGUFFile exports m to a file of a temporary directory.
func writeGGUFFile(t *testing.T, m *Model) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.gguf")
	var buf bytes.Buffer
	if err := m.WriteGGUF(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestGGUFParsedByIndependentReader exports a model and reads the file
// back with gpustack/gguf-parser-go: header, architecture, every metadata
// value, every tensor's name, shape, type and bytes, and the vocabulary.
func TestGGUFParsedByIndependentReader(t *testing.T) {
	cfg := Config{Layers: 3, Dim: 48, Heads: 4, Hidden: 72, MaxSeq: 96, Vocab: "ab c\n=+é"}
	m, err := New(cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	path := writeGGUFFile(t, m)
	gf, err := gguf.ParseGGUFFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if gf.Header.Magic != gguf.GGUFMagicGGUFLe || gf.Header.Version != gguf.GGUFVersionV3 {
		t.Fatalf("header: magic %v version %v", gf.Header.Magic, gf.Header.Version)
	}

	a := gf.Architecture()
	V := uint64(len([]rune(cfg.Vocab)) + 4 + byteTokens) // with the byte-fallback pieces
	checks := []struct {
		what      string
		got, want any
	}{
		{"type", a.Type, "model"},
		{"architecture", a.Architecture, "llama"},
		{"context length", a.MaximumContextLength, uint64(96)},
		{"embedding length", a.EmbeddingLength, uint64(48)},
		{"block count", a.BlockCount, uint64(3)},
		{"feed forward length", fmt.Sprint(a.FeedForwardLength), "[72 72 72]"},
		{"head count", a.AttentionHeadCount, uint64(4)},
		{"head count kv", a.AttentionHeadCountKV, uint64(4)},
		{"rms epsilon", a.AttentionLayerNormRMSEpsilon, float32(1e-5)},
		{"rope dims", a.RoPEDimensionCount, uint64(12)},
		{"rope base", a.RoPEFrequencyBase, float32(10000)},
		{"vocabulary length", a.VocabularyLength, V},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	kv := gf.Header.MetadataKV
	meta := func(key string) gguf.GGUFMetadataKV {
		v, ok := kv.Get(key)
		if !ok {
			t.Fatalf("metadata %s missing", key)
		}
		return v
	}
	for key, want := range map[string]bool{"tokenizer.ggml.add_bos_token": true, "tokenizer.ggml.add_eos_token": false, "tokenizer.ggml.add_space_prefix": false} {
		if v := meta(key); v.ValueType != gguf.GGUFMetadataValueTypeBool || v.ValueBool() != want {
			t.Errorf("%s = %v (%v), want %v", key, v.Value, v.ValueType, want)
		}
	}
	if v := meta("general.file_type"); v.ValueType != gguf.GGUFMetadataValueTypeUint32 || v.ValueUint32() != 0 {
		t.Errorf("general.file_type = %v (%v), want uint32 0 (all F32)", v.Value, v.ValueType)
	}

	tk := gf.Tokenizer()
	if tk.Model != "llama" || tk.TokensLength != V || tk.MergesLength != 0 ||
		tk.BOSTokenID != 1 || tk.EOSTokenID != 2 || tk.UnknownTokenID != 3 || tk.PaddingTokenID != 0 {
		t.Errorf("tokenizer = %+v", tk)
	}
	tokens := meta("tokenizer.ggml.tokens").ValueArray().ValuesString()
	types := meta("tokenizer.ggml.token_type").ValueArray().ValuesInt32()
	scores := meta("tokenizer.ggml.scores").ValueArray().ValuesFloat32()
	wantTokens := []string{"<pad>", "<s>", "</s>", "<unk>", "a", "b", "▁", "c", "\n", "=", "+", "é"}
	wantTypes := []int32{3, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1}
	for b := range 256 {
		wantTokens = append(wantTokens, fmt.Sprintf("<0x%02X>", b))
		wantTypes = append(wantTypes, 6) // LLAMA_TOKEN_TYPE_BYTE
	}
	// gguf-parser-go trims white space from every string it reads (its
	// ReadString ends in bytes.TrimSpace), so "\n" comes back as "";
	// llama.cpp reads the bytes as they are, checked below in the raw file.
	trimmed := make([]string, len(wantTokens))
	for i, s := range wantTokens {
		trimmed[i] = strings.TrimSpace(s)
	}
	if fmt.Sprintf("%q", tokens) != fmt.Sprintf("%q", trimmed) || fmt.Sprint(types) != fmt.Sprint(wantTypes) || len(scores) != len(wantTokens) {
		t.Errorf("tokens %q types %v scores %v", tokens, types, scores)
	}
	// Every character's piece sits at the id ouro's tokenizer gives it.
	for _, r := range cfg.Vocab {
		id := m.tok.encode(nil, string(r))[0]
		piece := string(r)
		if r == ' ' {
			piece = "▁"
		}
		if tokens[id] != strings.TrimSpace(piece) {
			t.Errorf("character %q: ouro id %d, GGUF piece %q", r, id, tokens[id])
		}
	}

	// Tensors: names, shapes (innermost first), F32, and the exact bytes.
	want := map[string][2]string{ // gguf name → ouro name, dims
		"token_embd.weight":  {"tok_embeddings.weight", fmt.Sprint([]uint64{48, V})},
		"output_norm.weight": {"norm.weight", "[48]"},
		"output.weight":      {"output.weight", fmt.Sprint([]uint64{48, V})},
	}
	for l := 0; l < 3; l++ {
		g, o := fmt.Sprintf("blk.%d.", l), fmt.Sprintf("layers.%d.", l)
		want[g+"attn_norm.weight"] = [2]string{o + "attention_norm.weight", "[48]"}
		want[g+"attn_q.weight"] = [2]string{o + "attention.wq.weight", "[48 48]"}
		want[g+"attn_k.weight"] = [2]string{o + "attention.wk.weight", "[48 48]"}
		want[g+"attn_v.weight"] = [2]string{o + "attention.wv.weight", "[48 48]"}
		want[g+"attn_output.weight"] = [2]string{o + "attention.wo.weight", "[48 48]"}
		want[g+"ffn_norm.weight"] = [2]string{o + "ffn_norm.weight", "[48]"}
		want[g+"ffn_gate.weight"] = [2]string{o + "feed_forward.w1.weight", "[48 72]"}
		want[g+"ffn_down.weight"] = [2]string{o + "feed_forward.w2.weight", "[72 48]"}
		want[g+"ffn_up.weight"] = [2]string{o + "feed_forward.w3.weight", "[48 72]"}
	}
	if len(gf.TensorInfos) != len(want) || gf.Header.TensorCount != uint64(len(want)) {
		t.Fatalf("%d tensors (header %d), want %d", len(gf.TensorInfos), gf.Header.TensorCount, len(want))
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The token array as llama.cpp reads it: type string, count, then
	// length-prefixed pieces, "\n" included.
	var arr bytes.Buffer
	binary.Write(&arr, binary.LittleEndian, uint32(8))
	binary.Write(&arr, binary.LittleEndian, uint64(len(wantTokens)))
	for _, s := range wantTokens {
		binary.Write(&arr, binary.LittleEndian, uint64(len(s)))
		arr.WriteString(s)
	}
	if !bytes.Contains(raw, arr.Bytes()) {
		t.Error("the raw file does not hold the token array as expected")
	}
	var params uint64
	for _, ti := range gf.TensorInfos {
		w, ok := want[ti.Name]
		if !ok {
			t.Errorf("unexpected tensor %s", ti.Name)
			continue
		}
		if got := fmt.Sprint(ti.Dimensions); got != w[1] || ti.Type != gguf.GGMLTypeF32 {
			t.Errorf("%s: dims %s type %v, want %s F32", ti.Name, got, ti.Type, w[1])
		}
		if ti.Offset%32 != 0 {
			t.Errorf("%s: offset %d not aligned to 32", ti.Name, ti.Offset)
		}
		data := m.tensor(w[0])
		params += uint64(len(data))
		if ti.Name == "token_embd.weight" || ti.Name == "output.weight" {
			// The byte-fallback rows: copies of UNK's.
			unk := data[3*48 : 4*48]
			for range 256 {
				data = append(data[:len(data):len(data)], unk...)
			}
		}
		start := gf.TensorDataStartOffset + int64(ti.Offset)
		for i, f := range data {
			if got := binary.LittleEndian.Uint32(raw[start+int64(4*i):]); got != math.Float32bits(f) {
				t.Fatalf("%s[%d] = %#x, want %#x", ti.Name, i, got, math.Float32bits(f))
			}
		}
	}
	if params != uint64(m.NumParams()) || uint64(gf.ModelParameters) != params+2*256*48 {
		t.Errorf("parameters: %d in ouro's tensors, %d by the parser (want 2×256×48 more for the byte rows), model has %d", params, gf.ModelParameters, m.NumParams())
	}
	if int64(len(raw)) != gf.TensorDataStartOffset+int64(alignUp(lastEnd(gf), 32)) {
		t.Errorf("file is %d bytes, tensor data ends at %d", len(raw), gf.TensorDataStartOffset+int64(lastEnd(gf)))
	}
}

// lastEnd is where the last tensor's data ends, relative to the data section.
func lastEnd(gf *gguf.GGUFFile) uint64 {
	var end uint64
	for _, ti := range gf.TensorInfos {
		n := uint64(4)
		for _, d := range ti.Dimensions {
			n *= d
		}
		end = max(end, ti.Offset+n)
	}
	return end
}

func TestGGUFDeterministicAndDefaultVocab(t *testing.T) {
	m, err := New(Config{Layers: 1, Dim: 16, Heads: 2, MaxSeq: 32}, 1)
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := m.WriteGGUF(&a); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteGGUF(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two exports of one model differ")
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := os.WriteFile(path, a.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	gf, err := gguf.ParseGGUFFile(path)
	if err != nil {
		t.Fatal(err)
	}
	kv, _ := gf.Header.MetadataKV.Get("tokenizer.ggml.tokens")
	tokens := kv.ValueArray().ValuesString()
	if len(tokens) != m.VocabSize()+256 || tokens[4] != "" /* "\n", trimmed by the parser */ || tokens[5] != "▁" || tokens[6] != "!" || tokens[len(tokens)-257] != "~" || tokens[len(tokens)-1] != "<0xFF>" {
		t.Errorf("default vocabulary: %d tokens, %q", len(tokens), tokens[:8])
	}
}

func TestGGUFRefusesWhatLlamaCannotExpress(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"nope", Config{Layers: 1, Dim: 16, Heads: 2, MaxSeq: 16, Positions: "none"}, "NoPE"},
		{"spm space mark in vocab", Config{Layers: 1, Dim: 16, Heads: 2, MaxSeq: 16, Vocab: "ab▁"}, "U+2581"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := New(c.cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			err = m.WriteGGUF(&buf)
			if !errors.Is(err, ErrNotExportable) || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
				t.Fatalf("err = %v, want ErrNotExportable mentioning %s", err, c.want)
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes written before the error", buf.Len())
			}
		})
	}
}
