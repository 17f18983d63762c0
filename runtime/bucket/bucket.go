// Package bucket is the blob store of a distributed run: the store's
// content-addressed blobs kept in an object store that every machine
// reaches, opened from one URL through gocloud.dev/blob.
//
//	file:///shared/ouro-blobs      a directory (a shared file system on a cluster)
//	s3://bucket/prefix?endpoint=…  any S3-compatible store (AWS, MinIO, Versity, Ceph…)
//	mem://                         in memory, for unit tests
//
// Blobs live under the URL's prefix exactly as in a local store's blobs
// directory, sha256/ab/<hex>, so the same digest names the same bytes
// everywhere. A blob is written to a local temporary file while it is
// hashed, then uploaded under its digest unless the bucket has it already;
// an upload is one atomic object write (S3 PUT, or fileblob's rename), so
// no reader ever sees half a blob, and nothing points at a blob before
// Commit has returned.
//
// Credentials for s3:// come from the usual AWS environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL_S3, shared config
// files); they are never part of the URL ouro records.
//
// Where its job stops: the package stores and fetches bytes by digest. It
// has no index: which blobs a run needs, and which keys point at them, is
// the coordinator's Badger store's business (package runtime/store).
package bucket

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file://
	_ "gocloud.dev/blob/memblob"  // mem://
	_ "gocloud.dev/blob/s3blob"   // s3://
	"gocloud.dev/gcerrors"

	"github.com/ouroloop/ouro/runtime/store"
)

// Blobs is a store.BlobStore in an object store.
type Blobs struct {
	url    string // as given, for messages
	bucket *blob.Bucket
	tmp    string // local directory for blobs being written
	ctx    context.Context
	file   bool // a file:// directory: fileblob's temp files show in listings
}

var _ store.BlobStore = (*Blobs)(nil)

// Open opens the blob store at rawURL. A plain path is taken as a
// directory (file://); a file:// directory is created when missing; an
// s3:// URL's path is the key prefix inside the bucket. tmp is where blobs
// being written are staged ("" for the system's temporary directory).
func Open(ctx context.Context, rawURL, tmp string) (*Blobs, error) {
	u, err := normalize(rawURL)
	if err != nil {
		return nil, err
	}
	b, err := blob.OpenBucket(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("blob store %s: %w", rawURL, err)
	}
	if tmp == "" {
		tmp = os.TempDir()
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	return &Blobs{url: rawURL, bucket: b, tmp: tmp, ctx: context.WithoutCancel(ctx), file: strings.HasPrefix(u, "file:")}, nil
}

// normalize turns what a user writes into a gocloud URL.
func normalize(raw string) (string, error) {
	if !strings.Contains(raw, "://") {
		abs, err := filepath.Abs(raw)
		if err != nil {
			return "", err
		}
		raw = "file://" + filepath.ToSlash(abs)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("blob store %q: %w", raw, err)
	}
	q := u.Query()
	switch u.Scheme {
	case "file":
		if u.Path == "" {
			return "", fmt.Errorf("blob store %q: a file:// URL needs a directory (file:///path/to/blobs)", raw)
		}
		if err := os.MkdirAll(filepath.FromSlash(u.Path), 0o755); err != nil {
			return "", fmt.Errorf("blob store %s: %w", raw, err)
		}
		q.Set("metadata", "skip")
		q.Set("no_tmp_dir", "true") // stage next to the final name: same file system, atomic rename
	case "s3":
		if p := strings.Trim(u.Path, "/"); p != "" {
			q.Set("prefix", p+"/")
			u.Path = ""
		}
	case "mem":
	default:
		return "", fmt.Errorf("blob store %q: unsupported scheme %q (use file://, s3:// or mem://)", raw, u.Scheme)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// String is the URL the store was opened with.
func (b *Blobs) String() string { return b.url }

// Close releases the bucket.
func (b *Blobs) Close() error { return b.bucket.Close() }

func objectKey(d store.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", err
	}
	h := d.Hex()
	return "sha256/" + h[:2] + "/" + h, nil
}

// Check proves the store is reachable and writable: it writes, reads back
// and deletes a small probe object. Run it before any work starts, so a
// missing bucket or a read-only credential fails the run at once.
func (b *Blobs) Check(ctx context.Context) error {
	var nonce [8]byte
	rand.Read(nonce[:])
	key := ".ouro-probe/" + hex.EncodeToString(nonce[:])
	if err := b.bucket.WriteAll(ctx, key, []byte("ouro"), nil); err != nil {
		return fmt.Errorf("blob store %s is not writable: %w", b.url, err)
	}
	got, err := b.bucket.ReadAll(ctx, key)
	if err != nil || string(got) != "ouro" {
		return fmt.Errorf("blob store %s: reading back a probe failed: %v", b.url, err)
	}
	if err := b.bucket.Delete(ctx, key); err != nil {
		return fmt.Errorf("blob store %s: deleting a probe failed: %w", b.url, err)
	}
	return nil
}

// Create starts a new blob, staged in a local temporary file.
func (b *Blobs) Create() (store.BlobWriter, error) {
	f, err := os.CreateTemp(b.tmp, "ouro-blob-*")
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	return &writer{b: b, f: f, h: sha256.New()}, nil
}

// Open opens blob d for reading.
func (b *Blobs) Open(d store.Digest) (io.ReadCloser, error) {
	key, err := objectKey(d)
	if err != nil {
		return nil, err
	}
	r, err := b.bucket.NewReader(b.ctx, key, nil)
	if err != nil {
		return nil, b.wrap(d, err)
	}
	return r, nil
}

// Has reports whether blob d exists.
func (b *Blobs) Has(d store.Digest) (bool, error) {
	key, err := objectKey(d)
	if err != nil {
		return false, err
	}
	ok, err := b.bucket.Exists(b.ctx, key)
	if err != nil {
		return false, b.wrap(d, err)
	}
	return ok, nil
}

// Stat returns the size of blob d.
func (b *Blobs) Stat(d store.Digest) (int64, error) {
	key, err := objectKey(d)
	if err != nil {
		return 0, err
	}
	a, err := b.bucket.Attributes(b.ctx, key)
	if err != nil {
		return 0, b.wrap(d, err)
	}
	return a.Size, nil
}

// Error is a failed blob store operation (a missing blob wraps
// store.ErrNotFound). Whoever retries work can tell it from an error of the
// work itself.
type Error struct {
	URL    string
	Digest store.Digest // the blob, or
	Object string       // the named object
	Err    error
}

func (e *Error) Error() string {
	if e.Object != "" {
		return fmt.Sprintf("object %s in %s: %v", e.Object, e.URL, e.Err)
	}
	return fmt.Sprintf("blob %s in %s: %v", e.Digest, e.URL, e.Err)
}
func (e *Error) Unwrap() error { return e.Err }

func (b *Blobs) wrap(d store.Digest, err error) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		err = store.ErrNotFound
	}
	return &Error{URL: b.url, Digest: d, Err: err}
}

// upload copies the local file at path to blob d unless it is there.
func (b *Blobs) upload(d store.Digest, path string) error {
	if ok, err := b.Has(d); err != nil {
		return err
	} else if ok {
		return nil
	}
	key, _ := objectKey(d)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	w, err := b.bucket.NewWriter(ctx, key, &blob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return b.wrap(d, err)
	}
	if _, err := io.Copy(w, f); err != nil {
		cancel() // abandons the upload: nothing is written under key
		w.Close()
		return b.wrap(d, err)
	}
	if err := w.Close(); err != nil {
		return b.wrap(d, err)
	}
	return nil
}

type writer struct {
	b    *Blobs
	f    *os.File
	h    hash.Hash
	n    int64
	done bool
}

func (w *writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

func (w *writer) Commit() (store.Digest, int64, error) {
	if w.done {
		return "", 0, errors.New("blob store: blob already committed or aborted")
	}
	w.done = true
	defer os.Remove(w.f.Name())
	if err := w.f.Close(); err != nil {
		return "", 0, err
	}
	d := store.Digest("sha256:" + hex.EncodeToString(w.h.Sum(nil)))
	if err := w.b.upload(d, w.f.Name()); err != nil {
		return "", 0, err
	}
	return d, w.n, nil
}

func (w *writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	return os.Remove(w.f.Name())
}

// Copy copies blob d from one store to another unless the destination has
// it, streaming, and checks that the bytes hash to d.
func Copy(dst, src store.BlobStore, d store.Digest) error {
	if ok, err := dst.Has(d); err != nil {
		return err
	} else if ok {
		return nil
	}
	r, err := src.Open(d)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := dst.Create()
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		return fmt.Errorf("copying blob %s: %w", d, err)
	}
	got, _, err := w.Commit()
	if err != nil {
		return err
	}
	if got != d {
		return fmt.Errorf("copying blob %s: the bytes read hash to %s", d, got)
	}
	return nil
}

// Objects outside the content-addressed space are small named records
// that several processes must find without being told their names: a
// running stage's memo chunks, found by a retried attempt on another
// machine and by the coordinator under the stage key's prefix. Names are
// relative to the store's prefix and must not start with "sha256/".

func objectName(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "sha256/") || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return "", fmt.Errorf("blob store: bad object name %q", name)
	}
	return name, nil
}

// WriteObject writes data under name in one atomic write.
func (b *Blobs) WriteObject(ctx context.Context, name string, data []byte) error {
	key, err := objectName(name)
	if err != nil {
		return err
	}
	if err := b.bucket.WriteAll(ctx, key, data, &blob.WriterOptions{ContentType: "application/octet-stream"}); err != nil {
		return &Error{URL: b.url, Object: name, Err: err}
	}
	return nil
}

// ReadObject reads the object name.
func (b *Blobs) ReadObject(ctx context.Context, name string) ([]byte, error) {
	key, err := objectName(name)
	if err != nil {
		return nil, err
	}
	data, err := b.bucket.ReadAll(ctx, key)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			err = store.ErrNotFound
		}
		return nil, &Error{URL: b.url, Object: name, Err: err}
	}
	return data, nil
}

// ListObjects returns the names of the objects under prefix, sorted.
func (b *Blobs) ListObjects(ctx context.Context, prefix string) ([]string, error) {
	if _, err := objectName(prefix); err != nil {
		return nil, err
	}
	var names []string
	it := b.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &Error{URL: b.url, Object: prefix, Err: err}
		}
		if !obj.IsDir && !(b.file && isFileblobTemp(obj.Key)) {
			names = append(names, obj.Key)
		}
	}
	sort.Strings(names)
	return names, nil
}

// isFileblobTemp reports whether key is one of fileblob's temp files: with
// no_tmp_dir it writes an object to "<key>.<hex nanoseconds>.tmp" beside
// it and renames it when done, and its List shows the temp file meanwhile
// (another worker's memo chunk being written, read as a chunk, failed a
// distributed run once).
func isFileblobTemp(key string) bool {
	rest, ok := strings.CutSuffix(key, ".tmp")
	if !ok {
		return false
	}
	dot := strings.LastIndexByte(rest, '.')
	if dot < 0 || dot == len(rest)-1 {
		return false
	}
	for _, c := range rest[dot+1:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// DeleteObject deletes the object name; a missing one is not an error.
func (b *Blobs) DeleteObject(ctx context.Context, name string) error {
	key, err := objectName(name)
	if err != nil {
		return err
	}
	if err := b.bucket.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return &Error{URL: b.url, Object: name, Err: err}
	}
	return nil
}
