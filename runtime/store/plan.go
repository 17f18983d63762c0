package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// The plan cache holds one compiled plan per slot (the CLI uses the spec's
// path), with the key of everything it was compiled from; a lookup with
// another key misses, and a Put replaces the slot's plan. The value is
// valueV1, uvarint len(key), key, then the plan bytes as given.

// GetPlan returns the plan stored in slot if it was stored with key.
func (s *Store) GetPlan(slot, key string) ([]byte, bool, error) {
	var out []byte
	err := s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(planKey(slot))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error {
			if len(v) == 0 || v[0] != valueV1 {
				return nil // unknown encoding: a miss, overwritten by the next Put
			}
			n, w := binary.Uvarint(v[1:])
			if w <= 0 || uint64(len(v)-1-w) < n {
				return fmt.Errorf("store: plan cache %q: bad value", slot)
			}
			if string(v[1+w:1+w+int(n)]) != key {
				return nil
			}
			out = append([]byte(nil), v[1+w+int(n):]...)
			return nil
		})
	})
	return out, out != nil, err
}

// PutPlan stores plan in slot under key, replacing what the slot held.
func (s *Store) PutPlan(slot, key string, plan []byte) error {
	v := make([]byte, 0, 1+binary.MaxVarintLen64+len(key)+len(plan))
	v = append(v, valueV1)
	v = binary.AppendUvarint(v, uint64(len(key)))
	v = append(v, key...)
	v = append(v, plan...)
	return s.update(func(txn *badger.Txn) error { return txn.Set(planKey(slot), v) })
}

func planKey(slot string) []byte { return key(prefixPlan, slot) }
