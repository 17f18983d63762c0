package store

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// A no-op summary lets a run of a plan that has not changed since a run
// which found every stage cached reuse that run's record instead of
// evaluating the plan (issue 3: a no-op re-run of 1,000 stages reads a few
// values instead of 1,000 entries). It is kept per slot (the CLI uses the
// spec's path) and is valid only while the store's generation is the one it
// was written under.
//
// The generation is a random stamp, replaced in the same transaction by
// every operation that can change the answer of a stage-cache lookup or
// remove what a cached result references: PutStage, DeleteStage, GC,
// Repair and PinRun (pin and unpin, which decide what GC keeps). A summary
// written before any of them therefore never matches again.

var metaGenerationKey = []byte{prefixMeta, 'g', 'e', 'n'}

// NoopSummary is what a run that found everything cached leaves for the
// next run of the same plan: the plan-cache key it ran, the run whose
// record a repeat reuses, and the inputs outside the plan that the stage
// keys read.
type NoopSummary struct {
	PlanKey string `json:"plan_key"`
	// Run is the id of the (full) record of the run that found everything cached.
	Run string `json:"run"`
	// Files maps each file pattern that went into a stage key by content
	// (`source`, `checkpoint`) to the digest it had.
	Files map[string]string `json:"files,omitempty"`
	// Blobs are the blobs the run's outputs reference; a repeat checks that
	// they still exist.
	Blobs []Digest `json:"blobs,omitempty"`
	// Written are the files the run's stages write outside the store
	// (export's path), relative to the spec; a repeat checks they exist.
	Written []string `json:"written,omitempty"`
	// Counts, Skips, Outputs and Metrics summarise the run's record (its
	// stages by status, cached or skipped; the skipped stages the run
	// reported, with why, in order; its outputs; whether it has metrics),
	// so a repeat can report and print it without reading the whole record.
	Counts  map[string]int             `json:"counts"`
	Skips   []Skip                     `json:"skips,omitempty"`
	Outputs map[string]json.RawMessage `json:"outputs,omitempty"`
	Metrics bool                       `json:"metrics,omitempty"`
	// Generation is the store generation the summary was written under
	// (set by PutNoopSummary).
	Generation string `json:"generation"`
}

// Skip is a stage a run reported as skipped, and why ("loop stopped").
type Skip struct {
	Address string `json:"address"`
	Reason  string `json:"reason"`
}

// Generation returns the store's current generation stamp ("" for a store
// where nothing has changed the stage cache since it was created).
func (s *Store) Generation() (string, error) {
	var g string
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		g, err = generation(txn)
		return err
	})
	return g, err
}

func generation(txn *badger.Txn) (string, error) {
	it, err := txn.Get(metaGenerationKey)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var g string
	err = it.Value(func(v []byte) error {
		if len(v) == 0 || v[0] != valueV1 {
			return fmt.Errorf("store: generation: unknown encoding")
		}
		g = hex.EncodeToString(v[1:])
		return nil
	})
	return g, err
}

// bumpGeneration replaces the generation stamp within txn.
func bumpGeneration(txn *badger.Txn) error {
	v := make([]byte, 9)
	v[0] = valueV1
	rand.Read(v[1:])
	return txn.Set(metaGenerationKey, v)
}

// NewGeneration replaces the generation stamp: every no-op summary stops
// matching.
func (s *Store) NewGeneration() error {
	return s.update(bumpGeneration)
}

// NoopSummary returns the summary kept in slot if it was written under the
// store's current generation.
func (s *Store) NoopSummary(slot string) (*NoopSummary, bool, error) {
	var sum *NoopSummary
	err := s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(key(prefixNoop, slot))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var v NoopSummary
		if err := it.Value(func(b []byte) error { return decodeJSON(b, &v) }); err != nil {
			return nil // unreadable: a miss, replaced by the next Put
		}
		g, err := generation(txn)
		if err != nil {
			return err
		}
		if v.Generation == g {
			sum = &v
		}
		return nil
	})
	return sum, sum != nil, err
}

// PutNoopSummary stores sum in slot under the current generation,
// replacing what the slot held. sum.Run must name a stored run.
func (s *Store) PutNoopSummary(slot string, sum *NoopSummary) error {
	return s.update(func(txn *badger.Txn) error {
		if _, err := txn.Get(key(prefixRun, sum.Run)); err != nil {
			return fmt.Errorf("store: no-op summary: run %s: %w", sum.Run, err)
		}
		g, err := generation(txn)
		if err != nil {
			return err
		}
		v := *sum
		v.Generation = g
		val, err := encodeJSON(&v)
		if err != nil {
			return err
		}
		return txn.Set(key(prefixNoop, slot), val)
	})
}

// DeleteNoopSummary removes the summary kept in slot, if any.
func (s *Store) DeleteNoopSummary(slot string) error {
	return s.update(func(txn *badger.Txn) error { return txn.Delete(key(prefixNoop, slot)) })
}
