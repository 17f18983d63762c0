package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// FormatVersion is the on-disk format this package writes. Bump it when key
// layout or value encodings change incompatibly. Format 2 added the
// generation stamp (noop.go), which every writer of stage entries must
// replace: an older ouro, which does not, must not write to a format-2 store.
// Open upgrades a format-1 store.
const FormatVersion = 2

// Key prefixes, one byte per kind. Never reuse a retired byte.
const (
	prefixStage     byte = 0x01 // 0x01 stage-key                      -> StageEntry
	prefixAddress   byte = 0x02 // 0x02 address                        -> stage-key
	prefixMemo      byte = 0x03 // 0x03 sha256(request-key)            -> memo value
	prefixRun       byte = 0x04 // 0x04 run-id                         -> RunRecord
	prefixRunByTime byte = 0x05 // 0x05 uint64 BE unix-nanos + run-id  -> (empty)
	prefixPin       byte = 0x06 // 0x06 run-id                         -> (empty)
	prefixMeta      byte = 0x07 // 0x07 name                           -> meta value
	prefixPlan      byte = 0x08 // 0x08 slot (spec path)               -> plan-cache key + compiled plan
	prefixNoop      byte = 0x09 // 0x09 slot (spec path)               -> NoopSummary
)

// memTableSize is Badger's memtable size (see Open). Badger creates a
// write-ahead log of twice this size on every writable Open and maps it;
// the first write into the fresh mapping makes the kernel read around it,
// zero-filling that much page cache: with 8 MiB about 2 ms of a command
// (issue 3). The no-op fast path opens read-only and pays none of it, and
// with 1 MiB memo writes were 38% slower (bench/store: 205k → 128k puts/s,
// the memtable filling and flushing eight times as often), so commands that
// write keep 8 MiB.
const memTableSize = 8 << 20

// compactL0At is the number of level-0 tables at which Open arranges for
// Close to compact level 0 (see Open).
const compactL0At = 8

// level0Tables returns the number of tables in Badger's level 0.
func level0Tables(db *badger.DB) int {
	for _, l := range db.Levels() {
		if l.Level == 0 {
			return l.NumTables
		}
	}
	return 0
}

// valueV1 is the version byte in front of every encoded value.
const valueV1 byte = 1

var metaFormatKey = []byte{prefixMeta, 'f', 'o', 'r', 'm', 'a', 't'}

// Options configure Open.
type Options struct {
	// Wait makes Open wait for the store to become free instead of failing.
	Wait bool
	// WaitTimeout bounds the wait (0 = forever).
	WaitTimeout time.Duration
	// InMemory keeps the index in memory (blobs still go to dir). Unit tests only.
	InMemory bool
	// Logger receives badger's warnings and the store's own messages.
	Logger *slog.Logger
	// Command is recorded in the lock file ("ouro run"); default: from os.Args.
	Command string
	// MemoFlushInterval is how often queued memo writes are flushed (default 100ms).
	MemoFlushInterval time.Duration
	// ReadOnly opens the index for reading only (Writable switches): no
	// write-ahead log, value-log file or memtable flush, which are most of
	// the cost of opening and closing a store (issue 3). The only write it
	// takes is PutRunSameAs, into the pending-runs file (pending.go); reads
	// do not see those runs. Open fails with ErrNeedsWrite when the store
	// must be written first (a new or older-format store).
	ReadOnly bool
}

// Store is an open store, owned by this process until Close.
type Store struct {
	dir      string
	opts     Options
	readOnly bool
	db       *badger.DB
	blobs    *DiskBlobs
	lock     *fileLock
	log      *slog.Logger
	memo     *Memo
	stages   stageCommits // PutStage's group commit

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// ErrNewerFormat is returned (wrapped) by Open for a store written by a newer ouro.
var ErrNewerFormat = errors.New("store format is newer than this ouro supports")

// Open opens (creating if needed) the store in dir and takes ownership of it.
func Open(dir string, opts Options) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	dir = abs
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	lk, err := acquireLock(dir, opts)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, lock: lk, log: log, opts: opts}
	ok := false
	defer func() {
		if !ok {
			if s.db != nil {
				s.db.Close()
			}
			lk.release()
		}
	}()

	s.blobs, err = NewDiskBlobs(filepath.Join(dir, "blobs"), filepath.Join(dir, "tmp"))
	if err != nil {
		return nil, err
	}
	// Blobs are staged by Commit and made durable together before each
	// index write (update, the memo's batches, PutStage's group commits),
	// by BlobPath and at Close.
	s.blobs.deferSync = true
	if !opts.ReadOnly {
		if err := s.blobs.cleanTmp(); err != nil {
			return nil, fmt.Errorf("store: clean tmp: %w", err)
		}
	}
	if err := s.openIndex(opts.ReadOnly); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// ErrNeedsWrite is returned (wrapped) by a ReadOnly Open of a store that
// must be opened for writing first.
var ErrNeedsWrite = errors.New("store must be opened for writing")

// Writable makes a store opened ReadOnly writable (reopening its index),
// keeping ownership; it does nothing on a writable store.
func (s *Store) Writable() error {
	if !s.readOnly {
		return nil
	}
	err := s.db.Close()
	s.db, s.readOnly = nil, false
	if err != nil {
		return fmt.Errorf("store: close index: %w", err)
	}
	if err := s.blobs.cleanTmp(); err != nil {
		return fmt.Errorf("store: clean tmp: %w", err)
	}
	return s.openIndex(false)
}

// dropEmptyLogs removes the 0-byte memtable (.mem) and value-log (.vlog)
// files of Badger's directory. A kill -9 between Badger creating one and
// writing its header leaves such a file, and Badger then refuses to open
// the directory ("while opening fid: N err: Create a new file",
// dgraph-io/badger#2207) although the file holds nothing.
func dropEmptyLogs(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".mem") || strings.HasSuffix(name, ".vlog")) {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Size() == 0 {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// openBadger is badger.Open, returning no DB with an error (Badger may
// return a half-opened one).
func openBadger(bo badger.Options) (*badger.DB, error) {
	// The store's own LOCK file is held, so no other ouro process has the
	// index: a conflict on Badger's directory lock can only be a copy of
	// this process's descriptor that a child (git, a command stage) holds
	// between its fork and its exec, or one being released. Such a holder
	// goes away within milliseconds; wait for it, boundedly.
	deadline := time.Now().Add(badgerLockWait)
	for {
		db, err := badger.Open(bo)
		if err == nil {
			return db, nil
		}
		if !strings.Contains(err.Error(), "Cannot acquire directory lock") || time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// badgerLockWait bounds how long openBadger waits for Badger's directory
// lock (see there).
const badgerLockWait = 3 * time.Second

func (s *Store) badgerOptions() badger.Options {
	bo := badger.DefaultOptions(filepath.Join(s.dir, "index")).
		WithSyncWrites(true).
		WithLogger(badgerLogger{s.log}).
		WithLoggingLevel(badger.WARNING).
		// Small memtables and value-log files: Badger allocates, maps and
		// zeroes the memtable (arena and WAL) and a fresh value-log file on
		// every Open, so their size is paid by every command, even a no-op
		// `ouro run` (issue 3: 16 MiB / 64 MiB cost ~15 ms per open). The
		// value-log file size also bounds the largest value (a cached plan
		// of a few thousand stages is several MiB), so it stays at 16 MiB.
		WithValueLogFileSize(16 << 20).
		WithMemTableSize(memTableSize).
		WithBlockCacheSize(128 << 20).
		WithNumCompactors(2).
		WithMetricsEnabled(false).
		WithCompactL0OnClose(false).
		// Values over 256 bytes (most memo responses) live in the value log:
		// the LSM tree stays small, so memo lookups are faster (measured).
		WithValueThreshold(256)
	if s.opts.InMemory {
		// In-memory mode has no value log: keep every value in the tree.
		// (Badger needs the threshold below 15% of the memtable.)
		bo = bo.WithDir("").WithValueDir("").WithInMemory(true).WithMemTableSize(16 << 20).WithValueThreshold(1 << 20)
	}
	return bo
}

// openIndex opens the Badger index, read-only or for writing (then
// importing pending runs and starting the memo and GC loops).
func (s *Store) openIndex(readOnly bool) error {
	bo := s.badgerOptions()
	var err error
	if readOnly {
		if s.opts.InMemory {
			return fmt.Errorf("store: read-only in memory: %w", ErrNeedsWrite)
		}
		if s.db, err = openBadger(bo.WithReadOnly(true)); err != nil {
			// A new index, or one Badger must repair: a writable Open
			// does that (or reports the problem).
			return fmt.Errorf("store: open index read-only: %v: %w", err, ErrNeedsWrite)
		}
		var m metaFormat
		found, err := s.getJSON(metaFormatKey, &m)
		if err != nil {
			return fmt.Errorf("store %s: read format version: %w", s.dir, err)
		}
		if !found || m.Format != FormatVersion {
			return fmt.Errorf("store %s has format %d, this ouro writes %d: %w", s.dir, m.Format, FormatVersion, ErrNeedsWrite)
		}
		s.readOnly = true
		return nil
	}
	if !s.opts.InMemory {
		if err := dropEmptyLogs(bo.Dir); err != nil {
			return fmt.Errorf("store: open index: %w", err)
		}
	}
	s.db, err = openBadger(bo)
	if err != nil {
		return fmt.Errorf("store: open index: %w", err)
	}
	if !s.opts.InMemory && level0Tables(s.db) >= compactL0At {
		// Every process that writes leaves one more level-0 table (its
		// memtable, flushed at Close), and Badger's compactors start
		// after a random delay of up to a second, which a short command
		// never reaches: without this, level 0 grows by one table per
		// command and every Open and lookup gets slower. Reopen so that
		// this Close compacts level 0.
		err := s.db.Close()
		s.db = nil
		if err != nil {
			return fmt.Errorf("store: close index: %w", err)
		}
		if s.db, err = openBadger(bo.WithCompactL0OnClose(true)); err != nil {
			return fmt.Errorf("store: open index: %w", err)
		}
	}
	if err := s.checkFormat(); err != nil {
		return err
	}
	if err := s.importPending(); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	interval := s.opts.MemoFlushInterval
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	s.memo = newMemo(s, interval)
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.memo.loop(ctx) }()
	if !s.opts.InMemory {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.gcLoop(ctx) }()
	}
	return nil
}

type metaFormat struct {
	Format  int       `json:"format"`
	Created time.Time `json:"created"`
}

func (s *Store) checkFormat() error {
	var m metaFormat
	found, err := s.getJSON(metaFormatKey, &m)
	if err != nil {
		return fmt.Errorf("store %s: read format version: %w", s.dir, err)
	}
	if !found {
		return s.putJSON(metaFormatKey, metaFormat{Format: FormatVersion, Created: time.Now().UTC()})
	}
	if m.Format > FormatVersion {
		return fmt.Errorf("store %s has format %d but this ouro reads up to format %d; upgrade ouro or use another --store: %w",
			s.dir, m.Format, FormatVersion, ErrNewerFormat)
	}
	if m.Format < FormatVersion {
		// Format 1 → 2 changes no existing record; it only marks the store
		// as kept by writers that maintain the generation stamp.
		m.Format = FormatVersion
		return s.putJSON(metaFormatKey, m)
	}
	return nil
}

// Dir returns the store directory (absolute).
func (s *Store) Dir() string { return s.dir }

// Blobs returns the blob store, the interface operators use.
func (s *Store) Blobs() BlobStore { return s.blobs }

// Close flushes the memo, closes the index and releases the lock.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.blobs.closeSpares()
		err := s.blobs.SyncBlobs()
		if s.cancel != nil {
			s.cancel()
			s.wg.Wait()
			if ferr := s.memo.Flush(); err == nil {
				err = ferr
			}
		}
		if s.db != nil {
			if cerr := s.db.Close(); err == nil {
				err = cerr
			}
		}
		if lerr := s.lock.release(); err == nil {
			err = lerr
		}
		s.closeErr = err
	})
	return s.closeErr
}

// gcLoop runs Badger's value-log GC now and then while the store is open.
func (s *Store) gcLoop(ctx context.Context) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.valueLogGC(); err != nil {
				s.log.Warn("store: value log gc", "err", err)
			}
		}
	}
}

// valueLogGC runs RunValueLogGC(0.5) until there is nothing left to rewrite.
func (s *Store) valueLogGC() (int, error) {
	n := 0
	for {
		err := s.db.RunValueLogGC(0.5)
		switch {
		case err == nil:
			n++
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected), errors.Is(err, badger.ErrGCInMemoryMode):
			return n, nil
		default:
			return n, err
		}
	}
}

// Blob methods on Store, for convenience.

// Create starts a new blob.
func (s *Store) Create() (BlobWriter, error) { return s.blobs.Create() }

// PutBytes stores b as a blob.
func (s *Store) PutBytes(b []byte) (Digest, error) { return PutBytes(s.blobs, b) }

// OpenBlob opens blob d for reading.
func (s *Store) OpenBlob(d Digest) (io.ReadCloser, error) { return s.blobs.Open(d) }

// BlobPath returns the local path of blob d, for local tools that read files.
// The file must not be modified. It fails with ErrNotFound if d is absent.
// A staged blob is made durable first, so that its path does not change.
func (s *Store) BlobPath(d Digest) (string, error) {
	if _, ok := s.blobs.stagedPath(d); ok {
		if err := s.blobs.SyncBlobs(); err != nil {
			return "", err
		}
	}
	if _, err := s.blobs.Stat(d); err != nil {
		return "", err
	}
	return s.blobs.Path(d)
}

// HasBlob reports whether blob d exists.
func (s *Store) HasBlob(d Digest) (bool, error) { return s.blobs.Has(d) }

// Stat returns the size of blob d.
func (s *Store) Stat(d Digest) (int64, error) { return s.blobs.Stat(d) }

// --- index helpers -------------------------------------------------------

// update runs fn in a read-write transaction, retrying on conflicts. It
// first makes the blobs committed so far durable, so that no record it
// writes can name a blob a crash would lose.
func (s *Store) update(fn func(txn *badger.Txn) error) error {
	if err := s.blobs.SyncBlobs(); err != nil {
		return err
	}
	return s.transact(fn)
}

// transact runs fn in a read-write transaction, retrying on conflicts,
// without syncing blobs first: only for records whose blobs are synced.
func (s *Store) transact(fn func(txn *badger.Txn) error) error {
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		err = s.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * time.Millisecond)
	}
	return err
}

func encodeJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(b)+1)
	out = append(out, valueV1)
	return append(out, b...), nil
}

func decodeJSON(b []byte, v any) error {
	if len(b) == 0 {
		return errors.New("empty value")
	}
	if b[0] != valueV1 {
		return fmt.Errorf("value encoding version %d is newer than this ouro supports", b[0])
	}
	return json.Unmarshal(b[1:], v)
}

func (s *Store) getJSON(key []byte, v any) (bool, error) {
	var found bool
	err := s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return it.Value(func(val []byte) error { return decodeJSON(val, v) })
	})
	return found, err
}

func (s *Store) putJSON(key []byte, v any) error {
	val, err := encodeJSON(v)
	if err != nil {
		return err
	}
	return s.update(func(txn *badger.Txn) error { return txn.Set(key, val) })
}

func key(prefix byte, rest string) []byte {
	k := make([]byte, 1+len(rest))
	k[0] = prefix
	copy(k[1:], rest)
	return k
}

// deleteKeys deletes keys in batches (a WriteBatch splits on ErrTxnTooBig).
func (s *Store) deleteKeys(keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range keys {
		if err := wb.Delete(k); err != nil {
			return err
		}
	}
	return wb.Flush()
}

type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error("badger: " + trimNL(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn("badger: " + trimNL(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Infof(f string, a ...any)  { b.l.Debug("badger: " + trimNL(fmt.Sprintf(f, a...))) }
func (b badgerLogger) Debugf(f string, a ...any) {}

func trimNL(s string) string {
	for len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	return s
}
