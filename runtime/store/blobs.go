package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

	// deferSync makes Commit leave the blob in tmp, staged, and SyncBlobs
	// make it durable: fsync its content, rename it into place and fsync
	// its directory, for all the blobs staged since the last call at once.
	// A Store sets it and calls SyncBlobs before every index write, so no
	// entry names a blob a crash could lose, and a batch of blobs costs
	// two syncfs calls (see SyncBlobs) instead of a chain of fsyncs per
	// blob.
	deferSync bool
	stagedMu  sync.Mutex          // guards staged and unsynced
	staged    map[Digest]string   // committed blobs still in tmp: digest -> temp path
	unsynced  map[string]struct{} // directories whose names still need a sync
	syncMu    sync.Mutex          // held by SyncBlobs while it syncs

	// spares holds empty temp files made ahead by a goroutine (when sync
	// is deferred, from the first Create to closeSpares): creating a file
	// waits for the file system's journal, which the batch syncs keep
	// busy, and that wait is better spent off the stage's path.
	spares     chan *os.File
	sparesOnce sync.Once
	sparesStop chan struct{}
	sparesDone chan struct{}
}

// maxSpares is how many empty temp files DiskBlobs keeps ready.
const maxSpares = 16

// testHookBlobs, when set (by tests), is called by SyncBlobs after a
// staged blob's content fsync ("sync", its temp path), after its rename
// ("rename", the blob's path), after each directory fsync ("syncdir", the
// directory) and after a syncfs ("syncfs", the blobs' root).
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
	var f *os.File
	var err error
	if b.deferSync {
		b.sparesOnce.Do(b.startSpares)
		select {
		case f = <-b.spares:
		default:
		}
	}
	if f == nil {
		f, err = createReadOnly(b.tmp)
	}
	if err != nil {
		return nil, fmt.Errorf("store: create blob: %w", err)
	}
	return &diskWriter{blobs: b, f: f, h: sha256.New()}, nil
}

// startSpares starts the goroutine that keeps b.spares full.
func (b *DiskBlobs) startSpares() {
	b.spares = make(chan *os.File, maxSpares)
	b.sparesStop, b.sparesDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(b.sparesDone)
		for {
			f, err := createReadOnly(b.tmp)
			if err != nil {
				return // Create makes its own, and reports the error
			}
			select {
			case b.spares <- f:
			case <-b.sparesStop:
				f.Close()
				os.Remove(f.Name())
				return
			}
		}
	}()
}

// closeSpares stops making spare temp files and removes those left.
func (b *DiskBlobs) closeSpares() {
	b.sparesOnce.Do(func() {}) // none started after this
	if b.sparesStop == nil {
		return
	}
	close(b.sparesStop)
	<-b.sparesDone
	for {
		select {
		case f := <-b.spares:
			f.Close()
			os.Remove(f.Name())
		default:
			return
		}
	}
}

// createReadOnly creates a new file in dir, open for writing but with mode
// 0444, as a blob stays: no chmod (one more journalled change per blob) at
// Commit.
func createReadOnly(dir string) (*os.File, error) {
	for {
		name := filepath.Join(dir, fmt.Sprintf("blob-%016x", rand.Uint64()))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o444)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}

// Open opens blob d for reading. A staged blob is read from its temp file.
func (b *DiskBlobs) Open(d Digest) (io.ReadCloser, error) {
	p, err := b.Path(d)
	if err != nil {
		return nil, err
	}
	if tmp, ok := b.stagedPath(d); ok {
		f, err := os.Open(tmp)
		if err == nil {
			return f, nil
		}
		// Renamed into place since stagedPath: read it there.
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	return f, err
}

// stagedPath returns the temp file of a staged blob.
func (b *DiskBlobs) stagedPath(d Digest) (string, bool) {
	if !b.deferSync {
		return "", false
	}
	b.stagedMu.Lock()
	tmp, ok := b.staged[d]
	b.stagedMu.Unlock()
	return tmp, ok
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
	if tmp, ok := b.stagedPath(d); ok {
		if fi, err := os.Stat(tmp); err == nil {
			return fi.Size(), nil
		}
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

// Walk calls fn for every blob, in digest order, staged blobs made
// durable first.
func (b *DiskBlobs) Walk(fn func(d Digest, size int64) error) error {
	if err := b.SyncBlobs(); err != nil {
		return err
	}
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

// Remove deletes blob d, staged or not.
func (b *DiskBlobs) Remove(d Digest) error {
	p, err := b.Path(d)
	if err != nil {
		return err
	}
	if b.deferSync {
		b.syncMu.Lock() // not while SyncBlobs renames it
		defer b.syncMu.Unlock()
		b.stagedMu.Lock()
		tmp, ok := b.staged[d]
		delete(b.staged, d)
		b.stagedMu.Unlock()
		if ok {
			if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
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

// Commit fsyncs the temp file, renames it to its content path and fsyncs
// the directory; when sync is deferred (a Store's blobs) it only stages the
// temp file under its digest and leaves all three to the next SyncBlobs. If
// the blob already exists, or is staged already, the temp file is dropped.
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
		// Already in place: renamed by an earlier process, whose
		// syncs are done, or by a SyncBlobs whose directory syncs the
		// next SyncBlobs waits for (syncMu).
		w.f.Close()
		os.Remove(tmp)
		return d, w.n, nil
	}
	// Deferred (a Store's blobs): only staged; SyncBlobs syncs the
	// content, renames it and syncs the names. Else all of it here.
	if !w.blobs.deferSync {
		if err := w.f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := w.f.Close(); err != nil {
		os.Remove(tmp)
		return "", 0, fmt.Errorf("store: commit blob: %w", err)
	}
	// The directory is made here, where callers' work runs in parallel,
	// not in SyncBlobs.
	dir := filepath.Dir(dst)
	newDir, err := ensureDir(dir)
	if err == nil && newDir {
		if w.blobs.deferSync {
			w.blobs.noteDir(filepath.Dir(dir))
		} else {
			err = syncDir(filepath.Dir(dir))
		}
	}
	if err != nil {
		os.Remove(tmp)
		return "", 0, fmt.Errorf("store: commit blob: %w", err)
	}
	if w.blobs.deferSync {
		if !w.blobs.stage(d, tmp) {
			os.Remove(tmp)
		}
		return d, w.n, nil
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return "", 0, fmt.Errorf("store: commit blob: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return "", 0, fmt.Errorf("store: commit blob: %w", err)
	}
	return d, w.n, nil
}

// stage records tmp as the staged content of d, unless d is staged
// already (then it reports false and the caller drops tmp).
func (b *DiskBlobs) stage(d Digest, tmp string) bool {
	b.stagedMu.Lock()
	defer b.stagedMu.Unlock()
	if _, ok := b.staged[d]; ok {
		return false
	}
	if b.staged == nil {
		b.staged = map[Digest]string{}
	}
	b.staged[d] = tmp
	return true
}

// ensureDir creates dir if it is missing and reports whether it did.
func ensureDir(dir string) (bool, error) {
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, os.MkdirAll(dir, 0o755)
}

// SyncBlobs makes every blob committed before the call durable under its
// name (only when sync is deferred): the content of each staged blob is
// synced, then the blob is renamed into place, then the names are synced,
// so that a crash never leaves a name on incomplete content. SyncBlobs
// returns only when all of it is done, also when another SyncBlobs is
// syncing some of it. A blob whose sync or rename fails stays staged, for
// the next call.
//
// Each sync is one syncfs(2) of the blobs' file system when it covers more
// than one file (Linux): one flush for the batch, where an fsync per file,
// even several at a time, costs several (docs/store.md, "Group commit").
// A single file, or a system without syncfs, gets fsyncs, at most maxSyncs
// at a time.
func (b *DiskBlobs) SyncBlobs() error {
	if !b.deferSync {
		return nil
	}
	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	b.stagedMu.Lock()
	type stagedBlob struct {
		d        Digest
		tmp, dst string
	}
	blobs := make([]stagedBlob, 0, len(b.staged))
	for d, tmp := range b.staged {
		dst, _ := b.Path(d)
		blobs = append(blobs, stagedBlob{d, tmp, dst})
	}
	dirs := b.unsynced
	b.unsynced = nil
	b.stagedMu.Unlock()
	if len(blobs) == 0 && len(dirs) == 0 {
		return nil
	}
	sort.Slice(blobs, func(i, j int) bool { return blobs[i].d < blobs[j].d })
	var first error
	fail := func(err error) {
		if first == nil {
			first = fmt.Errorf("store: sync blobs: %w", err)
		}
	}

	// 1. The content of every staged blob.
	tmps := make([]string, len(blobs))
	for i, bl := range blobs {
		tmps[i] = bl.tmp
	}
	synced := b.syncAll(tmps, "sync")
	// 2. Their names.
	if dirs == nil {
		dirs = map[string]struct{}{}
	}
	renamed := make([]Digest, 0, len(blobs))
	for i, bl := range blobs {
		if synced[i] != nil {
			fail(synced[i])
			continue
		}
		dir := filepath.Dir(bl.dst)
		newDir, err := ensureDir(dir) // made by Commit, unless removed since
		if err == nil {
			err = os.Rename(bl.tmp, bl.dst)
		}
		if err != nil {
			fail(err)
			continue
		}
		if newDir {
			dirs[filepath.Dir(dir)] = struct{}{}
		}
		dirs[dir] = struct{}{}
		renamed = append(renamed, bl.d)
		if testHookBlobs != nil {
			testHookBlobs("rename", bl.dst)
		}
	}
	b.stagedMu.Lock()
	for _, d := range renamed {
		delete(b.staged, d)
	}
	b.stagedMu.Unlock()
	// 3. The directories.
	names := make([]string, 0, len(dirs))
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names)
	for i, err := range b.syncAll(names, "syncdir") {
		if err != nil {
			b.noteDir(names[i]) // synced by the next call
			fail(err)
		}
	}
	return first
}

// syncAll makes the files (or directories) at paths durable and returns
// each one's error: by one syncfs of the blobs' file system when there is
// more than one, else by fsync. Test hooks see event for each path synced
// by fsync, "syncfs" and the root for a syncfs.
func (b *DiskBlobs) syncAll(paths []string, event string) []error {
	errs := make([]error, len(paths))
	if len(paths) > 1 && useSyncFS {
		err := syncFS(b.root)
		if err == nil {
			if testHookBlobs != nil {
				testHookBlobs("syncfs", b.root)
			}
			return errs
		}
		if !errors.Is(err, errors.ErrUnsupported) && !errors.Is(err, syscall.ENOSYS) {
			for i := range errs {
				errs[i] = err
			}
			return errs
		}
	}
	errs = parallel(len(paths), func(i int) error { return syncFile(paths[i]) })
	for i, err := range errs {
		if err == nil && testHookBlobs != nil {
			testHookBlobs(event, paths[i])
		}
	}
	return errs
}

// noteDir records a directory whose fsync failed, for the next SyncBlobs.
func (b *DiskBlobs) noteDir(dir string) {
	b.stagedMu.Lock()
	if b.unsynced == nil {
		b.unsynced = map[string]struct{}{}
	}
	b.unsynced[dir] = struct{}{}
	b.stagedMu.Unlock()
}

// parallel runs fn(0..n-1), at most maxSyncs at a time, and returns their
// errors.
func parallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, maxSyncs) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				errs[i] = fn(i)
			}
		}()
	}
	wg.Wait()
	return errs
}

// maxSyncs is how many fsyncs SyncBlobs runs at once.
const maxSyncs = 16

func (w *diskWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	return os.Remove(w.f.Name())
}

func syncDir(dir string) error { return syncFile(dir) }

// syncFile fsyncs the file or directory at path.
func syncFile(path string) error {
	f, err := os.Open(path)
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
