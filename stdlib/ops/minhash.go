package ops

import (
	"context"
	"math"
	"runtime"
	"strings"
	"sync"
	"unicode"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/zclconf/go-cty/cty"

	ouro "github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/dataset"
	"github.com/ouroloop/ouro/runtime/lineexpr"
	"github.com/ouroloop/ouro/stdlib/params"
)

// MinHash near-duplicate detection.
//
// Each text is lower-cased and split into words (runs of letters and
// digits); its shingles are the runs of `shingle` consecutive words (the
// whole text when shorter). Each shingle hashes once: xxhash of its words,
// each followed by a space (no space after the last word when the whole
// text is one shingle). Permutation i maps a hash h to a_i·h + b_i (mod
// 2^64, a_i odd, fixed seeds) and the signature keeps the minimum per
// permutation. LSH splits the signature into b bands of r rows, choosing
// b·r ≤ permutations so that the S-curve's threshold (1/b)^(1/r) is just
// below `threshold`. Records that share a band with an earlier kept record
// are compared on their signatures: an estimated Jaccard similarity ≥
// threshold makes the later one a duplicate. A record is compared only
// with kept records, so the output is deterministic and does not depend on
// batch sizes or worker count.
//
// How it is computed, for speed (the result is the one the definition
// above gives, byte for byte the output of the implementation before
// 2026-12-07: TestMinhashSignatureReference compares signatures with the
// plain strings.ToLower, strings.FieldsFunc and joined shingles, and
// TestDedupeMinhashKeptSet pins kept records; docs/decisions.md, "MinHash
// dedupe"):
//
//   - The words of a text are written once, lower-cased, into a reused
//     buffer with one space after each; a shingle is then a slice of that
//     buffer, hashed without building a string. ASCII text is lower-cased
//     and split with a byte table; other text goes through
//     strings.ToLower and unicode.IsLetter/IsDigit as before.
//   - The minima are computed permutation-major: with AVX-512 (F and DQ,
//     minhash_amd64.s) eight permutations to a register, 32 per pass over
//     the text's shingle hashes; otherwise (or with OURO_OPS_NOASM=1) in
//     Go, four permutations at a time, branch-free min. Both are the same
//     integer arithmetic as the definition.
//   - Texts are read from the canonical lines (runtime/lineexpr evaluates
//     `text` on the line when it can, else the record is decoded and HCL
//     evaluates it); kept records are copied as their lines. Signatures are
//     computed on all cores into one slab per batch of lines, LSH runs in
//     input order on one goroutine, with each signature's band keys
//     computed beside it by the workers.
//   - The LSH index (lshIndex) is one open-addressing table of 8-byte
//     (band key bits, record id) slots for all bands, and kept signatures
//     sit back to back in chunks: no allocation per record. Two records
//     share a band when their rows of it are equal (compared exactly;
//     before, when 64-bit hashes of the rows were).

type minhasher struct {
	shingle int
	a, b    []uint64
}

func newMinhasher(perms, shingle int) *minhasher {
	m := &minhasher{shingle: shingle, a: make([]uint64, perms), b: make([]uint64, perms)}
	s := uint64(0x853c49e6748fea9b)
	next := func() uint64 { // splitmix64
		s += 0x9e3779b97f4a7c15
		z := s
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	for i := range m.a {
		m.a[i] = next() | 1
		m.b[i] = next()
	}
	return m
}

// sigScratch is one goroutine's reused memory for signature.
type sigScratch struct {
	words  []byte   // the words, lower-cased, each followed by a space
	starts []int    // where each word starts in words
	hashes []uint64 // shingle hashes
}

// wordByte maps an ASCII byte to itself lower-cased when it is a letter
// or digit, and to 0 when it separates words.
var wordByte = func() (t [128]byte) {
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c)
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = byte(c)
		t[c-'a'+'A'] = byte(c)
	}
	return t
}()

// signature computes the MinHash signature of text into sig.
func (m *minhasher) signature(text string, sig []uint64, s *sigScratch) {
	words, starts := s.words[:0], s.starts[:0]
	ascii := true
	for i := 0; i < len(text); i++ {
		if text[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		in := false
		for i := 0; i < len(text); i++ {
			c := wordByte[text[i]&0x7f]
			if c == 0 {
				if in {
					words = append(words, ' ')
					in = false
				}
				continue
			}
			if !in {
				starts = append(starts, len(words))
				in = true
			}
			words = append(words, c)
		}
		if in {
			words = append(words, ' ')
		}
	} else {
		lower := strings.ToLower(text)
		start := -1
		for i, r := range lower {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				if start < 0 {
					start = i
				}
				continue
			}
			if start >= 0 {
				starts = append(starts, len(words))
				words = append(append(words, lower[start:i]...), ' ')
				start = -1
			}
		}
		if start >= 0 {
			starts = append(starts, len(words))
			words = append(append(words, lower[start:]...), ' ')
		}
	}
	hashes := s.hashes[:0]
	k, n := m.shingle, len(starts)
	switch {
	case n == 0:
	case n <= k:
		hashes = append(hashes, xxhash.Sum64(words[:len(words)-1]))
	default:
		for i := 0; i+k <= n; i++ {
			end := len(words)
			if i+k < n {
				end = starts[i+k]
			}
			hashes = append(hashes, xxhash.Sum64(words[starts[i]:end]))
		}
	}
	s.words, s.starts, s.hashes = words, starts, hashes
	m.mins(sig, hashes)
}

// mins sets sig[i] to the minimum of a_i·h + b_i over hashes (MaxUint64
// when there are none).
func (m *minhasher) mins(sig, hashes []uint64) {
	a, b := m.a[:len(sig)], m.b[:len(sig)]
	i := 0
	if useAVX512 && len(sig) >= 8 && len(hashes) > 0 {
		i = len(sig) &^ 7
		minsAVX512(&a[0], &b[0], &hashes[0], &sig[0], i, len(hashes))
	}
	for ; i+4 <= len(sig); i += 4 {
		a0, a1, a2, a3 := a[i], a[i+1], a[i+2], a[i+3]
		b0, b1, b2, b3 := b[i], b[i+1], b[i+2], b[i+3]
		m0, m1, m2, m3 := uint64(math.MaxUint64), uint64(math.MaxUint64), uint64(math.MaxUint64), uint64(math.MaxUint64)
		for _, h := range hashes {
			m0 = min(m0, a0*h+b0)
			m1 = min(m1, a1*h+b1)
			m2 = min(m2, a2*h+b2)
			m3 = min(m3, a3*h+b3)
		}
		sig[i], sig[i+1], sig[i+2], sig[i+3] = m0, m1, m2, m3
	}
	for ; i < len(sig); i++ {
		v := uint64(math.MaxUint64)
		for _, h := range hashes {
			v = min(v, a[i]*h+b[i])
		}
		sig[i] = v
	}
}

// bands picks the LSH band count b and rows r for a threshold.
func bands(perms int, threshold float64) (b, r int) {
	bestB, bestR, best := 1, perms, math.Inf(1)
	for r := 1; r <= perms; r++ {
		b := perms / r
		if b == 0 {
			break
		}
		t := math.Pow(1/float64(b), 1/float64(r))
		// prefer the threshold just below the wanted one (few false negatives)
		d := threshold - t
		if d < 0 {
			d = -d * 4
		}
		if d < best {
			bestB, bestR, best = b, r, d
		}
	}
	return bestB, bestR
}

// lshIndex holds the kept signatures and, for each band of each, a slot in
// one open-addressing table (linear probing) for all bands: the band's key
// (bandKey, which includes the band number) chooses the home slot, and the
// slot holds the key's top 32 bits and the record's id + 1 (0 is empty).
// Several kept records may have the same band; a lookup visits every slot
// of its run, and a slot whose 32 bits match is a candidate when its
// record's rows of the band equal the signature's (compared exactly). A
// slot is 8 bytes so that the table, whose lookups miss the cache, is
// small; lookups of all bands are started together (dup).
type lshIndex struct {
	perms, nb, nr, need int
	chunks              [][]uint64 // kept signatures, back to back, sigChunk to a chunk
	kept                int
	slots               []uint64
	used                int
	home                []uint64 // scratch: the home slot of each band
}

// sigChunk is the number of signatures per chunk of lshIndex.chunks (so
// keeping one never copies the others).
const sigChunk = 1024

// sig is kept signature id.
func (x *lshIndex) sig(id int) []uint64 {
	off := id % sigChunk * x.perms
	return x.chunks[id/sigChunk][off : off+x.perms]
}

func newLSHIndex(perms, nb, nr, need int, expect int64) *lshIndex {
	size := 1 << 10
	for int64(size) < 2*expect*int64(nb) && size < 1<<22 {
		size <<= 1
	}
	return &lshIndex{perms: perms, nb: nb, nr: nr, need: need, slots: make([]uint64, size), home: make([]uint64, nb)}
}

// bandKeys sets keys[b] to the key of band b of sig (nb bands of nr rows):
// the rows, already uniform, combined by multiply-xor with a seed per band,
// then murmur3's finaliser.
func bandKeys(keys, sig []uint64, nr int) {
	for b := range keys {
		h := uint64(b+1) * 0x9e3779b97f4a7c15
		for _, r := range sig[b*nr : (b+1)*nr] {
			h = (h ^ r) * 0xbf58476d1ce4e5b9
			h ^= h >> 31
		}
		h ^= h >> 33
		h *= 0xff51afd7ed558ccd
		h ^= h >> 33
		h *= 0xc4ceb9fe1a85ec53
		h ^= h >> 33
		keys[b] = h
	}
}

// dup reports whether sig, whose band keys are keys (bandKeys), shares a
// band with a kept signature that agrees with it on at least need
// positions.
func (x *lshIndex) dup(sig, keys []uint64) bool {
	mask := uint64(len(x.slots) - 1)
	keys, home := keys[:x.nb], x.home[:x.nb]
	// The home slots, loaded in a loop of independent loads so that their
	// cache misses overlap.
	for b, k := range keys {
		home[b] = x.slots[k&mask]
	}
	for b, k := range keys {
		if home[b] == 0 {
			continue
		}
		rows := sig[b*x.nr : (b+1)*x.nr]
		for i := k & mask; ; i = (i + 1) & mask {
			s := x.slots[i]
			if s == 0 {
				break
			}
			if s>>32 != k>>32 {
				continue
			}
			kept := x.sig(int(uint32(s)) - 1)
			if equal(kept[b*x.nr:(b+1)*x.nr], rows) && similar(kept, sig, x.need) {
				return true
			}
		}
	}
	return false
}

// add keeps sig, whose band keys are keys.
func (x *lshIndex) add(sig, keys []uint64) {
	if x.kept == math.MaxUint32-1 {
		panic("minhash: more than 2^32-2 kept records")
	}
	id := x.kept
	if id%sigChunk == 0 {
		x.chunks = append(x.chunks, make([]uint64, 0, sigChunk*x.perms))
	}
	c := &x.chunks[len(x.chunks)-1]
	*c = append(*c, sig...)
	x.kept++
	if 2*(x.used+x.nb) > len(x.slots) {
		x.slots = make([]uint64, 2*len(x.slots))
		old := make([]uint64, x.nb)
		for j := range id {
			bandKeys(old, x.sig(j), x.nr)
			for _, k := range old {
				x.put(k, j)
			}
		}
	}
	for _, k := range keys[:x.nb] {
		x.put(k, id)
	}
	x.used += x.nb
}

func (x *lshIndex) put(key uint64, id int) {
	mask := uint64(len(x.slots) - 1)
	i := key & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = key>>32<<32 | uint64(id+1)
}

func equal(a, b []uint64) bool {
	b = b[:len(a)]
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// similar reports whether two signatures agree on at least need positions.
func similar(a, b []uint64, need int) bool {
	b = b[:len(a)]
	agree := 0
	for i := range a {
		if a[i] == b[i] {
			agree++
		}
	}
	return agree >= need
}

// mhBatch is a batch of canonical lines and, once a worker is done, their
// signatures.
type mhBatch struct {
	first int64
	buf   []byte   // the lines, back to back
	ends  []int    // ends[i] is the end of line i in buf
	sigs  []uint64 // perms per line
	keys  []uint64 // band keys, nb per line
	err   error
}

func (b *mhBatch) line(i int) []byte {
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.buf[start:b.ends[i]]
}

func minhashDedupe(ctx context.Context, x *ouro.Exec, in cty.Type) (cty.Value, error) {
	e, ok := x.Items["text"]
	if !ok {
		return cty.NilVal, stageError(x, "method \"minhash\" needs text, e.g. text = item.instruction")
	}
	th, _ := params.Number(x, "threshold")
	sh, _, err := intParam(x, "shingle")
	if err != nil {
		return cty.NilVal, err
	}
	perms, _, err := intParam(x, "permutations")
	if err != nil {
		return cty.NilVal, err
	}
	if th <= 0 || th > 1 || sh < 1 || perms < 1 || perms > 4096 {
		return cty.NilVal, stageError(x, "minhash needs 0 < threshold ≤ 1, shingle ≥ 1 and 1 ≤ permutations ≤ 4096")
	}
	np := int(perms)
	mh := newMinhasher(np, int(sh))
	nb, nr := bands(np, th)
	var expect int64
	if ref, err := x.Dataset("input"); err == nil {
		expect = ref.Count
	}
	index := newLSHIndex(np, nb, nr, int(math.Ceil(th*float64(perms)-1e-9)), expect)

	lc := lineexpr.NewCompiler(e.Scope)
	prog, fast := lc.Compile(e.Expr)
	only := itemFields(x, in, "text")
	r, c, err := x.Open("input")
	if err != nil {
		return cty.NilVal, err
	}
	defer c.Close()
	raw := in.WithoutOptionalAttributesDeep().Equals(r.RecordType())

	pool := sync.Pool{New: func() any { return &mhBatch{} }}
	var dropped int64
	v, err := writeDataset(x, in, func(w *dataset.Writer) error {
		produce := func(emit func(*mhBatch) bool) error {
			next := func(first int64) *mhBatch {
				b := pool.Get().(*mhBatch)
				b.first, b.buf, b.ends, b.err = first, b.buf[:0], b.ends[:0], nil
				return b
			}
			b := next(1)
			err := eachLine(ctx, x, "input", r, func(n int64, line []byte) error {
				b.buf = append(b.buf, line...)
				b.ends = append(b.ends, len(b.buf))
				if len(b.ends) == batchSize {
					if !emit(b) {
						return errStopped
					}
					b = next(n + 1)
				}
				return nil
			})
			if err == nil && len(b.ends) > 0 {
				emit(b)
			}
			return err
		}
		newWorker := func() func(*mhBatch) {
			var ev *lineexpr.Evaluator
			if fast {
				ev = lc.NewEvaluator()
			}
			var s sigScratch
			return func(b *mhBatch) {
				if cap(b.sigs) < len(b.ends)*np {
					b.sigs = make([]uint64, batchSize*np)
					b.keys = make([]uint64, batchSize*nb)
				}
				b.sigs, b.keys = b.sigs[:len(b.ends)*np], b.keys[:len(b.ends)*nb]
				for i := range b.ends {
					line := b.line(i)
					text, ok := "", false
					if ev != nil {
						ev.Reset(line)
						if v, vok := ev.Eval(prog); vok {
							switch v.Kind {
							case lineexpr.String:
								text, ok = unsafe.String(unsafe.SliceData(v.Text), len(v.Text)), true
							case lineexpr.Null:
								ok = true
							}
						}
					}
					if !ok {
						n := b.first + int64(i)
						rec, err := r.DecodeLine(line, n, only)
						if err != nil {
							b.err = inputError(x, "input", err)
							return
						}
						t, err := item(x, "text", rec, cty.String)
						if err != nil {
							b.err = recordError(x, n, err)
							return
						}
						if !t.IsNull() {
							text = t.AsString()
						}
					}
					sig := b.sigs[i*np : (i+1)*np]
					mh.signature(text, sig, &s)
					bandKeys(b.keys[i*nb:(i+1)*nb], sig, nr)
				}
			}
		}
		consume := func(b *mhBatch) error {
			defer pool.Put(b)
			if b.err != nil {
				return b.err
			}
			for i := range b.ends {
				sig, keys := b.sigs[i*np:(i+1)*np], b.keys[i*nb:(i+1)*nb]
				if index.dup(sig, keys) {
					dropped++
					continue
				}
				index.add(sig, keys)
				n := b.first + int64(i)
				var err error
				if raw {
					err = w.WriteRaw(b.line(i))
				} else {
					rec, derr := r.DecodeLine(b.line(i), n, nil)
					if derr != nil {
						return inputError(x, "input", derr)
					}
					err = w.Write(rec)
				}
				if err != nil {
					return recordError(x, n, err)
				}
			}
			return nil
		}
		return inOrder(ctx, runtime.GOMAXPROCS(0), produce, newWorker, consume)
	})
	if err == nil {
		x.Count("dropped", dropped)
	}
	return v, err
}
