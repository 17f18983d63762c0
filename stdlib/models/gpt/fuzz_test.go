package gpt

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzLoad: a malformed checkpoint is an error, never a panic (nor a huge
// allocation: tensors are read only as the bytes arrive).
func FuzzLoad(f *testing.F) {
	m, err := New(Config{Layers: 1, Dim: 4, Heads: 2, Hidden: 4, MaxSeq: 4, Vocab: "ab"}, 1)
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		f.Fatal(err)
	}
	good := buf.Bytes()
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(good[:40])
	f.Add([]byte{})
	bad := append([]byte(nil), good...)
	bad[20] ^= 0xff
	f.Add(bad)
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], 1<<62)
	f.Add(append(hdr[:], good[8:]...))
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
		if _, _, err := m.LogProb("a", "b"); err != nil {
			t.Fatal(err)
		}
	})
}
