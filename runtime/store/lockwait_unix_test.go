//go:build unix

package store

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestOpenWaitsForAnInheritedIndexLock: with the store's own LOCK free, a
// brief holder of Badger's directory lock (what a child holds between fork
// and exec) does not fail Open; the open waits for it.
func TestOpenWaitsForAnInheritedIndexLock(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "index"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	}()
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open while the index lock was held for 200ms: %v", err)
	}
	s.Close()
}
