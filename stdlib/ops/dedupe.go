package ops

import (
	"context"
	"math"
	"runtime"
	"strings"
	"sync"
	"unicode"

	"github.com/cespare/xxhash/v2"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	ouro "github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/dataset"
	"github.com/ouroloop/ouro/stdlib/params"
)

// Dedupe removes exact duplicates (by key, or the whole record) or
// near-duplicates (MinHash/LSH over word shingles). The first record of
// each duplicate cluster is kept, in input order.
type Dedupe struct{}

func (Dedupe) Name() string { return "dedupe" }
func (Dedupe) Version() int { return 1 }

func (Dedupe) Run(ctx context.Context, x *ouro.Exec) (cty.Value, error) {
	in, err := inputSchema(x, "input")
	if err != nil {
		return cty.NilVal, err
	}
	if params.String(x, "method", "exact") == "minhash" {
		return minhashDedupe(ctx, x, in)
	}
	// Exact: a 128-bit hash (two independent 64-bit xxhashes) of the
	// record's canonical line, of the key field's canonical bytes when the
	// key is a field (item.name), or else of the key value's encoding
	// (appendKey); a collision needs ~2^64 distinct keys. Equal canonical
	// bytes are equal values, so each way groups exactly as appendKey
	// does. Records pass through as their lines, never re-encoded.
	e, byKey := x.Items["key"]
	field := ""
	if byKey {
		if t, diags := hcl.AbsTraversalForExpr(e.Expr); !diags.HasErrors() && len(t) == 2 && t.RootName() == "item" {
			if a, ok := t[1].(hcl.TraverseAttr); ok && in.HasAttribute(a.Name) {
				field = a.Name
			}
		}
	}
	only := map[string]bool{}
	if byKey && field == "" {
		only = itemFields(x, in, "key")
	}
	r, c, err := x.Open("input")
	if err != nil {
		return cty.NilVal, err
	}
	defer c.Close()
	raw := in.WithoutOptionalAttributesDeep().Equals(r.RecordType())
	size := 1024
	if ref, err := x.Dataset("input"); err == nil && ref.Count > int64(size) {
		size = int(min(ref.Count, 1<<24)) // no rehashing as it fills
	}
	seen := make(map[[2]uint64]struct{}, size)
	var dropped int64
	var buf []byte
	h2 := xxhash.New()
	v, err := writeDataset(x, in, func(w *dataset.Writer) error {
		return eachLine(ctx, x, "input", r, func(n int64, line []byte) error {
			var rec cty.Value // decoded when needed
			full := false
			decode := func(only map[string]bool) error {
				var err error
				full = only == nil
				rec, err = r.DecodeLine(line, n, only)
				if err != nil {
					return inputError(x, "input", err)
				}
				return nil
			}
			var key []byte
			switch {
			case !byKey:
				key = line
			case field != "":
				var ok bool
				if key, ok = dataset.FieldBytes(line, field); !ok {
					if err := decode(nil); err != nil {
						return err
					}
					var err error
					if buf, err = dataset.AppendCanonical(buf[:0], rec.GetAttr(field)); err != nil {
						return recordError(x, n, err)
					}
					key = buf
				}
			default:
				if err := decode(only); err != nil {
					return err
				}
				k, err := item(x, "key", rec, cty.DynamicPseudoType)
				if err != nil {
					return recordError(x, n, err)
				}
				buf = appendKey(buf[:0], k)
				key = buf
			}
			h := [2]uint64{xxhash.Sum64(key), hash2(h2, key)}
			if _, dup := seen[h]; dup {
				dropped++
				return nil
			}
			seen[h] = struct{}{}
			var err error
			if raw {
				err = w.WriteRaw(line)
			} else {
				if !full {
					if err := decode(nil); err != nil {
						return err
					}
				}
				err = w.Write(rec)
			}
			if err != nil {
				return recordError(x, n, err)
			}
			return nil
		})
	})
	if err == nil {
		x.Count("dropped", dropped)
	}
	return v, err
}

// hash2 is a second 64-bit hash, independent of xxhash.Sum64(b), computed
// with d (reset here).
func hash2(d *xxhash.Digest, b []byte) uint64 {
	d.Reset()
	d.Write([]byte{0x9e, 0x37})
	d.Write(b)
	return d.Sum64()
}

// MinHash near-duplicate detection.
//
// Each text is lower-cased and split into words (runs of letters and
// digits); its shingles are the runs of `shingle` consecutive words (the
// whole text when shorter). Each shingle hashes once (xxhash); permutation
// i maps a hash h to a_i·h + b_i (mod 2^64, a_i odd, fixed seeds) and the
// signature keeps the minimum per permutation. LSH splits the signature into
// b bands of r rows, choosing b·r ≤ permutations so that the S-curve's
// threshold (1/b)^(1/r) is just below `threshold`. Records that share a band
// with an earlier kept record are compared on their signatures: an estimated
// Jaccard similarity ≥ threshold makes the later one a duplicate. A record
// is compared only with kept records, so the output is deterministic and
// does not depend on batch sizes or worker count.

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

// signature computes the MinHash signature of text into sig.
func (m *minhasher) signature(text string, sig []uint64, hashes []uint64) []uint64 {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	hashes = hashes[:0]
	k := m.shingle
	if len(words) <= k {
		if len(words) > 0 {
			hashes = append(hashes, xxhash.Sum64String(strings.Join(words, " ")))
		}
	} else {
		d := xxhash.New()
		for i := 0; i+k <= len(words); i++ {
			d.Reset()
			for j := i; j < i+k; j++ {
				d.WriteString(words[j])
				d.Write([]byte{' '})
			}
			hashes = append(hashes, d.Sum64())
		}
	}
	for i := range sig {
		sig[i] = math.MaxUint64
	}
	for _, h := range hashes {
		for i := range sig {
			if v := m.a[i]*h + m.b[i]; v < sig[i] {
				sig[i] = v
			}
		}
	}
	return hashes
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

func minhashDedupe(ctx context.Context, x *ouro.Exec, in cty.Type) (cty.Value, error) {
	if _, ok := x.Items["text"]; !ok {
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
	mh := newMinhasher(int(perms), int(sh))
	nb, nr := bands(int(perms), th)
	buckets := make([]map[uint64][]int32, nb)
	for i := range buckets {
		buckets[i] = map[uint64][]int32{}
	}
	var kept [][]uint64 // signatures of kept records
	var dropped int64
	need := int(math.Ceil(th*float64(perms) - 1e-9))

	type doc struct {
		rec cty.Value
		sig []uint64
		err error
	}
	workers := runtime.GOMAXPROCS(0)
	v, err := x.WriteDataset(in, func(write func(cty.Value) error) error {
		batch := make([]doc, 0, 512)
		var first int64 = 1
		flush := func() error {
			// signatures in parallel, then LSH in order
			var wg sync.WaitGroup
			per := (len(batch) + workers - 1) / workers
			for w := 0; w < workers; w++ {
				lo, hi := w*per, min((w+1)*per, len(batch))
				if lo >= hi {
					break
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					var hashes []uint64
					for i := lo; i < hi; i++ {
						t, err := item(x, "text", batch[i].rec, cty.String)
						if err != nil {
							batch[i].err = recordError(x, first+int64(i), err)
							continue
						}
						s := ""
						if !t.IsNull() {
							s = t.AsString()
						}
						batch[i].sig = make([]uint64, perms)
						hashes = mh.signature(s, batch[i].sig, hashes)
					}
				}()
			}
			wg.Wait()
			for i := range batch {
				d := &batch[i]
				if d.err != nil {
					return d.err
				}
				dup := false
				keys := make([]uint64, nb)
				for bi := 0; bi < nb && !dup; bi++ {
					keys[bi] = bandHash(d.sig[bi*nr : (bi+1)*nr])
					for _, j := range buckets[bi][keys[bi]] {
						if similar(kept[j], d.sig, need) {
							dup = true
							break
						}
					}
				}
				if dup {
					dropped++
					continue
				}
				id := int32(len(kept))
				kept = append(kept, d.sig)
				for bi := 0; bi < nb; bi++ {
					buckets[bi][keys[bi]] = append(buckets[bi][keys[bi]], id)
				}
				if err := write(d.rec); err != nil {
					return recordError(x, first+int64(i), err)
				}
			}
			first += int64(len(batch))
			batch = batch[:0]
			return nil
		}
		err := each(ctx, x, "input", func(n int64, rec cty.Value) error {
			batch = append(batch, doc{rec: rec})
			if len(batch) == cap(batch) {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
		return flush()
	})
	if err == nil {
		x.Count("dropped", dropped)
	}
	return v, err
}

func bandHash(rows []uint64) uint64 {
	var b [8]byte
	d := xxhash.New()
	for _, r := range rows {
		for i := range b {
			b[i] = byte(r >> (8 * i))
		}
		d.Write(b[:])
	}
	return d.Sum64()
}

// similar reports whether two signatures agree on at least need positions.
func similar(a, b []uint64, need int) bool {
	agree := 0
	for i := range a {
		if a[i] == b[i] {
			agree++
		}
	}
	return agree >= need
}
