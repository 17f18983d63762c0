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

// clone returns a model with a copy of the weights.
func (m *Model) clone() *Model {
	return newModel(m.cfg, m.lo, append([]float32(nil), m.w...))
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
// format, version, config and vocab as strings), padded with spaces to a
// multiple of 8, then the tensors as raw little-endian float32 in the same
// sorted order. The bytes depend only on the config and the weights.
func (m *Model) Save(w io.Writer) error {
	cfgJSON, err := json.Marshal(m.cfg)
	if err != nil {
		return err
	}
	hdr := map[string]any{
		"__metadata__": map[string]string{
			"format":  formatName,
			"version": formatVersion,
			"config":  string(cfgJSON),
			"vocab":   m.cfg.Vocab,
		},
	}
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
	return newModel(cfg, lo, w), nil
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
