package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// StageEntry is one cached stage result, stored under its stage key.
type StageEntry struct {
	Key      string            `json:"key"`
	Address  string            `json:"address"`          // e.g. "loop.star[2].stage.tune"
	Operator string            `json:"operator"`         // operator name
	Version  int               `json:"version"`          // operator implementation version
	Params   map[string]string `json:"params,omitempty"` // param name -> canonical digest (for explain)
	Inputs   map[string]string `json:"inputs,omitempty"` // input name -> digest
	Result   json.RawMessage   `json:"result,omitempty"` // the stage's result value, canonical JSON
	Blobs    []Digest          `json:"blobs,omitempty"`  // blobs the result references
	Created  time.Time         `json:"created"`
	Duration time.Duration     `json:"duration"`
}

// MissingBlobError is returned by PutStage when an entry names a blob that
// is not in the store.
type MissingBlobError struct {
	Key  string
	Blob Digest
}

func (e *MissingBlobError) Error() string {
	return fmt.Sprintf("store: stage %s references blob %s, which is not in the store", e.Key, e.Blob)
}

// GetStage returns the entry stored under key.
func (s *Store) GetStage(key string) (*StageEntry, bool, error) {
	var e StageEntry
	found, err := s.getJSON(stageKey(key), &e)
	if err != nil || !found {
		return nil, false, err
	}
	return &e, true, nil
}

// StageResult returns only the Result of the entry stored under key: the
// cache-hit path, which needs nothing else.
func (s *Store) StageResult(key string) (json.RawMessage, bool, error) {
	var e struct {
		Result json.RawMessage `json:"result"`
	}
	found, err := s.getJSON(stageKey(key), &e)
	if err != nil || !found {
		return nil, false, err
	}
	return e.Result, true, nil
}

// PutStage stores e under e.Key and makes it the latest entry for e.Address,
// in one transaction. Every blob in e.Blobs must already be committed.
//
// Concurrent calls are committed together (group commit): the first caller
// to find no commit under way leads, writing every queued entry in one
// synced transaction after their blobs are made durable
// (DiskBlobs.SyncBlobs); the others wait. When PutStage returns, the entry
// is in the fsynced write-ahead log, as without grouping.
func (s *Store) PutStage(e *StageEntry) error {
	if e.Key == "" {
		return errors.New("store: PutStage: empty key")
	}
	for _, d := range e.Blobs {
		ok, err := s.blobs.Has(d)
		if err != nil {
			return fmt.Errorf("store: PutStage %s: %w", e.Key, err)
		}
		if !ok {
			return &MissingBlobError{Key: e.Key, Blob: d}
		}
	}
	if e.Created.IsZero() {
		e.Created = time.Now().UTC()
	}
	val, err := encodeJSON(e)
	if err != nil {
		return err
	}
	return s.stages.commit(s, &stageWrite{e: e, val: val, done: make(chan stageDone, 1)})
}

// Group commit of stage entries (PutStage).
const (
	maxStageBatch      = 256     // entries in one transaction
	maxStageBatchBytes = 1 << 20 // encoded entries in one transaction (a single larger one goes alone)
)

// stageCommits queues PutStage's entries for the leader to write.
type stageCommits struct {
	mu      sync.Mutex
	queue   []*stageWrite
	leading bool         // a leader is writing batches; new entries wait in queue
	batches atomic.Int64 // transactions written, for tests
}

type stageWrite struct {
	e    *StageEntry
	val  []byte
	done chan stageDone
}

// stageDone is what a waiting PutStage is told: its entry's outcome, or
// that it leads now (its entry is first in the queue).
type stageDone struct {
	err  error
	lead bool
}

// testHookStageBatch, when set (by tests), is called inside the
// transaction that writes a batch, before it sets the entries' keys.
var testHookStageBatch func(batch []*StageEntry)

// commit queues w and returns when its entry is written. A caller that
// finds no leader leads (its entry is then first in the queue): it takes a
// batch from the front of the queue, makes the staged blobs durable, hands
// the lead to the first entry still queued, if any, and writes its batch.
// So the next batch's blobs sync while this batch's transaction is
// written, and no caller leads for longer than its own commit. Two batches
// written at once hold only calls that overlapped in time, which may land
// in either order; a call that began after another returned lands after
// it.
func (c *stageCommits) commit(s *Store, w *stageWrite) error {
	c.mu.Lock()
	c.queue = append(c.queue, w)
	if c.leading {
		c.mu.Unlock()
		if d := <-w.done; !d.lead {
			return d.err
		}
		c.mu.Lock()
	} else {
		c.leading = true
	}
	batch := c.take() // batch[0] is w
	c.mu.Unlock()
	synced := s.blobs.SyncBlobs()
	c.mu.Lock()
	if len(c.queue) == 0 {
		c.leading = false
		c.mu.Unlock()
	} else {
		next := c.queue[0]
		c.mu.Unlock()
		next.done <- stageDone{lead: true}
	}
	errs := s.writeStages(batch, synced)
	for i, b := range batch[1:] {
		b.done <- stageDone{err: errs[i+1]}
	}
	return errs[0]
}

// take removes the next batch from the front of the queue. c.mu is held.
func (c *stageCommits) take() []*stageWrite {
	n, size := 0, 0
	for n < len(c.queue) && n < maxStageBatch {
		size += len(c.queue[n].val)
		if n > 0 && size > maxStageBatchBytes {
			break
		}
		n++
	}
	batch := append([]*stageWrite(nil), c.queue[:n]...)
	c.queue = append(c.queue[:0], c.queue[n:]...)
	return batch
}

// writeStages writes a batch of entries, whose blobs SyncBlobs has made
// durable (synced is its error), in one transaction and returns each
// entry's error. If the sync or the transaction fails, each entry is
// written on its own (update syncs the blobs again first), so that one
// bad entry fails only its own PutStage.
func (s *Store) writeStages(batch []*stageWrite, synced error) []error {
	s.stages.batches.Add(1)
	errs := make([]error, len(batch))
	err := synced
	if err == nil {
		err = s.transact(func(txn *badger.Txn) error {
			if testHookStageBatch != nil {
				entries := make([]*StageEntry, len(batch))
				for i, w := range batch {
					entries[i] = w.e
				}
				testHookStageBatch(entries)
			}
			return setStages(txn, batch)
		})
	}
	if err == nil {
		return errs
	}
	if len(batch) == 1 && synced == nil {
		errs[0] = err
		return errs
	}
	for i, w := range batch {
		errs[i] = s.update(func(txn *badger.Txn) error { return setStages(txn, []*stageWrite{w}) })
	}
	return errs
}

// setStages sets the entries of batch, in order (a later entry for an
// address wins, as with one PutStage after another), and replaces the
// generation once.
func setStages(txn *badger.Txn, batch []*stageWrite) error {
	if err := bumpGeneration(txn); err != nil {
		return err
	}
	for _, w := range batch {
		if err := txn.Set(stageKey(w.e.Key), w.val); err != nil {
			return err
		}
		if w.e.Address != "" {
			if err := txn.Set(key(prefixAddress, w.e.Address), []byte(w.e.Key)); err != nil {
				return err
			}
		}
	}
	return nil
}

// LastForAddress returns the latest entry stored for a stage address, so the
// runtime can explain why a stage will run (compare params, inputs, version).
// It reports false if no entry exists or the entry has been collected.
func (s *Store) LastForAddress(addr string) (*StageEntry, bool, error) {
	var k []byte
	err := s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(key(prefixAddress, addr))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		k, err = it.ValueCopy(nil)
		return err
	})
	if err != nil || k == nil {
		return nil, false, err
	}
	return s.GetStage(string(k))
}

// DeleteStage removes the entry stored under key (forcing it to be recomputed).
func (s *Store) DeleteStage(key string) error {
	return s.update(func(txn *badger.Txn) error {
		if err := bumpGeneration(txn); err != nil {
			return err
		}
		return txn.Delete(stageKey(key))
	})
}

func stageKey(k string) []byte { return key(prefixStage, k) }
