package ops

import (
	"context"

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
