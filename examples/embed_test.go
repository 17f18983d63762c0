package examples

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path"
	"testing"
)

// TestGeneratedMatchesCommitted: every generated file is, byte for byte,
// the committed file it stands in for (compared by SHA-256, streaming),
// and none is embedded as well.
func TestGeneratedMatchesCommitted(t *testing.T) {
	dirs, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		for _, g := range Generated(d.Name()) {
			n++
			p := path.Join(d.Name(), g.Path)
			if _, err := fs.Stat(FS, p); err == nil {
				t.Errorf("%s is both embedded and generated", p)
			}
			h := sha256.New()
			if err := g.Write(h); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			got := hex.EncodeToString(h.Sum(nil))
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			h.Reset()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if want := hex.EncodeToString(h.Sum(nil)); got != want {
				t.Errorf("%s: generated sha256 %s, committed %s (run its gendata.go, or undo the generator change)", p, got, want)
			}
		}
	}
	if n == 0 {
		t.Fatal("no generated files")
	}
}
