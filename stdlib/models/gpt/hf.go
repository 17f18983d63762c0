package gpt

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
)

// Hugging Face export: a folder transformers' LlamaForCausalLM and
// PreTrainedTokenizerFast load (docs/builtin-model.md#export).
//
// Hugging Face's LLaMA applies RoPE in the "rotate half" layout (a head's
// first half of dimensions pairs with its second half), while ouro rotates
// adjacent pairs. transformers' convert_llama_weights_to_hf.py turns Meta's
// adjacent-pairs checkpoints into its layout by permuting the rows of wq
// and wk within each head; ouro's weights are in Meta's layout, so the
// export applies the same permutation (hfPermute) and the model computes
// the same function.

// HFFiles are the files WriteHF writes, sorted.
var HFFiles = []string{"config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"}

// hfPermute returns the rows of a [heads·hd, cols] matrix in Hugging Face's
// rotate-half order: HF row h·hd + t·hd/2 + p is ouro row h·hd + 2p + t
// (transformers' permute: view(heads, hd/2, 2, cols).transpose(1, 2)).
func hfPermute(w []float32, heads, hd, cols int) []float32 {
	out := make([]float32, len(w))
	half := hd / 2
	for h := 0; h < heads; h++ {
		for p := 0; p < half; p++ {
			for t := 0; t < 2; t++ {
				src := (h*hd + 2*p + t) * cols
				dst := (h*hd + t*half + p) * cols
				copy(out[dst:dst+cols], w[src:src+cols])
			}
		}
	}
	return out
}

// hfTensors lists the tensors under transformers' LLaMA names.
func (m *Model) hfTensors() []ggufTensor {
	var out []ggufTensor
	add := func(hname, oname string, permute bool) {
		data := m.tensor(oname)
		if permute {
			data = hfPermute(data, m.cfg.Heads, m.lo.HD, m.cfg.Dim)
		}
		out = append(out, ggufTensor{name: hname, shape: m.shape(oname), data: data})
	}
	add("model.embed_tokens.weight", "tok_embeddings.weight", false)
	for l := 0; l < m.cfg.Layers; l++ {
		h, o := fmt.Sprintf("model.layers.%d.", l), fmt.Sprintf("layers.%d.", l)
		add(h+"input_layernorm.weight", o+"attention_norm.weight", false)
		add(h+"self_attn.q_proj.weight", o+"attention.wq.weight", true)
		add(h+"self_attn.k_proj.weight", o+"attention.wk.weight", true)
		add(h+"self_attn.v_proj.weight", o+"attention.wv.weight", false)
		add(h+"self_attn.o_proj.weight", o+"attention.wo.weight", false)
		add(h+"post_attention_layernorm.weight", o+"ffn_norm.weight", false)
		add(h+"mlp.gate_proj.weight", o+"feed_forward.w1.weight", false)
		add(h+"mlp.down_proj.weight", o+"feed_forward.w2.weight", false)
		add(h+"mlp.up_proj.weight", o+"feed_forward.w3.weight", false)
	}
	add("model.norm.weight", "norm.weight", false)
	add("lm_head.weight", "output.weight", false)
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// writeSafetensors writes tensors (in the given order) as one safetensors
// file with the given metadata.
func writeSafetensors(w io.Writer, meta map[string]string, ts []ggufTensor) error {
	hdr := map[string]any{"__metadata__": meta}
	var off int64
	for _, t := range ts {
		n := int64(4 * len(t.data))
		hdr[t.name] = stEntry{DType: "F32", Shape: t.shape, DataOffsets: [2]int64{off, off + n}}
		off += n
	}
	hj, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(len(hj)))
	bw.Write(b[:])
	bw.Write(hj)
	for _, t := range ts {
		for _, f := range t.data {
			binary.LittleEndian.PutUint32(b[:4], math.Float32bits(f))
			bw.Write(b[:4])
		}
	}
	return bw.Flush()
}

// hfVocab is the tokenizer's vocabulary: piece → id, the specials first.
func (m *Model) hfVocab() map[string]int {
	v := map[string]int{}
	for i, s := range specialPieces {
		v[s] = i
	}
	for i, r := range m.tok.runes {
		v[string(r)] = i + numSpecial
	}
	return v
}

// hfTokenizerJSON is tokenizer.json in the format of Hugging Face's
// tokenizers: a BPE model without merges and without pre-tokenizer or
// normalizer splits text into characters and looks each up, an unknown one
// becoming <unk> (not fused), which is ouro's tokenizer; the post-processor
// adds <s>; the Fuse decoder joins pieces without spaces.
func (m *Model) hfTokenizerJSON() map[string]any {
	var added []map[string]any
	for i, s := range specialPieces {
		added = append(added, map[string]any{"id": i, "content": s, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true})
	}
	bos := map[string]any{"SpecialToken": map[string]any{"id": specialPieces[tokBOS], "type_id": 0}}
	seq := func(id string, typ int) map[string]any {
		return map[string]any{"Sequence": map[string]any{"id": id, "type_id": typ}}
	}
	return map[string]any{
		"version":       "1.0",
		"truncation":    nil,
		"padding":       nil,
		"added_tokens":  added,
		"normalizer":    nil,
		"pre_tokenizer": nil,
		"post_processor": map[string]any{
			"type":   "TemplateProcessing",
			"single": []any{bos, seq("A", 0)},
			"pair":   []any{bos, seq("A", 0), seq("B", 1)},
			"special_tokens": map[string]any{
				specialPieces[tokBOS]: map[string]any{"id": specialPieces[tokBOS], "ids": []int{tokBOS}, "tokens": []string{specialPieces[tokBOS]}},
			},
		},
		"decoder": map[string]any{"type": "Fuse"},
		"model": map[string]any{
			"type":                      "BPE",
			"dropout":                   nil,
			"unk_token":                 specialPieces[tokUNK],
			"continuing_subword_prefix": nil,
			"end_of_word_suffix":        nil,
			"fuse_unk":                  false,
			"byte_fallback":             false,
			"ignore_merges":             false,
			"vocab":                     m.hfVocab(),
			"merges":                    []string{},
		},
	}
}

func (m *Model) hfConfigJSON() map[string]any {
	c := m.cfg
	return map[string]any{
		"architectures":           []string{"LlamaForCausalLM"},
		"model_type":              "llama",
		"vocab_size":              m.lo.V,
		"hidden_size":             c.Dim,
		"intermediate_size":       c.Hidden,
		"num_hidden_layers":       c.Layers,
		"num_attention_heads":     c.Heads,
		"num_key_value_heads":     c.Heads,
		"head_dim":                m.lo.HD,
		"hidden_act":              "silu",
		"max_position_embeddings": c.MaxSeq,
		"rms_norm_eps":            normEps,
		"rope_theta":              ropeBase,
		"rope_scaling":            nil,
		"attention_bias":          false,
		"attention_dropout":       0.0,
		"mlp_bias":                false,
		"pretraining_tp":          1,
		"initializer_range":       0.02,
		"tie_word_embeddings":     false,
		"torch_dtype":             "float32",
		"use_cache":               true,
		"bos_token_id":            tokBOS,
		"eos_token_id":            tokEOS,
		"pad_token_id":            tokPAD,
		"ouro_digest":             m.Digest(),
	}
}

// WriteHF writes the model as a Hugging Face folder into dir, which must
// exist: model.safetensors (transformers' LLaMA names, float32, q_proj and
// k_proj rows permuted to the rotate-half layout), config.json for
// LlamaForCausalLM, generation_config.json, and the tokenizer
// (tokenizer.json, tokenizer_config.json, special_tokens_map.json). A NoPE
// model is an error wrapping ErrNotExportable. The bytes depend only on the
// model.
func (m *Model) WriteHF(dir string) error {
	if err := m.exportable("hf"); err != nil {
		return err
	}
	sp := func(id int) string { return specialPieces[id] }
	decoder := map[string]any{}
	for i, s := range specialPieces {
		decoder[fmt.Sprint(i)] = map[string]any{"content": s, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
	}
	files := map[string]any{
		"config.json":            m.hfConfigJSON(),
		"generation_config.json": map[string]any{"bos_token_id": tokBOS, "eos_token_id": tokEOS, "pad_token_id": tokPAD},
		"special_tokens_map.json": map[string]any{
			"bos_token": sp(tokBOS), "eos_token": sp(tokEOS), "unk_token": sp(tokUNK), "pad_token": sp(tokPAD),
		},
		"tokenizer.json": m.hfTokenizerJSON(),
		"tokenizer_config.json": map[string]any{
			"tokenizer_class":              "PreTrainedTokenizerFast",
			"bos_token":                    sp(tokBOS),
			"eos_token":                    sp(tokEOS),
			"unk_token":                    sp(tokUNK),
			"pad_token":                    sp(tokPAD),
			"add_bos_token":                true,
			"add_eos_token":                false,
			"clean_up_tokenization_spaces": false,
			"model_max_length":             m.cfg.MaxSeq,
			"added_tokens_decoder":         decoder,
		},
	}
	if m.chat != "" {
		files["tokenizer_config.json"].(map[string]any)["chat_template"] = JinjaChatTemplate(m.chat)
	}
	for name, v := range files {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		if err := writeFileSync(filepath.Join(dir, name), func(w io.Writer) error {
			_, err := w.Write(append(b, '\n'))
			return err
		}); err != nil {
			return err
		}
	}
	return writeFileSync(filepath.Join(dir, "model.safetensors"), func(w io.Writer) error {
		return writeSafetensors(w, map[string]string{"format": "pt"}, m.hfTensors())
	})
}

// writeFileSync creates path, fills it with write and syncs it.
func writeFileSync(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
