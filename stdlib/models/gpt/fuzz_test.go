package gpt

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/ouroloop/ouro/lang/fuzztest"
)

// fuzzConfigs are the real checkpoints FuzzLoad starts from: small (so that
// mutations stay cheap) but different in every way the loader checks —
// layer count, heads, an explicit and a default hidden width, rope and
// none, one-byte and multi-byte vocabularies.
var fuzzConfigs = []Config{
	{Layers: 1, Dim: 4, Heads: 2, Hidden: 4, MaxSeq: 4, Vocab: "ab"},
	{Layers: 2, Dim: 2, Heads: 1, Hidden: 2, MaxSeq: 3, Positions: "none", Vocab: "é✓"},
	{Layers: 1, Dim: 2, Heads: 1, Hidden: 1, MaxSeq: 2, Vocab: "a"},
	{Layers: 1, Dim: 8, Heads: 4, MaxSeq: 6, Vocab: "ab\n"},
}

// FuzzLoad: a malformed checkpoint is an error, never a panic (nor a huge
// allocation: TestLoadAllocatesAsBytesArrive); whatever loads saves, reloads
// to the same digest and scores text.
func FuzzLoad(f *testing.F) {
	// An input derived from these 1.2–5 kB checkpoints rarely survives
	// losing bytes (its header length and tensor sizes fix its length), so
	// one minimization was up to 10⁶ runs and 40 s: the stall of issue 15
	// item 8. In 30 s from these seeds (docs/fuzzing.md): 219 new inputs
	// without minimization, 108 with 500 runs each, 22 with 1 s each.
	fuzztest.NoMinimize(f)

	for i, cfg := range fuzzConfigs {
		m, err := New(cfg, uint64(i+1))
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		if err := m.Save(&buf); err != nil {
			f.Fatal(err)
		}
		good := buf.Bytes()
		f.Add(good)
		// Truncations at every boundary Load reads across: the header length,
		// the header, each tensor, the last float.
		hl := int(binary.LittleEndian.Uint64(good))
		cuts := []int{4, 8, 8 + hl/2, 8 + hl - 1, 8 + hl, len(good) - 4, len(good) - 1}
		if i == 0 {
			for _, t := range m.lo.tensors {
				cuts = append(cuts, 8+hl+4*t.off+2)
			}
		}
		for _, n := range cuts {
			f.Add(good[:n])
		}
		f.Add(append(append([]byte(nil), good...), 0))
	}
	// One checkpoint, altered in ways that each reach a different check.
	m, err := New(fuzzConfigs[0], 1)
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		f.Fatal(err)
	}
	good := buf.Bytes()
	f.Add([]byte{})
	bad := append([]byte(nil), good...)
	bad[20] ^= 0xff
	f.Add(bad)
	for _, hl := range []uint64{0, 1 << 62, 1 << 24, binary.LittleEndian.Uint64(good) + 8} {
		var hdr [8]byte
		binary.LittleEndian.PutUint64(hdr[:], hl)
		f.Add(append(hdr[:], good[8:]...))
	}
	for _, r := range [][2]string{
		{`"format":"ouro-gpt"`, `"format":"ouro-gpx"`},
		{`"version":"1"`, `"version":"2"`},
		{`\"layers\":1`, `\"layers\":2`},
		{`\"positions\":\"rope\"`, `\"positions\":\"\"`},
		{`\"max_seq\":4`, `\"max_seq\":8192`},
		{`"vocab":"ab"`, `"vocab":"ba"`},
		{`"dtype":"F32"`, `"dtype":"F16"`},
		{`"data_offsets":[0,`, `"data_offsets":[4,`},
		{`"shape":[4]`, `"shape":[2,2]`},
	} {
		f.Add(editHeader(f, good, r[0], r[1]))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Load(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever loads must save, reload to the same identity, and work.
		var out bytes.Buffer
		if err := m.Save(&out); err != nil {
			t.Fatal(err)
		}
		m2, err := Load(&out)
		if err != nil || m2.Digest() != m.Digest() {
			t.Fatalf("re-saved checkpoint does not reload identically: %v", err)
		}
		prompt := "a" // BOS, a, b: three tokens, if max_seq allows
		if m.Config().MaxSeq < 3 {
			prompt = ""
		}
		if _, _, err := m.LogProb(prompt, "b"); err != nil {
			t.Fatal(err)
		}
	})
}

// editHeader replaces old by new in a checkpoint's JSON header and writes the
// header length (and padding) to match, so that the edit reaches the check
// it is meant for.
func editHeader(f *testing.F, ckpt []byte, old, new string) []byte {
	hl := binary.LittleEndian.Uint64(ckpt)
	hj := bytes.TrimRight(ckpt[8:8+hl], " ")
	alt := bytes.Replace(hj, []byte(old), []byte(new), 1)
	if bytes.Equal(alt, hj) {
		f.Fatalf("seed: %s not in the checkpoint header", old)
	}
	for len(alt)%8 != 0 {
		alt = append(alt, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(alt)))
	out = append(out, alt...)
	return append(out, ckpt[8+hl:]...)
}
