package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Digest names a blob by its content: "sha256:" followed by 64 lower-case hex digits.
type Digest string

const digestPrefix = "sha256:"

// DigestOf returns the digest of b.
func DigestOf(b []byte) Digest {
	sum := sha256.Sum256(b)
	return Digest(digestPrefix + hex.EncodeToString(sum[:]))
}

// ParseDigest checks that s is a well-formed digest.
func ParseDigest(s string) (Digest, error) {
	d := Digest(s)
	return d, d.Validate()
}

// Validate reports whether d is well formed.
func (d Digest) Validate() error {
	s := string(d)
	if !strings.HasPrefix(s, digestPrefix) {
		return fmt.Errorf("malformed digest %q: want sha256:<64 hex>", s)
	}
	h := s[len(digestPrefix):]
	if len(h) != 64 {
		return fmt.Errorf("malformed digest %q: want sha256:<64 hex>", s)
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("malformed digest %q: want sha256:<64 hex>", s)
		}
	}
	return nil
}

// Hex returns the hex part of the digest.
func (d Digest) Hex() string { return strings.TrimPrefix(string(d), digestPrefix) }

func (d Digest) String() string { return string(d) }

// ErrNotFound is returned (wrapped) when a blob or record does not exist.
var ErrNotFound = errors.New("not found")

// BlobWriter streams a new blob. Commit makes it durable and visible under
// its digest; Abort discards it. Exactly one of them must be called.
type BlobWriter interface {
	io.Writer
	// Commit makes the blob durable and returns its digest and size. (A
	// Store's blobs: the content is durable and the name visible; the
	// name is durable before any index write that follows.)
	Commit() (Digest, int64, error)
	// Abort discards the blob. It is a no-op after Commit.
	Abort() error
}

// BlobStore is the only way blobs are reached: the local directory now, an
// S3-compatible object store later. Blobs are immutable: committing content
// that already exists leaves the existing blob untouched.
type BlobStore interface {
	Create() (BlobWriter, error)
	Open(d Digest) (io.ReadCloser, error)
	Has(d Digest) (bool, error)
	// Stat returns the size of the blob, or an error wrapping ErrNotFound.
	Stat(d Digest) (int64, error)
}

// BlobAdmin is implemented by blob stores that support maintenance (GC, verify).
type BlobAdmin interface {
	BlobStore
	// Walk calls fn for every committed blob.
	Walk(fn func(d Digest, size int64) error) error
	// Remove deletes a blob; removing a missing blob is not an error.
	Remove(d Digest) error
}

// DiskBlobs is the local BlobStore: root/sha256/ab/<hex>, temp files in tmp.
type DiskBlobs struct {
	root string // .../blobs
	tmp  string // .../tmp

	// deferNames makes Commit leave the fsync of the blob's directory to
	// SyncNames. A Store sets it and calls SyncNames before every index
	// write, so many blobs renamed into a directory cost one fsync of it.
	deferNames bool
	namesMu    sync.Mutex          // guards unsynced
	unsynced   map[string]struct{} // directories renamed into since the last SyncNames
	syncMu     sync.Mutex          // held by SyncNames while it fsyncs
}

// testHookBlobs, when set (by tests), is called after a blob's rename
// ("rename", the blob's path) and after each directory fsync of SyncNames
// ("syncdir", the directory).
var testHookBlobs func(event, path string)

var _ BlobAdmin = (*DiskBlobs)(nil)

// NewDiskBlobs returns a blob store keeping blobs under root and temporary
// files in tmp (which must be on the same file system).
func NewDiskBlobs(root, tmp string) (*DiskBlobs, error) {
	for _, d := range []string{filepath.Join(root, "sha256"), tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	return &DiskBlobs{root: root, tmp: tmp}, nil
}

// Path returns where blob d lives (or would live).
func (b *DiskBlobs) Path(d Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", err
	}
	h := d.Hex()
	return filepath.Join(b.root, "sha256", h[:2], h), nil
}

// Create starts a new blob in the temp directory.
func (b *DiskBlobs) Create() (BlobWriter, error) {
	f, err := os.CreateTemp(b.tmp, "blob-*")
	if err != nil {
		return nil, fmt.Errorf("store: create blob: %w", err)
	}
	return &diskWriter{blobs: b, f: f, h: sha256.New()}, nil
}

// Open opens blob d for reading.
func (b *DiskBlobs) Open(d Digest) (io.ReadCloser, error) {
	p, err := b.Path(d)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	return f, err
}

// Has reports whether blob d exists.
func (b *DiskBlobs) Has(d Digest) (bool, error) {
	_, err := b.Stat(d)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Stat returns the size of blob d.
func (b *DiskBlobs) Stat(d Digest) (int64, error) {
	p, err := b.Path(d)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Walk calls fn for every blob, in digest order.
func (b *DiskBlobs) Walk(fn func(d Digest, size int64) error) error {
	base := filepath.Join(b.root, "sha256")
	return filepath.WalkDir(base, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if de.IsDir() {
			return nil
		}
		d := Digest(digestPrefix + de.Name())
		if d.Validate() != nil {
			return nil // not ours
		}
		fi, err := de.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		return fn(d, fi.Size())
	})
}

// Remove deletes blob d.
func (b *DiskBlobs) Remove(d Digest) error {
	p, err := b.Path(d)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// cleanTmp removes leftovers of writers that died before Commit. Only safe
// while holding the store lock.
func (b *DiskBlobs) cleanTmp() error {
	ents, err := os.ReadDir(b.tmp)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(b.tmp, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

type diskWriter struct {
	blobs *DiskBlobs
	f     *os.File
	h     hash.Hash
	n     int64
	done  bool
	err   error
}

func (w *diskWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("store: write to finished blob")
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
}

// Commit fsyncs the temp file, renames it to its content path and fsyncs the
// directory, or, when names are deferred (a Store's blobs), leaves that
// fsync to the next SyncNames. If the blob already exists the temp file is
// dropped.
func (w *diskWriter) Commit() (Digest, int64, error) {
	if w.done {
		return "", 0, errors.New("store: blob already committed or aborted")
	}
	w.done = true
	tmp := w.f.Name()
	fail := func(err error) (Digest, int64, error) {
		w.f.Close()
		os.Remove(tmp)
		return "", 0, fmt.Errorf("store: commit blob: %w", err)
	}
	if w.err != nil {
		return fail(w.err)
	}
	d := Digest(digestPrefix + hex.EncodeToString(w.h.Sum(nil)))
	dst, _ := w.blobs.Path(d)
	if _, err := os.Stat(dst); err == nil {
		w.f.Close()
		os.Remove(tmp)
		// Another Commit may have renamed it and not yet noted its
		// directory: note it again, so the name is synced before any
		// entry naming this blob.
		w.blobs.noteName(filepath.Dir(dst))
		return d, w.n, nil
	}
	if err := w.f.Chmod(0o444); err != nil {
		return fail(err)
	}
	if err := w.f.Sync(); err != nil {
		return fail(err)
	}
	if err := w.f.Close(); err != nil {
		os.Remove(tmp)
		return "", 0, fmt.Errorf("store: commit blob: %w", err)
	}
	dir := filepath.Dir(dst)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			os.Remove(tmp)
			return "", 0, fmt.Errorf("store: commit blob: %w", err)
		}
		if err := syncDir(filepath.Dir(dir)); err != nil {
			os.Remove(tmp)
			return "", 0, fmt.Errorf("store: commit blob: %w", err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return "", 0, fmt.Errorf("store: commit blob: %w", err)
	}
	if testHookBlobs != nil {
		testHookBlobs("rename", dst)
	}
	if w.blobs.deferNames {
		w.blobs.noteName(dir)
		return d, w.n, nil
	}
	if err := syncDir(dir); err != nil {
		return "", 0, fmt.Errorf("store: commit blob: %w", err)
	}
	return d, w.n, nil
}

// noteName records that dir holds a blob name not yet fsynced (only when
// names are deferred).
func (b *DiskBlobs) noteName(dir string) {
	if !b.deferNames {
		return
	}
	b.namesMu.Lock()
	if b.unsynced == nil {
		b.unsynced = map[string]struct{}{}
	}
	b.unsynced[dir] = struct{}{}
	b.namesMu.Unlock()
}

// SyncNames makes the name of every blob committed before the call durable:
// it fsyncs each directory a blob was renamed into since the last call,
// once, several at a time (the file system merges the device flushes of
// concurrent fsyncs; one after another, each would wait for its own). It
// returns only when all of them are synced, also when another SyncNames is
// syncing some of them.
func (b *DiskBlobs) SyncNames() error {
	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	b.namesMu.Lock()
	pending := b.unsynced
	b.unsynced = nil
	b.namesMu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	dirs := make([]string, 0, len(pending))
	for d := range pending {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	errs := make([]error, len(dirs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(len(dirs), maxSyncNames) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(dirs); i = int(next.Add(1)) - 1 {
				errs[i] = syncDir(dirs[i])
			}
		}()
	}
	wg.Wait()
	var first error
	for i, d := range dirs {
		switch {
		case errs[i] != nil:
			b.noteName(d) // synced by the next call
			if first == nil {
				first = fmt.Errorf("store: sync blob names: %w", errs[i])
			}
		case testHookBlobs != nil:
			testHookBlobs("syncdir", d)
		}
	}
	return first
}

// maxSyncNames is how many directories SyncNames fsyncs at once.
const maxSyncNames = 16

func (w *diskWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	return os.Remove(w.f.Name())
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// PutBytes stores b as a blob.
func PutBytes(bs BlobStore, b []byte) (Digest, error) {
	w, err := bs.Create()
	if err != nil {
		return "", err
	}
	if _, err := w.Write(b); err != nil {
		w.Abort()
		return "", err
	}
	d, _, err := w.Commit()
	return d, err
}
