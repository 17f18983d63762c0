package gpt

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
)

// Model is a trained or freshly initialised network plus its tokenizer.
// A Model is immutable once built: Generate and LogProb may be called
// concurrently; training returns a new Model.
type Model struct {
	cfg  Config
	lo   *layout
	tok  *tokenizer
	w    []float32
	net  *net[float32]
	chat string // ChatTemplate; saved with the weights when set
	f16  bool   // WithFloat16Attention; never saved
	once sync.Once
	dig  string
}

// New builds a model with weights drawn deterministically from seed.
// Matrices and embeddings ~ N(0, 0.02²); the output projections of each
// block (wo, w2) are further scaled by 1/sqrt(2·Layers); norm gains are 1.
func New(cfg Config, seed uint64) (*Model, error) {
	cfg, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	lo := newLayout(cfg)
	lo.initRope()
	w := make([]float32, lo.size)
	r := newRNG(seed)
	for _, t := range lo.tensors {
		dst := w[t.off : t.off+t.size]
		if len(t.shape) == 1 {
			for i := range dst {
				dst[i] = 1
			}
			continue
		}
		std := 0.02
		if bytes.HasSuffix([]byte(t.name), []byte("wo.weight")) || bytes.HasSuffix([]byte(t.name), []byte("w2.weight")) {
			std /= math.Sqrt(2 * float64(cfg.Layers))
		}
		for i := range dst {
			dst[i] = float32(r.normal() * std)
		}
	}
	return newModel(cfg, lo, w), nil
}

func newModel(cfg Config, lo *layout, w []float32) *Model {
	return &Model{cfg: cfg, lo: lo, tok: newTokenizer(cfg.Vocab), w: w, net: newNet(lo, w)}
}

// clone returns a model with a copy of the weights and the same chat
// template, so a model trained from a base keeps the base's prompt form.
func (m *Model) clone() *Model {
	c := newModel(m.cfg, m.lo, append([]float32(nil), m.w...))
	c.chat = m.chat
	return c
}

// ChatTemplate is the prompt form the model was trained with, for servers
// that turn chat messages into a prompt: the text with {user} (and
// optionally {system}) standing for the message contents, as in
// "Q: {user}\nA:". "" when none was recorded.
func (m *Model) ChatTemplate() string { return m.chat }

// WithChatTemplate returns the model with its chat template set to t (""
// removes it); the weights are shared. The template is saved with the
// checkpoint, so it is part of the model's digest. It must hold {user}.
func (m *Model) WithChatTemplate(t string) (*Model, error) {
	if err := CheckChatTemplate(t); err != nil {
		return nil, err
	}
	c := newModel(m.cfg, m.lo, m.w)
	c.chat = t
	return c, nil
}

// CheckChatTemplate reports whether t can be a chat template: "" or a text
// holding {user} once and {system} at most once, with no control characters
// but newlines and tabs.
func CheckChatTemplate(t string) error {
	if t == "" {
		return nil
	}
	switch u, s := strings.Count(t, "{user}"), strings.Count(t, "{system}"); {
	case u == 0:
		return fmt.Errorf("chat template %q has no {user}", t)
	case u > 1 || s > 1:
		return fmt.Errorf("chat template %q holds {user} or {system} more than once", t)
	}
	for _, r := range t {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			// Jinja engines disagree on other control characters (Python's
			// turns "\r\n" into "\n"), so an exported template could not
			// render the same everywhere.
			return fmt.Errorf("chat template %q holds the control character %U; only newlines and tabs may appear", t, r)
		}
	}
	return nil
}

// RenderChat renders a chat template for one user message and an optional
// system message: {user} and {system} replaced in one pass, so a message
// that contains "{system}" stays as written.
func RenderChat(t, user, system string) string {
	return strings.NewReplacer("{user}", user, "{system}", system).Replace(t)
}

// Config returns the model's configuration, defaults filled in.
func (m *Model) Config() Config { return m.cfg }

// NumParams is the number of trainable parameters.
func (m *Model) NumParams() int { return len(m.w) }

// VocabSize is the number of token ids (specials included).
func (m *Model) VocabSize() int { return m.lo.V }

// Digest is "sha256:<hex>" of the bytes Save writes: the model's identity.
func (m *Model) Digest() string {
	m.once.Do(func() {
		h := sha256.New()
		if err := m.Save(h); err != nil {
			panic(err) // writing to a hash cannot fail
		}
		m.dig = "sha256:" + hex.EncodeToString(h.Sum(nil))
	})
	return m.dig
}

const formatName = "ouro-gpt"
const formatVersion = "1"

type stEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// Save writes the model as one safetensors file: an 8-byte little-endian
// header length, a JSON header (tensors by sorted name; __metadata__ holds
// format, version, config and vocab as strings, and chat_template when set), padded with spaces to a
// multiple of 8, then the tensors as raw little-endian float32 in the same
// sorted order. The bytes depend only on the config and the weights.
func (m *Model) Save(w io.Writer) error {
	cfgJSON, err := json.Marshal(m.cfg)
	if err != nil {
		return err
	}
	meta := map[string]string{
		"format":  formatName,
		"version": formatVersion,
		"config":  string(cfgJSON),
		"vocab":   m.cfg.Vocab,
	}
	if m.chat != "" {
		// Only when set: checkpoints without a template keep their bytes.
		meta["chat_template"] = m.chat
	}
	hdr := map[string]any{"__metadata__": meta}
	var off int64
	for _, t := range m.lo.tensors {
		hdr[t.name] = stEntry{DType: "F32", Shape: t.shape, DataOffsets: [2]int64{off, off + int64(4*t.size)}}
		off += int64(4 * t.size)
	}
	hj, err := json.Marshal(hdr) // map keys are sorted
	if err != nil {
		return err
	}
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hj)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hj); err != nil {
		return err
	}
	buf := make([]byte, min(1<<16, 4*len(m.w)))
	for i := 0; i < len(m.w); {
		n := 0
		for ; n+4 <= len(buf) && i < len(m.w); i++ {
			binary.LittleEndian.PutUint32(buf[n:], math.Float32bits(m.w[i]))
			n += 4
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
	}
	return nil
}

// Load reads a checkpoint written by Save. It validates everything (format,
// config, every tensor's name, dtype, shape and offsets, the total size) and
// returns an error, never panics, on malformed input.
func Load(r io.Reader) (*Model, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, fmt.Errorf("gpt: reading checkpoint header length: %w", err)
	}
	hl := binary.LittleEndian.Uint64(lenBuf[:])
	if hl == 0 || hl > 1<<24 {
		return nil, fmt.Errorf("gpt: checkpoint header length %d out of range", hl)
	}
	hj, err := readFull(r, int(hl))
	if err != nil {
		return nil, fmt.Errorf("gpt: reading checkpoint header: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hj, &raw); err != nil {
		return nil, fmt.Errorf("gpt: checkpoint header: %w", err)
	}
	var meta map[string]string
	if err := json.Unmarshal(raw["__metadata__"], &meta); err != nil || meta == nil {
		return nil, errors.New("gpt: checkpoint has no valid __metadata__")
	}
	if meta["format"] != formatName {
		return nil, fmt.Errorf("gpt: checkpoint format %q, want %q", meta["format"], formatName)
	}
	if meta["version"] != formatVersion {
		return nil, fmt.Errorf("gpt: checkpoint version %q not supported", meta["version"])
	}
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader([]byte(meta["config"])))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("gpt: checkpoint config: %w", err)
	}
	if cfg.Vocab != meta["vocab"] {
		return nil, errors.New("gpt: checkpoint vocab and config disagree")
	}
	norm, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	if norm != cfg {
		return nil, errors.New("gpt: checkpoint config is not normalized")
	}
	lo := newLayout(cfg)
	if len(raw) != len(lo.tensors)+1 {
		return nil, fmt.Errorf("gpt: checkpoint has %d tensors, want %d", len(raw)-1, len(lo.tensors))
	}
	var off int64
	for _, t := range lo.tensors {
		msg, ok := raw[t.name]
		if !ok {
			return nil, fmt.Errorf("gpt: checkpoint lacks tensor %s", t.name)
		}
		var e stEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("gpt: tensor %s: %w", t.name, err)
		}
		if e.DType != "F32" || !equalInts(e.Shape, t.shape) || e.DataOffsets != [2]int64{off, off + int64(4*t.size)} {
			return nil, fmt.Errorf("gpt: tensor %s: want F32 %v at %d, got %s %v at %v", t.name, t.shape, off, e.DType, e.Shape, e.DataOffsets)
		}
		off += int64(4 * t.size)
	}
	// The weights (and the read buffer) grow only as data arrives: a header
	// that claims a large model costs nothing until its tensors are there.
	w := make([]float32, 0, min(lo.size, 1<<10))
	buf := make([]byte, min(1<<12, 4*lo.size))
	for len(w) < lo.size {
		n := min(len(buf), 4*(lo.size-len(w)))
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			return nil, fmt.Errorf("gpt: reading tensors: %w", err)
		}
		if len(w)+n/4 > cap(w) {
			w = slices.Grow(w, min(lo.size, max(2*cap(w), len(w)+n/4))-len(w))
		}
		for i := 0; i < n; i += 4 {
			w = append(w, math.Float32frombits(binary.LittleEndian.Uint32(buf[i:])))
		}
		if len(buf) < 1<<16 && 4*len(w) >= 2*len(buf) {
			buf = make([]byte, 2*len(buf))
		}
	}
	var one [1]byte
	if n, _ := io.ReadFull(r, one[:]); n != 0 {
		return nil, errors.New("gpt: trailing bytes after tensors")
	}
	lo.initRope()
	m := newModel(cfg, lo, w)
	if t, ok := meta["chat_template"]; ok {
		if t == "" || CheckChatTemplate(t) != nil {
			return nil, fmt.Errorf("gpt: checkpoint chat_template %q: want a text holding {user} once", t)
		}
		m.chat = t
	}
	return m, nil
}

// readFull reads exactly n bytes. Its buffer grows as the bytes arrive, so a
// length field in a short or hostile file makes it allocate at most about
// twice what is there, not n.
func readFull(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, 0, min(n, 1<<12))
	for len(b) < n {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(n, 2*cap(b))-len(b))
		}
		k, err := io.ReadFull(r, b[len(b):min(n, cap(b))])
		b = b[:len(b)+k]
		if err == io.EOF && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// JinjaChatTemplate is chat template t as a Jinja chat template, the form
// Hugging Face tokenizers (tokenizer_config.json) and GGUF files
// (tokenizer.chat_template) carry: it takes the last user message and the
// last system (or developer) message and renders t with them, after
// bos_token, since transformers tokenizes a rendered chat without adding
// special tokens. "" for "".
func JinjaChatTemplate(t string) string {
	if t == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString("{%- set ns = namespace(user='', system='') -%}\n")
	b.WriteString("{%- for message in messages -%}\n")
	b.WriteString("{%- if message['role'] == 'user' -%}{%- set ns.user = message['content'] -%}\n")
	b.WriteString("{%- elif message['role'] == 'system' or message['role'] == 'developer' -%}{%- set ns.system = message['content'] -%}\n")
	b.WriteString("{%- endif -%}\n")
	b.WriteString("{%- endfor -%}\n")
	b.WriteString("{{- bos_token")
	for rest := t; rest != ""; {
		i := strings.IndexByte(rest, '{')
		lit := rest
		if i >= 0 {
			lit = rest[:i]
		}
		if i >= 0 {
			switch {
			case strings.HasPrefix(rest[i:], "{user}"):
				b.WriteString(jinjaString(lit) + " + ns.user")
				rest = rest[i+len("{user}"):]
				continue
			case strings.HasPrefix(rest[i:], "{system}"):
				b.WriteString(jinjaString(lit) + " + ns.system")
				rest = rest[i+len("{system}"):]
				continue
			}
			lit = rest[:i+1]
			rest = rest[i+1:]
		} else {
			rest = ""
		}
		b.WriteString(jinjaString(lit))
	}
	b.WriteString(" -}}")
	return b.String()
}

// jinjaString is " + 's'" with s as a single-quoted Jinja string literal,
// or "" for "".
func jinjaString(s string) string {
	if s == "" {
		return ""
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\t", `\t`)
	return " + '" + r.Replace(s) + "'"
}
