package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// Memo is the per-request memo: request key -> response, for operators that
// call models. Keys are hashed (SHA-256) before they are stored, so callers
// may pass the full canonical request.
//
// Put queues the write and returns; queued writes are visible to Get at once
// and become durable at the next flush (at least every 100 ms, when the queue
// grows large, on Flush and on Close). A kill -9 loses at most the entries
// queued since the last flush. Memo is safe for concurrent use.
type Memo struct {
	s        *Store
	interval time.Duration

	mu           sync.Mutex
	pending      map[[32]byte][]byte // queued, newest; encoded values
	pendingBytes int
	flushing     map[[32]byte][]byte // being written by the current flush
	closed       bool

	flushMu sync.Mutex // serialises flushes
	kick    chan struct{}
}

const (
	memoKickEntries = 4096     // wake the flusher early past this many queued entries
	memoMaxEntries  = 65536    // Put flushes synchronously past this many
	memoMaxBytes    = 32 << 20 // ... or this many queued bytes
)

// ErrClosed is returned when the store has been closed.
var ErrClosed = errors.New("store: closed")

func newMemo(s *Store, interval time.Duration) *Memo {
	return &Memo{
		s:        s,
		interval: interval,
		pending:  make(map[[32]byte][]byte),
		kick:     make(chan struct{}, 1),
	}
}

// Memo returns the store's per-request memo.
func (s *Store) Memo() *Memo { return s.memo }

func (m *Memo) loop(ctx context.Context) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			m.mu.Lock()
			m.closed = true
			m.mu.Unlock()
			return
		case <-t.C:
		case <-m.kick:
		}
		if err := m.Flush(); err != nil {
			m.s.log.Error("store: memo flush", "err", err)
		}
	}
}

func memoKey(h [32]byte) []byte {
	k := make([]byte, 1+len(h))
	k[0] = prefixMemo
	copy(k[1:], h[:])
	return k
}

// encodeMemo: version byte, uvarint unix seconds of the write, the value.
func encodeMemo(value []byte, now time.Time) []byte {
	out := make([]byte, 0, 1+binary.MaxVarintLen64+len(value))
	out = append(out, valueV1)
	out = binary.AppendUvarint(out, uint64(now.Unix()))
	return append(out, value...)
}

func decodeMemo(b []byte) (value []byte, written time.Time, err error) {
	if len(b) == 0 || b[0] != valueV1 {
		return nil, time.Time{}, errors.New("store: memo value has an unknown encoding")
	}
	ts, n := binary.Uvarint(b[1:])
	if n <= 0 {
		return nil, time.Time{}, errors.New("store: memo value is damaged")
	}
	return b[1+n:], time.Unix(int64(ts), 0), nil
}

// Get returns the value stored for key. The returned slice is the caller's.
func (m *Memo) Get(key []byte) ([]byte, bool, error) {
	h := sha256.Sum256(key)
	m.mu.Lock()
	v, ok := m.pending[h]
	if !ok && m.flushing != nil {
		v, ok = m.flushing[h]
	}
	m.mu.Unlock()
	if ok {
		val, _, err := decodeMemo(v)
		if err != nil {
			return nil, false, err
		}
		return append([]byte(nil), val...), true, nil
	}
	var out []byte
	err := m.s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(memoKey(h))
		if err != nil {
			return err
		}
		out, err = it.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: memo get: %w", err)
	}
	val, _, err := decodeMemo(out)
	if err != nil {
		return nil, false, err
	}
	return val, true, nil
}

// GetMany is Get for many keys, reading the ones not queued in one
// transaction. vals[i] and found[i] answer keys[i].
func (m *Memo) GetMany(keys [][]byte) (vals [][]byte, found []bool, err error) {
	vals = make([][]byte, len(keys))
	found = make([]bool, len(keys))
	hs := make([][32]byte, len(keys))
	var rest []int
	m.mu.Lock()
	for i, k := range keys {
		hs[i] = sha256.Sum256(k)
		v, ok := m.pending[hs[i]]
		if !ok && m.flushing != nil {
			v, ok = m.flushing[hs[i]]
		}
		if !ok {
			rest = append(rest, i)
			continue
		}
		vals[i], found[i] = v, true // decoded and copied below
	}
	m.mu.Unlock()
	for i := range keys {
		if !found[i] {
			continue
		}
		val, _, err := decodeMemo(vals[i])
		if err != nil {
			return nil, nil, err
		}
		vals[i] = append([]byte(nil), val...)
	}
	if len(rest) == 0 {
		return vals, found, nil
	}
	err = m.s.db.View(func(txn *badger.Txn) error {
		k := make([]byte, 1+32)
		k[0] = prefixMemo
		for _, i := range rest {
			copy(k[1:], hs[i][:])
			it, err := txn.Get(k)
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out, err := it.ValueCopy(nil)
			if err != nil {
				return err
			}
			val, _, err := decodeMemo(out)
			if err != nil {
				return err
			}
			vals[i], found[i] = val, true
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("store: memo get: %w", err)
	}
	return vals, found, nil
}

// PutMany is Put for many entries under one lock: keys[i] -> values[i].
func (m *Memo) PutMany(keys, values [][]byte) error {
	if len(keys) != len(values) {
		return errors.New("store: memo put: keys and values differ in number")
	}
	now := time.Now()
	hs := make([][32]byte, len(keys))
	vs := make([][]byte, len(keys))
	for i, k := range keys {
		hs[i] = sha256.Sum256(k)
		vs[i] = encodeMemo(values[i], now)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	for i, h := range hs {
		if old, ok := m.pending[h]; ok {
			m.pendingBytes -= len(old)
		}
		m.pending[h] = vs[i]
		m.pendingBytes += len(vs[i])
	}
	n, size := len(m.pending), m.pendingBytes
	m.mu.Unlock()
	return m.afterPut(n, size)
}

// Put queues key -> value. It returns once the write is queued; see Memo.
func (m *Memo) Put(key, value []byte) error {
	h := sha256.Sum256(key)
	v := encodeMemo(value, time.Now())
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	if old, ok := m.pending[h]; ok {
		m.pendingBytes -= len(old)
	}
	m.pending[h] = v
	m.pendingBytes += len(v)
	n, size := len(m.pending), m.pendingBytes
	m.mu.Unlock()
	return m.afterPut(n, size)
}

// afterPut flushes or wakes the flusher once n entries of size bytes are
// queued.
func (m *Memo) afterPut(n, size int) error {
	switch {
	case n >= memoMaxEntries || size >= memoMaxBytes:
		return m.Flush() // back-pressure: do not queue without bound
	case n >= memoKickEntries:
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// Flush makes every Put that returned before the call durable.
func (m *Memo) Flush() error {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	m.mu.Lock()
	if len(m.pending) == 0 {
		m.mu.Unlock()
		return nil
	}
	batch := m.pending
	m.flushing = batch
	m.pending = make(map[[32]byte][]byte, len(batch))
	m.pendingBytes = 0
	m.mu.Unlock()

	err := m.write(batch)

	m.mu.Lock()
	if err != nil {
		// Put the batch back (without overwriting newer writes) to retry later.
		for h, v := range batch {
			if _, ok := m.pending[h]; !ok {
				m.pending[h] = v
				m.pendingBytes += len(v)
			}
		}
	}
	m.flushing = nil
	m.mu.Unlock()
	if err != nil {
		return fmt.Errorf("store: memo flush: %w", err)
	}
	return nil
}

func (m *Memo) write(batch map[[32]byte][]byte) error {
	if err := m.s.blobs.SyncBlobs(); err != nil {
		return err
	}
	wb := m.s.db.NewWriteBatch()
	defer wb.Cancel()
	for h, v := range batch {
		if err := wb.Set(memoKey(h), v); err != nil {
			return err
		}
	}
	// The store is opened with synchronous writes: when Flush returns the
	// batch is in the fsynced write-ahead log.
	return wb.Flush()
}

// Len returns the number of queued (not yet durable) entries.
func (m *Memo) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.pending) + len(m.flushing)
}

// DropBefore deletes memo entries written before t (for an age-based
// cleanup such as `ouro cache gc --memo-older-than`). GC never does this on
// its own. It returns the number of entries deleted.
func (m *Memo) DropBefore(t time.Time) (int, error) {
	if err := m.Flush(); err != nil {
		return 0, err
	}
	var drop [][]byte
	err := m.s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{prefixMemo}
		iter := txn.NewIterator(opts)
		defer iter.Close()
		for iter.Rewind(); iter.Valid(); iter.Next() {
			item := iter.Item()
			var written time.Time
			if err := item.Value(func(v []byte) error {
				_, w, err := decodeMemo(v)
				written = w
				return err
			}); err != nil {
				return err
			}
			if written.Before(t) {
				drop = append(drop, item.KeyCopy(nil))
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(drop), m.s.deleteKeys(drop)
}
