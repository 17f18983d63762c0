package scaleout

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/store"
)

// chunkMagic opens every memo chunk blob.
const chunkMagic = "ouro-memo-chunk/1\n"

// chunkMemo is a worker's per-request memo: entries in memory, read first
// from the chunks of earlier attempts, and written to the blob store in
// chunks (flush) so they outlive the worker.
type chunkMemo struct {
	blobs store.BlobStore

	mu      sync.Mutex
	entries map[string][]byte
	pending [][2][]byte
	chunks  []string
}

var _ runtime.Memo = (*chunkMemo)(nil)

func newChunkMemo(blobs store.BlobStore) *chunkMemo {
	return &chunkMemo{blobs: blobs, entries: map[string][]byte{}}
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
	k, v := append([]byte(nil), key...), append([]byte(nil), value...)
	if _, ok := m.entries[string(k)]; ok {
		return nil
	}
	m.entries[string(k)] = v
	m.pending = append(m.pending, [2][]byte{k, v})
	return nil
}

// load reads earlier chunks (a retried attempt's first step).
func (m *chunkMemo) load(chunks []string) error {
	for _, c := range chunks {
		err := readChunk(m.blobs, store.Digest(c), func(k, v []byte) error {
			m.mu.Lock()
			m.entries[string(k)] = v
			m.mu.Unlock()
			return nil
		})
		if err != nil {
			return err
		}
		m.mu.Lock()
		m.chunks = append(m.chunks, c)
		m.mu.Unlock()
	}
	return nil
}

// flush writes the entries added since the last flush as one chunk and
// returns every chunk so far.
func (m *chunkMemo) flush() ([]string, error) {
	m.mu.Lock()
	pending := m.pending
	m.pending = nil
	m.mu.Unlock()
	if len(pending) > 0 {
		var buf bytes.Buffer
		buf.WriteString(chunkMagic)
		for _, kv := range pending {
			buf.Write(binary.AppendUvarint(nil, uint64(len(kv[0]))))
			buf.Write(kv[0])
			buf.Write(binary.AppendUvarint(nil, uint64(len(kv[1]))))
			buf.Write(kv[1])
		}
		d, err := store.PutBytes(m.blobs, buf.Bytes())
		if err != nil {
			m.mu.Lock()
			m.pending = append(pending, m.pending...)
			m.mu.Unlock()
			return nil, err
		}
		m.mu.Lock()
		m.chunks = append(m.chunks, string(d))
		m.mu.Unlock()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.chunks...), nil
}

// readChunk calls fn for every entry of a memo chunk.
func readChunk(blobs store.BlobStore, d store.Digest, fn func(k, v []byte) error) error {
	rc, err := blobs.Open(d)
	if err != nil {
		return fmt.Errorf("memo chunk: %w", err)
	}
	defer rc.Close()
	r := bufio.NewReader(rc)
	magic := make([]byte, len(chunkMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != chunkMagic {
		return fmt.Errorf("memo chunk %s: not a memo chunk", d)
	}
	field := func() ([]byte, error) {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, err
		}
		if n > 1<<30 {
			return nil, fmt.Errorf("memo chunk %s: entry of %d bytes", d, n)
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
			return fmt.Errorf("memo chunk %s: %w", d, err)
		}
		v, err := field()
		if err != nil {
			return fmt.Errorf("memo chunk %s: truncated: %w", d, err)
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
