package scaleout

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/bucket"
)

// chunkMagic opens every memo chunk blob.
const chunkMagic = "ouro-memo-chunk/1\n"

// chunkMemo is a worker's per-request memo for one stage: entries in
// memory, read first from the chunks earlier attempts left in the blob
// store, and written there in chunks (flush) while the stage runs, so
// they outlive the worker. Chunks are named objects under the stage key's
// prefix (memoPrefix), so whoever comes next — a retried attempt on
// another machine, the coordinator when the stage ends — finds them by
// listing, without depending on a heartbeat having reached Temporal.
type chunkMemo struct {
	blobs  *bucket.Blobs
	prefix string

	mu      sync.Mutex
	entries map[string][]byte
	pending [][2][]byte
	chunks  int
}

var _ runtime.Memo = (*chunkMemo)(nil)

// memoPrefix is where a stage's memo chunks live in the blob store.
func memoPrefix(key string) string {
	return "memo/" + strings.TrimPrefix(key, "sha256:") + "/"
}

func newChunkMemo(blobs *bucket.Blobs, key string) *chunkMemo {
	return &chunkMemo{blobs: blobs, prefix: memoPrefix(key), entries: map[string][]byte{}}
}

func (m *chunkMemo) Get(key []byte) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.entries[string(key)]
	return v, ok, nil
}

func (m *chunkMemo) Put(key, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[string(key)]; ok {
		return nil
	}
	k, v := append([]byte(nil), key...), append([]byte(nil), value...)
	m.entries[string(k)] = v
	m.pending = append(m.pending, [2][]byte{k, v})
	return nil
}

// load reads the chunks earlier attempts wrote (a retried attempt's first
// step) and returns how many entries they held.
func (m *chunkMemo) load(ctx context.Context) (int, error) {
	n := 0
	err := eachChunkEntry(ctx, m.blobs, m.prefix, func(k, v []byte) error {
		m.mu.Lock()
		if _, ok := m.entries[string(k)]; !ok {
			m.entries[string(k)] = v
			n++
		}
		m.mu.Unlock()
		return nil
	})
	return n, err
}

// flush writes the entries added since the last flush as one chunk.
func (m *chunkMemo) flush(ctx context.Context) error {
	m.mu.Lock()
	pending := m.pending
	m.pending = nil
	m.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	var buf bytes.Buffer
	buf.WriteString(chunkMagic)
	for _, kv := range pending {
		buf.Write(binary.AppendUvarint(nil, uint64(len(kv[0]))))
		buf.Write(kv[0])
		buf.Write(binary.AppendUvarint(nil, uint64(len(kv[1]))))
		buf.Write(kv[1])
	}
	sum := sha256.Sum256(buf.Bytes())
	if err := m.blobs.WriteObject(ctx, m.prefix+hex.EncodeToString(sum[:]), buf.Bytes()); err != nil {
		m.mu.Lock()
		m.pending = append(pending, m.pending...)
		m.mu.Unlock()
		return err
	}
	m.mu.Lock()
	m.chunks++
	m.mu.Unlock()
	return nil
}

// eachChunkEntry calls fn for every entry of every memo chunk under prefix.
func eachChunkEntry(ctx context.Context, blobs *bucket.Blobs, prefix string, fn func(k, v []byte) error) error {
	names, err := blobs.ListObjects(ctx, prefix)
	if err != nil {
		return err
	}
	for _, name := range names {
		data, err := blobs.ReadObject(ctx, name)
		if err != nil {
			return err
		}
		if err := readChunk(name, data, fn); err != nil {
			return err
		}
	}
	return nil
}

// readChunk calls fn for every entry of the memo chunk data (named name
// in messages).
func readChunk(name string, data []byte, fn func(k, v []byte) error) error {
	if !bytes.HasPrefix(data, []byte(chunkMagic)) {
		return fmt.Errorf("memo chunk %s: not a memo chunk", name)
	}
	r := bytes.NewReader(data[len(chunkMagic):])
	field := func() ([]byte, error) {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, err
		}
		if n > uint64(r.Len()) {
			return nil, fmt.Errorf("entry of %d bytes in %d left", n, r.Len())
		}
		b := make([]byte, n)
		_, err = io.ReadFull(r, b)
		return b, err
	}
	for {
		k, err := field()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("memo chunk %s: %w", name, err)
		}
		v, err := field()
		if err != nil {
			return fmt.Errorf("memo chunk %s: truncated: %w", name, err)
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
}

// jsonDiagnostic is an hcl.Diagnostic as it crosses the wire.
type jsonDiagnostic struct {
	Severity hcl.DiagnosticSeverity `json:"severity"`
	Summary  string                 `json:"summary"`
	Detail   string                 `json:"detail,omitempty"`
	Subject  *hcl.Range             `json:"subject,omitempty"`
	Context  *hcl.Range             `json:"context,omitempty"`
}

func encodeDiags(diags hcl.Diagnostics) []jsonDiagnostic {
	var out []jsonDiagnostic
	for _, d := range diags {
		out = append(out, jsonDiagnostic{Severity: d.Severity, Summary: d.Summary, Detail: d.Detail, Subject: d.Subject, Context: d.Context})
	}
	return out
}

func decodeDiags(in []jsonDiagnostic) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range in {
		out = append(out, &hcl.Diagnostic{Severity: d.Severity, Summary: d.Summary, Detail: d.Detail, Subject: d.Subject, Context: d.Context})
	}
	return out
}
