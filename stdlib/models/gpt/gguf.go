package gpt

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// GGUF export: the model as one GGUF v3 file of llama.cpp's "llama"
// architecture, float32 tensors, with the tokenizer written as a
// SentencePiece ("llama") vocabulary that tokenizes text exactly as ouro
// does (docs/builtin-model.md#export, docs/decisions.md).
//
// The file: magic "GGUF", version 3, tensor and key/value counts; the
// key/values; one info per tensor (name, dimensions innermost first, type,
// offset in the data section); padding to the alignment (32); the tensor
// data, each tensor starting at a multiple of the alignment.

const (
	ggufVersion   = 3
	ggufAlignment = 32

	// GGUF metadata value types.
	ggufUint32  = 4
	ggufInt32   = 5
	ggufFloat32 = 6
	ggufBool    = 7
	ggufString  = 8
	ggufArray   = 9

	ggmlTypeF32 = 0

	// llama.cpp's token types (llama_token_type).
	tokenTypeNormal  = 1
	tokenTypeUnknown = 2
	tokenTypeControl = 3
	tokenTypeByte    = 6

	// byteTokens is the number of byte-fallback pieces <0x00> … <0xFF>
	// after the characters (see ggufTensors).
	byteTokens = 256

	// spmSpace is the character SentencePiece writes for a space.
	spmSpace = '\u2581'
)

// specialPieces are the texts of the special tokens in exported
// vocabularies (the names LLaMA's SentencePiece model uses).
var specialPieces = [numSpecial]string{"<pad>", "<s>", "</s>", "<unk>"}

// ErrNotExportable is wrapped by the errors of an export the target format
// cannot express (a NoPE model in the llama architecture, a vocabulary
// holding SentencePiece's space mark).
var ErrNotExportable = errors.New("cannot be exported")

// exportable checks what GGUF and Hugging Face's LLaMA share: rotary
// positions.
func (m *Model) exportable(format string) error {
	if m.cfg.Positions != "rope" {
		return fmt.Errorf("gpt: %w to %s: the model has no position encoding (positions = %q, NoPE) and the llama architecture always applies RoPE", ErrNotExportable, format, m.cfg.Positions)
	}
	return nil
}

// ggufTensor is one tensor of the export: its llama.cpp name, its shape in
// ouro's order ([out, in]) and its weights.
type ggufTensor struct {
	name  string
	shape []int
	data  []float32
}

// tensor returns the weights of one of ouro's tensors (shared, not copied).
func (m *Model) tensor(name string) []float32 {
	for _, t := range m.lo.tensors {
		if t.name == name {
			return m.w[t.off : t.off+t.size]
		}
	}
	panic("gpt: no tensor " + name)
}

func (m *Model) shape(name string) []int {
	for _, t := range m.lo.tensors {
		if t.name == name {
			return t.shape
		}
	}
	panic("gpt: no tensor " + name)
}

// ggufTensors lists the tensors under llama.cpp's names, in llama.cpp's
// order. ouro's Q and K rows are already in the interleaved (adjacent
// pairs) order llama.cpp's normal RoPE mode expects, so nothing is permuted.
//
// The embedding and output matrices get byteTokens more rows, each a copy
// of UNK's: llama.cpp's SentencePiece tokenizer has no unknown token for a
// character outside the vocabulary, it spells the character's UTF-8 bytes
// as <0xXX> pieces, and aborts the whole server (std::out_of_range) when
// those pieces are missing, as Ollama v0.17.4 did on a tab. With them, a
// character outside the vocabulary is one UNK-like token per byte: exactly
// ouro's UNK for an ASCII one (tab, CR), one per byte for a longer one.
func (m *Model) ggufTensors() []ggufTensor {
	var out []ggufTensor
	add := func(gname, oname string) {
		out = append(out, ggufTensor{name: gname, shape: m.shape(oname), data: m.tensor(oname)})
	}
	addVocab := func(gname, oname string) {
		shape, data := m.shape(oname), m.tensor(oname)
		dim := shape[1]
		unk := data[tokUNK*dim : (tokUNK+1)*dim]
		ext := make([]float32, 0, len(data)+byteTokens*dim)
		ext = append(ext, data...)
		for range byteTokens {
			ext = append(ext, unk...)
		}
		out = append(out, ggufTensor{name: gname, shape: []int{shape[0] + byteTokens, dim}, data: ext})
	}
	addVocab("token_embd.weight", "tok_embeddings.weight")
	for l := 0; l < m.cfg.Layers; l++ {
		g, o := fmt.Sprintf("blk.%d.", l), fmt.Sprintf("layers.%d.", l)
		add(g+"attn_norm.weight", o+"attention_norm.weight")
		add(g+"attn_q.weight", o+"attention.wq.weight")
		add(g+"attn_k.weight", o+"attention.wk.weight")
		add(g+"attn_v.weight", o+"attention.wv.weight")
		add(g+"attn_output.weight", o+"attention.wo.weight")
		add(g+"ffn_norm.weight", o+"ffn_norm.weight")
		add(g+"ffn_gate.weight", o+"feed_forward.w1.weight")
		add(g+"ffn_down.weight", o+"feed_forward.w2.weight")
		add(g+"ffn_up.weight", o+"feed_forward.w3.weight")
	}
	add("output_norm.weight", "norm.weight")
	addVocab("output.weight", "output.weight")
	return out
}

// spmPieces is the vocabulary as SentencePiece pieces: the specials, then
// each character, a space written as U+2581 (SentencePiece replaces spaces
// with it before looking pieces up, and back when decoding), then the
// byte-fallback pieces <0x00> … <0xFF> (ggufTensors).
func (m *Model) spmPieces() ([]string, error) {
	out := append([]string(nil), specialPieces[:]...)
	for _, r := range m.tok.runes {
		switch r {
		case spmSpace:
			return nil, fmt.Errorf("gpt: %w to gguf: the vocabulary holds U+2581, which SentencePiece reserves for a space", ErrNotExportable)
		case ' ':
			out = append(out, string(spmSpace))
		default:
			out = append(out, string(r))
		}
	}
	for b := range byteTokens {
		out = append(out, fmt.Sprintf("<0x%02X>", b))
	}
	return out, nil
}

// ggufKV is one metadata entry; val is uint32, int32, float32, bool,
// string, []string, []float32 or []int32.
type ggufKV struct {
	key string
	val any
}

func (m *Model) ggufMetadata() ([]ggufKV, error) {
	pieces, err := m.spmPieces()
	if err != nil {
		return nil, err
	}
	scores := make([]float32, len(pieces))
	types := make([]int32, len(pieces))
	for i := range types {
		types[i] = tokenTypeNormal
	}
	types[tokPAD], types[tokBOS], types[tokEOS] = tokenTypeControl, tokenTypeControl, tokenTypeControl
	types[tokUNK] = tokenTypeUnknown
	for i := len(types) - byteTokens; i < len(types); i++ {
		types[i] = tokenTypeByte
	}
	c := m.cfg
	u := func(n int) uint32 { return uint32(n) }
	kvs := []ggufKV{
		{"general.architecture", "llama"},
		{"general.name", "ouro-gpt"},
		{"general.description", "ouro builtin model " + m.Digest()},
		{"general.file_type", uint32(0)}, // all F32
		{"llama.vocab_size", u(m.lo.V + byteTokens)},
		{"llama.context_length", u(c.MaxSeq)},
		{"llama.embedding_length", u(c.Dim)},
		{"llama.block_count", u(c.Layers)},
		{"llama.feed_forward_length", u(c.Hidden)},
		{"llama.attention.head_count", u(c.Heads)},
		{"llama.attention.head_count_kv", u(c.Heads)},
		{"llama.attention.layer_norm_rms_epsilon", float32(normEps)},
		{"llama.rope.dimension_count", u(m.lo.HD)},
		{"llama.rope.freq_base", float32(ropeBase)},
		{"tokenizer.ggml.model", "llama"},
		{"tokenizer.ggml.tokens", pieces},
		{"tokenizer.ggml.scores", scores},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.bos_token_id", u(tokBOS)},
		{"tokenizer.ggml.eos_token_id", u(tokEOS)},
		{"tokenizer.ggml.unknown_token_id", u(tokUNK)},
		{"tokenizer.ggml.padding_token_id", u(tokPAD)},
		{"tokenizer.ggml.add_bos_token", true},
		{"tokenizer.ggml.add_eos_token", false},
		{"tokenizer.ggml.add_space_prefix", false},
	}
	if m.chat != "" {
		kvs = append(kvs, ggufKV{"tokenizer.chat_template", JinjaChatTemplate(m.chat)})
	}
	return kvs, nil
}

// WriteGGUF writes the model as a GGUF v3 file for llama.cpp and Ollama:
// architecture "llama", float32 tensors under llama.cpp's names, and the
// character vocabulary as a SentencePiece vocabulary (PAD, BOS, EOS, UNK as
// <pad>, <s>, </s>, <unk>, then one piece per character, a space as U+2581,
// then 256 byte-fallback pieces that act as UNK; BOS added, no EOS, no
// space prefix). A NoPE model is an error wrapping
// ErrNotExportable. The bytes depend only on the model.
func (m *Model) WriteGGUF(w io.Writer) error {
	if err := m.exportable("gguf"); err != nil {
		return err
	}
	kvs, err := m.ggufMetadata()
	if err != nil {
		return err
	}
	ts := m.ggufTensors()
	bw := bufio.NewWriterSize(w, 1<<16)
	e := &ggufEncoder{w: bw}
	e.raw([]byte("GGUF"))
	e.u32(ggufVersion)
	e.u64(uint64(len(ts)))
	e.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.key)
		e.value(kv.val)
	}
	var off uint64
	for _, t := range ts {
		e.str(t.name)
		e.u32(uint32(len(t.shape)))
		for i := len(t.shape) - 1; i >= 0; i-- { // GGUF lists the innermost dimension first
			e.u64(uint64(t.shape[i]))
		}
		e.u32(ggmlTypeF32)
		e.u64(off)
		off = alignUp(off+uint64(4*len(t.data)), ggufAlignment)
	}
	e.pad()
	for _, t := range ts {
		for _, f := range t.data {
			e.u32(math.Float32bits(f))
		}
		e.pad()
	}
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// ggufEncoder writes little-endian GGUF values, keeping the first error
// and the number of bytes written (for padding).
type ggufEncoder struct {
	w   io.Writer
	n   uint64
	err error
	buf [8]byte
}

func (e *ggufEncoder) raw(b []byte) {
	if e.err != nil {
		return
	}
	var n int
	n, e.err = e.w.Write(b)
	e.n += uint64(n)
}

func (e *ggufEncoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:4], v)
	e.raw(e.buf[:4])
}

func (e *ggufEncoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:8], v)
	e.raw(e.buf[:8])
}

func (e *ggufEncoder) str(s string) {
	e.u64(uint64(len(s)))
	e.raw([]byte(s))
}

func (e *ggufEncoder) pad() {
	if k := alignUp(e.n, ggufAlignment) - e.n; k > 0 {
		e.raw(make([]byte, k))
	}
}

func (e *ggufEncoder) value(v any) {
	switch v := v.(type) {
	case uint32:
		e.u32(ggufUint32)
		e.u32(v)
	case int32:
		e.u32(ggufInt32)
		e.u32(uint32(v))
	case float32:
		e.u32(ggufFloat32)
		e.u32(math.Float32bits(v))
	case bool:
		e.u32(ggufBool)
		b := byte(0)
		if v {
			b = 1
		}
		e.raw([]byte{b})
	case string:
		e.u32(ggufString)
		e.str(v)
	case []string:
		e.u32(ggufArray)
		e.u32(ggufString)
		e.u64(uint64(len(v)))
		for _, s := range v {
			e.str(s)
		}
	case []float32:
		e.u32(ggufArray)
		e.u32(ggufFloat32)
		e.u64(uint64(len(v)))
		for _, f := range v {
			e.u32(math.Float32bits(f))
		}
	case []int32:
		e.u32(ggufArray)
		e.u32(ggufInt32)
		e.u64(uint64(len(v)))
		for _, i := range v {
			e.u32(uint32(i))
		}
	default:
		panic(fmt.Sprintf("gpt: gguf value of type %T", v))
	}
}
