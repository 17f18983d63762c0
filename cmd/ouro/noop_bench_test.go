package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ouroloop/ouro/bench/noop"
)

// BenchmarkNoopRerun is the in-process part of bench/noop/run.sh: a
// 1,000-stage spec that is fully cached, validated, and run.
//
//	go test ./cmd/ouro -run '^$' -bench NoopRerun -cpuprofile cpu.out
func BenchmarkNoopRerun(b *testing.B) {
	dir := b.TempDir()
	spec := filepath.Join(dir, "noop.loop.hcl")
	if err := os.WriteFile(spec, noop.Ouro(1000), 0o644); err != nil {
		b.Fatal(err)
	}
	if code := run([]string{"run", "--progress", "none", spec}, io.Discard, io.Discard); code != 0 {
		b.Fatalf("first run: exit %d", code)
	}
	b.Run("validate", func(b *testing.B) {
		for b.Loop() {
			if code := run([]string{"validate", spec}, io.Discard, io.Discard); code != 0 {
				b.Fatalf("exit %d", code)
			}
		}
	})
	// The second run found everything cached and left a no-op summary:
	// "run" is the fast path (noop.go); "run-full" checks every stage
	// (a --force naming no stage turns the fast path off and forces
	// nothing).
	b.Run("run", func(b *testing.B) {
		for b.Loop() {
			if code := run([]string{"run", "--progress", "none", spec}, io.Discard, io.Discard); code != 0 {
				b.Fatalf("exit %d", code)
			}
		}
	})
	b.Run("run-full", func(b *testing.B) {
		for b.Loop() {
			if code := run([]string{"run", "--progress", "none", "--force", "no-such-stage", spec}, io.Discard, io.Discard); code != 0 {
				b.Fatalf("exit %d", code)
			}
		}
	})
}

// BenchmarkNoopStoreOpenClose times opening and closing the store of the
// no-op benchmark after a run.
func BenchmarkNoopStoreOpenClose(b *testing.B) {
	dir := b.TempDir()
	spec := filepath.Join(dir, "noop.loop.hcl")
	if err := os.WriteFile(spec, noop.Ouro(1000), 0o644); err != nil {
		b.Fatal(err)
	}
	for range 3 {
		if code := run([]string{"run", "--progress", "none", spec}, io.Discard, io.Discard); code != 0 {
			b.Fatalf("first run: exit %d", code)
		}
	}
	sf := &storeFlags{}
	for b.Loop() {
		st, err := sf.open(spec, "bench")
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
