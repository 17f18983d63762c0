package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// GCStats reports what GC removed and kept.
type GCStats struct {
	RunsKept       int   `json:"runs_kept"`         // runs whose work was kept (last N + pinned)
	StagesKept     int   `json:"stages_kept"`       // stage entries kept
	StagesRemoved  int   `json:"stages_removed"`    // stage entries removed
	AddressRemoved int   `json:"addresses_removed"` // address index entries removed
	BlobsKept      int   `json:"blobs_kept"`        // blobs kept
	BlobsRemoved   int   `json:"blobs_removed"`     // blobs removed
	BytesRemoved   int64 `json:"bytes_removed"`     // bytes of blobs removed
	ValueLogGCs    int   `json:"value_log_gcs"`     // value-log files rewritten
}

// GC removes stage entries and blobs not reachable from the last keepLast
// runs or from pinned runs. Run records and memo entries are kept (see
// docs/store.md). Work newer than the oldest kept run's start is kept too, so
// a run that died before writing its record loses nothing. It finishes with
// Badger's value-log GC.
func (s *Store) GC(keepLast int) (GCStats, error) {
	var st GCStats
	if err := s.memo.Flush(); err != nil {
		return st, err
	}
	// Before anything is removed: no no-op summary survives a GC.
	if err := s.NewGeneration(); err != nil {
		return st, err
	}
	runs, err := s.ListRuns(0)
	if err != nil {
		return st, err
	}
	pins, err := s.pinnedRuns()
	if err != nil {
		return st, err
	}
	keepKeys := map[string]bool{}
	cutoff := time.Now()
	for i, r := range runs {
		if i < keepLast || pins[r.ID] || r.Pinned {
			st.RunsKept++
			for _, sr := range r.Stages {
				if sr.Key != "" {
					keepKeys[sr.Key] = true
				}
			}
			if i < keepLast && r.Started.Before(cutoff) {
				cutoff = r.Started
			}
		}
	}

	// Stage entries: keep reachable and recent ones; collect their blobs.
	keepBlobs := map[Digest]bool{}
	var dropStages [][]byte
	removed := map[string]bool{}
	err = s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{prefixStage}
		iter := txn.NewIterator(opts)
		defer iter.Close()
		for iter.Rewind(); iter.Valid(); iter.Next() {
			item := iter.Item()
			k := string(item.Key()[1:])
			var e StageEntry
			if err := item.Value(func(v []byte) error { return decodeJSON(v, &e) }); err != nil {
				return fmt.Errorf("stage %s: %w", k, err)
			}
			if keepKeys[k] || !e.Created.Before(cutoff) {
				st.StagesKept++
				for _, d := range e.Blobs {
					keepBlobs[d] = true
				}
				continue
			}
			dropStages = append(dropStages, item.KeyCopy(nil))
			removed[k] = true
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	// Address index entries pointing at removed entries go too.
	var dropAddr [][]byte
	err = s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{prefixAddress}
		iter := txn.NewIterator(opts)
		defer iter.Close()
		for iter.Rewind(); iter.Valid(); iter.Next() {
			item := iter.Item()
			var gone bool
			item.Value(func(v []byte) error { gone = removed[string(v)]; return nil })
			if gone {
				dropAddr = append(dropAddr, item.KeyCopy(nil))
			}
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	// Delete keys before blobs: a key must never point at a missing blob.
	if err := s.deleteKeys(append(dropStages, dropAddr...)); err != nil {
		return st, err
	}
	st.StagesRemoved, st.AddressRemoved = len(dropStages), len(dropAddr)

	// Blobs: remove unreferenced ones not newer than the cutoff.
	var drop []Digest
	err = s.blobs.Walk(func(d Digest, size int64) error {
		if keepBlobs[d] {
			st.BlobsKept++
			return nil
		}
		p, _ := s.blobs.Path(d)
		if fi, err := os.Stat(p); err == nil && !fi.ModTime().Before(cutoff) {
			st.BlobsKept++
			return nil
		}
		drop = append(drop, d)
		st.BytesRemoved += size
		return nil
	})
	if err != nil {
		return st, err
	}
	for _, d := range drop {
		if err := s.blobs.Remove(d); err != nil {
			return st, err
		}
		st.BlobsRemoved++
	}
	st.ValueLogGCs, err = s.valueLogGC()
	return st, err
}

// Damage is one problem found by Verify.
type Damage struct {
	Digest  Digest   `json:"digest"`  // the blob
	Problem string   `json:"problem"` // "corrupt" (content does not match the name), "missing", "unreadable"
	Detail  string   `json:"detail"`  // e.g. the actual hash
	Stages  []string `json:"stages"`  // stage keys whose entries reference the blob
}

func (d Damage) String() string {
	s := fmt.Sprintf("%s: %s", d.Digest, d.Problem)
	if d.Detail != "" {
		s += " (" + d.Detail + ")"
	}
	if len(d.Stages) > 0 {
		s += fmt.Sprintf("; referenced by %d cached stage(s)", len(d.Stages))
	}
	return s
}

// Verify re-hashes every blob and checks that every blob a stage entry
// references exists. It changes nothing; see Repair.
func (s *Store) Verify() ([]Damage, error) {
	refs := map[Digest][]string{}
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{prefixStage}
		iter := txn.NewIterator(opts)
		defer iter.Close()
		for iter.Rewind(); iter.Valid(); iter.Next() {
			item := iter.Item()
			var e StageEntry
			if err := item.Value(func(v []byte) error { return decodeJSON(v, &e) }); err != nil {
				return fmt.Errorf("stage %s: %w", item.Key()[1:], err)
			}
			for _, d := range e.Blobs {
				refs[d] = append(refs[d], e.Key)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []Damage
	seen := map[Digest]bool{}
	buf := make([]byte, 1<<20)
	err = s.blobs.Walk(func(d Digest, _ int64) error {
		seen[d] = true
		r, err := s.blobs.Open(d)
		if err != nil {
			out = append(out, Damage{Digest: d, Problem: "unreadable", Detail: err.Error(), Stages: refs[d]})
			return nil
		}
		h := sha256.New()
		_, err = io.CopyBuffer(h, r, buf)
		r.Close()
		if err != nil {
			out = append(out, Damage{Digest: d, Problem: "unreadable", Detail: err.Error(), Stages: refs[d]})
			return nil
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != d.Hex() {
			out = append(out, Damage{Digest: d, Problem: "corrupt", Detail: "content hashes to sha256:" + got, Stages: refs[d]})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var missing []Digest
	for d := range refs {
		if !seen[d] {
			missing = append(missing, d)
		}
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
	for _, d := range missing {
		out = append(out, Damage{Digest: d, Problem: "missing", Stages: refs[d]})
	}
	return out, nil
}

// RepairStats reports what Repair did.
type RepairStats struct {
	BlobsRemoved  int `json:"blobs_removed"`
	StagesRemoved int `json:"stages_removed"`
}

// Repair drops the damaged blobs and every stage entry that references them,
// so the next run recomputes those stages.
func (s *Store) Repair(damage []Damage) (RepairStats, error) {
	var st RepairStats
	if err := s.NewGeneration(); err != nil {
		return st, err
	}
	var keys [][]byte
	seen := map[string]bool{}
	for _, d := range damage {
		for _, k := range d.Stages {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, stageKey(k))
			}
		}
	}
	if err := s.deleteKeys(keys); err != nil {
		return st, err
	}
	st.StagesRemoved = len(keys)
	for _, d := range damage {
		if d.Problem == "missing" {
			continue
		}
		if err := s.blobs.Remove(d.Digest); err != nil {
			return st, err
		}
		st.BlobsRemoved++
	}
	return st, nil
}

// KindStats counts one kind of record.
type KindStats struct {
	Count int64 `json:"count"`
	Bytes int64 `json:"bytes"` // key + value bytes as stored (estimated for the index)
}

// Stats describes a store's content.
type Stats struct {
	Stages    KindStats `json:"stages"`
	Addresses KindStats `json:"addresses"`
	Memo      KindStats `json:"memo"`
	Runs      KindStats `json:"runs"`
	Pinned    KindStats `json:"pinned"`
	Plans     KindStats `json:"plans"` // cached compiled plans, one per spec path
	Noops     KindStats `json:"noops"` // no-op summaries, one per spec path
	Blobs     KindStats `json:"blobs"`
	IndexLSM  int64     `json:"index_lsm_bytes"`  // bytes of Badger's tables (.sst) on disk
	IndexVLog int64     `json:"index_vlog_bytes"` // bytes of Badger's logs (.vlog, .mem) on disk
}

// Stats counts records and bytes per kind.
func (s *Store) Stats() (Stats, error) {
	var st Stats
	if err := s.memo.Flush(); err != nil {
		return st, err
	}
	kinds := map[byte]*KindStats{
		prefixStage: &st.Stages, prefixAddress: &st.Addresses, prefixMemo: &st.Memo,
		prefixRun: &st.Runs, prefixPin: &st.Pinned, prefixPlan: &st.Plans, prefixNoop: &st.Noops,
	}
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		iter := txn.NewIterator(opts)
		defer iter.Close()
		for iter.Rewind(); iter.Valid(); iter.Next() {
			item := iter.Item()
			k := item.Key()
			if ks := kinds[k[0]]; ks != nil {
				ks.Count++
				ks.Bytes += int64(len(k)) + item.ValueSize()
			}
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	err = s.blobs.Walk(func(_ Digest, size int64) error {
		st.Blobs.Count++
		st.Blobs.Bytes += size
		return nil
	})
	if err != nil {
		return st, err
	}
	st.IndexLSM, st.IndexVLog = dirSizes(s)
	return st, nil
}

// dirSizes sums Badger's files: tables (.sst) and logs (.vlog, .mem).
func dirSizes(s *Store) (lsm, vlog int64) {
	ents, err := os.ReadDir(filepath.Join(s.dir, "index"))
	if err != nil {
		return 0, 0
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || e.IsDir() {
			continue
		}
		switch filepath.Ext(e.Name()) {
		case ".sst":
			lsm += diskUsage(fi)
		case ".vlog", ".mem":
			vlog += diskUsage(fi)
		}
	}
	return lsm, vlog
}
