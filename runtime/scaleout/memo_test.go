package scaleout

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ouroloop/ouro/runtime/bucket"
	"github.com/ouroloop/ouro/stdlib"
)

func memBlobs(t *testing.T) *bucket.Blobs {
	t.Helper()
	b, err := bucket.Open(context.Background(), "mem://", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestChunkMemoOutlivesItsWriter: what one attempt flushed, the next
// attempt of the same stage reads; another stage's attempt does not.
func TestChunkMemoOutlivesItsWriter(t *testing.T) {
	ctx := context.Background()
	b := memBlobs(t)
	key := "sha256:" + strings.Repeat("ab", 32)
	first := newChunkMemo(b, key)
	for i := 0; i < 5; i++ {
		first.Put([]byte(fmt.Sprintf("req%d", i)), []byte(fmt.Sprintf("answer%d", i)))
		if i == 2 {
			if err := first.flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	first.Put([]byte("req0"), []byte("a different answer")) // first answer wins
	if err := first.flush(ctx); err != nil {
		t.Fatal(err)
	}
	first.Put([]byte("unflushed"), []byte("lost with the worker"))
	if first.chunks != 2 {
		t.Fatalf("%d chunks, want 2", first.chunks)
	}

	second := newChunkMemo(b, key)
	n, err := second.load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Fatalf("loaded %d entries, want 5", n)
	}
	for i := 0; i < 5; i++ {
		v, ok, _ := second.Get([]byte(fmt.Sprintf("req%d", i)))
		if !ok || string(v) != fmt.Sprintf("answer%d", i) {
			t.Errorf("req%d = %q %v", i, v, ok)
		}
	}
	if _, ok, _ := second.Get([]byte("unflushed")); ok {
		t.Error("an entry never flushed was found")
	}
	other := newChunkMemo(b, "sha256:"+strings.Repeat("cd", 32))
	if n, err := other.load(ctx); err != nil || n != 0 {
		t.Fatalf("another stage loaded %d entries (%v)", n, err)
	}
	// Flushing nothing writes nothing.
	if err := second.flush(ctx); err != nil || second.chunks != 0 {
		t.Fatalf("empty flush: %d chunks, %v", second.chunks, err)
	}
}

func TestReadChunkRejectsDamage(t *testing.T) {
	good := []byte(chunkMagic + "\x01k\x01v")
	if err := readChunk("c", good, func(k, v []byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"magic":     "ouro-memo-chunk/0\n\x01k\x01v",
		"truncated": chunkMagic + "\x01k\x05v",
		"no value":  chunkMagic + "\x01k",
		"huge":      chunkMagic + "\xff\xff\xff\xff\x0fk",
	} {
		if err := readChunk("c", []byte(data), func(k, v []byte) error { return nil }); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestNames(t *testing.T) {
	key := "sha256:" + strings.Repeat("0f", 32)
	if got := WorkflowID(key); got != "ouro-stage-"+strings.Repeat("0f", 32) {
		t.Errorf("WorkflowID = %s", got)
	}
	if got := TaskQueue("", "fp"); got != "default@fp" {
		t.Errorf("TaskQueue = %s", got)
	}
	if got := TaskQueue("gpu", "fp"); got != "gpu@fp" {
		t.Errorf("TaskQueue = %s", got)
	}
	if got := memoPrefix(key); got != "memo/"+strings.Repeat("0f", 32)+"/" {
		t.Errorf("memoPrefix = %s", got)
	}
}

// TestFingerprint: workers and coordinators of different ouro versions
// never share a task queue.
func TestFingerprint(t *testing.T) {
	lib := stdlib.NewLibrary()
	a, b := Fingerprint("v1", lib), Fingerprint("v1", lib)
	if a != b || len(a) != 12 {
		t.Fatalf("not stable: %s %s", a, b)
	}
	if c := Fingerprint("v2", lib); c == a {
		t.Fatalf("versions v1 and v2 share fingerprint %s", a)
	}
}
