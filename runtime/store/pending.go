package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	badger "github.com/dgraph-io/badger/v4"
)

// Pending runs. A store opened ReadOnly (a no-op `ouro run` repeating an
// earlier run, see NoopSummary) writes nothing to the index: opening Badger
// for writing creates and maps a write-ahead log and a value-log file and
// flushes a memtable into a new table at Close, most of the cost of such a
// run. Its record (stored as the same as another run) is appended instead
// to dir/runs.pending, one JSON line per run, and the file is fsynced
// before PutRunSameAs returns, so a finished run is never lost. The next
// writable Open imports the file's complete lines into the index (synced)
// and then removes it; a line cut short by a crash has no newline and is
// dropped, and importing twice (a crash before the removal) writes the same
// keys and values again.

const pendingFile = "runs.pending"

func (s *Store) pendingPath() string { return filepath.Join(s.dir, pendingFile) }

// appendPending appends one stored run record to the pending-runs file and
// syncs it (and the directory when it creates the file).
func (s *Store) appendPending(sr storedRun) error {
	b, err := json.Marshal(sr)
	if err != nil {
		return err
	}
	if err := s.blobs.SyncBlobs(); err != nil {
		return err
	}
	p := s.pendingPath()
	_, statErr := os.Stat(p)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("store: pending runs: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && errors.Is(statErr, os.ErrNotExist) {
		err = syncDir(s.dir)
	}
	if err != nil {
		return fmt.Errorf("store: pending runs: %w", err)
	}
	return nil
}

// importPending moves the pending runs into the index and removes the file.
func (s *Store) importPending() error {
	p := s.pendingPath()
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: pending runs: %w", err)
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	n := 0
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			s.log.Warn("store: pending runs: dropping an incomplete last line", "bytes", len(b))
			break
		}
		line := b[:i]
		b = b[i+1:]
		sr := storedRun{RunRecord: new(RunRecord)}
		if err := json.Unmarshal(line, &sr); err != nil || sr.ID == "" || sr.Started.IsZero() {
			s.log.Warn("store: pending runs: dropping a bad line", "err", err)
			continue
		}
		val, err := encodeJSON(sr)
		if err != nil {
			return err
		}
		if err := wb.Set(key(prefixRun, sr.ID), val); err != nil {
			return err
		}
		if err := wb.Set(runTimeKey(sr.Started, sr.ID), nil); err != nil {
			return err
		}
		n++
	}
	if n > 0 {
		if err := wb.Flush(); err != nil {
			return fmt.Errorf("store: importing pending runs: %w", err)
		}
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("store: pending runs: %w", err)
	}
	return syncDir(s.dir)
}

// hasRun reports whether run id is in the index.
func hasRun(txn *badger.Txn, id string) (bool, error) {
	_, err := txn.Get(key(prefixRun, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}
