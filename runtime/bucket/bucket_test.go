package bucket

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ouroloop/ouro/runtime/store"
)

func stores(t *testing.T) map[string]*Blobs {
	t.Helper()
	out := map[string]*Blobs{}
	for name, url := range map[string]string{
		"mem":  "mem://",
		"file": "file://" + filepath.ToSlash(t.TempDir()),
		"path": filepath.Join(t.TempDir(), "plain", "dir"),
	} {
		b, err := Open(context.Background(), url, t.TempDir())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { b.Close() })
		out[name] = b
	}
	return out
}

func TestBlobRoundTrip(t *testing.T) {
	for name, b := range stores(t) {
		t.Run(name, func(t *testing.T) {
			if err := b.Check(context.Background()); err != nil {
				t.Fatal(err)
			}
			d, err := store.PutBytes(b, []byte("hello blobs"))
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := b.Has(d); err != nil || !ok {
				t.Fatalf("Has = %v, %v", ok, err)
			}
			if n, err := b.Stat(d); err != nil || n != 11 {
				t.Fatalf("Stat = %d, %v", n, err)
			}
			rc, err := b.Open(d)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if string(got) != "hello blobs" {
				t.Fatalf("read %q", got)
			}
			// The same bytes again: same digest, no error.
			if d2, err := store.PutBytes(b, []byte("hello blobs")); err != nil || d2 != d {
				t.Fatalf("second put: %s %v", d2, err)
			}
			missing := store.Digest("sha256:" + strings.Repeat("0", 64))
			if ok, err := b.Has(missing); err != nil || ok {
				t.Fatalf("Has(missing) = %v, %v", ok, err)
			}
			_, err = b.Open(missing)
			var be *Error
			if !errors.Is(err, store.ErrNotFound) || !errors.As(err, &be) {
				t.Fatalf("Open(missing) = %v, want a *bucket.Error wrapping ErrNotFound", err)
			}
			// An aborted blob leaves nothing behind.
			w, _ := b.Create()
			w.Write([]byte("never"))
			if err := w.Abort(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFileLayoutMatchesLocalStore(t *testing.T) {
	dir := t.TempDir()
	b, err := Open(context.Background(), "file://"+dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	d, err := store.PutBytes(b, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	h := d.Hex()
	if _, err := os.Stat(filepath.Join(dir, "sha256", h[:2], h)); err != nil {
		t.Fatalf("blob not at sha256/ab/<hex>: %v", err)
	}
}

func TestCopyBetweenStores(t *testing.T) {
	s := stores(t)
	src, dst := s["mem"], s["file"]
	d, err := store.PutBytes(src, []byte("copied"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Copy(dst, src, d); err != nil {
		t.Fatal(err)
	}
	if ok, _ := dst.Has(d); !ok {
		t.Fatal("not copied")
	}
	if err := Copy(dst, src, store.Digest("sha256:"+strings.Repeat("1", 64))); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("copying a missing blob: %v", err)
	}
}

func TestObjects(t *testing.T) {
	ctx := context.Background()
	for name, b := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, n := range []string{"memo/k1/b", "memo/k1/a", "memo/k2/a"} {
				if err := b.WriteObject(ctx, n, []byte(n)); err != nil {
					t.Fatal(err)
				}
			}
			names, err := b.ListObjects(ctx, "memo/k1/")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(names, ",") != "memo/k1/a,memo/k1/b" {
				t.Fatalf("listed %v", names)
			}
			got, err := b.ReadObject(ctx, "memo/k1/a")
			if err != nil || string(got) != "memo/k1/a" {
				t.Fatalf("read %q %v", got, err)
			}
			if err := b.DeleteObject(ctx, "memo/k1/a"); err != nil {
				t.Fatal(err)
			}
			if err := b.DeleteObject(ctx, "memo/k1/a"); err != nil {
				t.Fatalf("deleting twice: %v", err)
			}
			if _, err := b.ReadObject(ctx, "memo/k1/a"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("read deleted: %v", err)
			}
			for _, bad := range []string{"", "sha256/ab/cd", "/abs", "memo/../x"} {
				if err := b.WriteObject(ctx, bad, nil); err == nil {
					t.Errorf("WriteObject(%q) accepted", bad)
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"gs://bucket", `unsupported scheme "gs"`},
		{"file://", "needs a directory"},
		{"s3://bucket?bogus_option=1", "bogus_option"},
	} {
		_, err := Open(context.Background(), tc.url, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", tc.url, err, tc.want)
		}
	}
}

func TestCheckReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes into read-only directories")
	}
	dir := t.TempDir()
	b, err := Open(context.Background(), dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	os.Chmod(dir, 0o555)
	defer os.Chmod(dir, 0o755)
	if err := b.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "not writable") {
		t.Fatalf("Check on a read-only directory: %v", err)
	}
}

// TestListSkipsFileblobTemps: an object being written to a file:// store
// (fileblob's "<key>.<hex>.tmp" beside its final name) is not listed.
func TestListSkipsFileblobTemps(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := Open(ctx, "file://"+filepath.ToSlash(dir), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.WriteObject(ctx, "memo/k1/a", []byte("a")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"b.18ef26f441f480e9.tmp", "c.tmp", "d.x1.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, "memo", "k1", name), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	names, err := b.ListObjects(ctx, "memo/k1/")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names, ","); got != "memo/k1/a,memo/k1/c.tmp,memo/k1/d.x1.tmp" {
		t.Fatalf("listed %s, want the temp file b.….tmp left out", got)
	}
}
