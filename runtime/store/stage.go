package store

import (
	"encoding/json"
	"errors"
	"fmt"
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
	return s.update(func(txn *badger.Txn) error {
		if err := bumpGeneration(txn); err != nil {
			return err
		}
		if err := txn.Set(stageKey(e.Key), val); err != nil {
			return err
		}
		if e.Address != "" {
			return txn.Set(key(prefixAddress, e.Address), []byte(e.Key))
		}
		return nil
	})
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
