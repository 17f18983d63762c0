package ops

import (
	"context"
	"errors"
	"runtime"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	ouro "github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/dataset"
)

// rowFunc computes the output of one input record: the record to write
// and whether to keep it.
type rowFunc func(n int64, rec cty.Value) (cty.Value, bool, error)

// streamOpts tunes stream.
type streamOpts struct {
	// only, when not nil, decodes just these fields of each record: fn
	// sees an object of them alone (see itemFields).
	only map[string]bool
	// raw writes each kept input record as it is (its canonical line is
	// copied, not re-encoded); fn's value is ignored. For operators whose
	// output records are their input records (filter).
	raw bool
	// line, when set, is tried first for each record (decoded as only
	// says): it appends the output record's canonical line to dst (ok
	// true), or declines (ok false) and fn then runs on the whole record.
	line func(n int64, rec cty.Value, line, dst []byte) (out []byte, keep, ok bool, err error)
	// fast, when set, is called once per worker for a function that is
	// tried first on each record's canonical line, before anything is
	// decoded (see runtime/lineexpr): it appends the output line to dst
	// (nothing when raw) and says whether to keep the record, or declines
	// (ok false) and the paths above run.
	fast func() func(line, dst []byte) (out []byte, keep, ok bool)
}

const batchSize = 256

type batch struct {
	first int64
	buf   []byte // the batch's lines, back to back
	ends  []int  // ends[i] is the end of line i in buf
	recs  []cty.Value
	keep  []bool
	obuf  []byte // output lines made by streamOpts.line
	oends []int  // oends[i] > 0: record i's output is obuf[ostart(i):oends[i]]
	err   error
}

func (b *batch) line(i int) []byte {
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.buf[start:b.ends[i]]
}

// stream runs fn over the records of dataset parameter name and writes the
// kept results, in input order, to a new dataset of schema out. One
// goroutine reads the canonical lines, GOMAXPROCS workers decode them and
// run fn over batches, and results are written in order: memory is
// bounded by a few batches.
func stream(ctx context.Context, x *ouro.Exec, name string, out cty.Type, o streamOpts, fn rowFunc) (cty.Value, error) {
	workers := runtime.GOMAXPROCS(0)
	r, c, err := x.Open(name)
	if err != nil {
		return cty.NilVal, err
	}
	defer c.Close()
	if o.raw && !out.WithoutOptionalAttributesDeep().Equals(r.RecordType()) {
		o = streamOpts{} // the lines would not fit the output schema
	}
	return writeDataset(x, out, func(w *dataset.Writer) error {
		size := 16 << 10
		newBatch := func(first int64) *batch {
			return &batch{first: first, buf: make([]byte, 0, size), ends: make([]int, 0, batchSize)}
		}
		produce := func(emit func(*batch) bool) error {
			b := newBatch(1)
			err := eachLine(ctx, x, name, r, func(n int64, line []byte) error {
				b.buf = append(b.buf, line...)
				b.ends = append(b.ends, len(b.buf))
				if len(b.ends) == batchSize {
					size = max(size, len(b.buf)+len(b.buf)/8)
					if !emit(b) {
						return errStopped
					}
					b = newBatch(n + 1)
				}
				return nil
			})
			if err == nil && len(b.ends) > 0 {
				emit(b)
			}
			return err
		}
		newWorker := func() func(*batch) {
			var fast func(line, dst []byte) ([]byte, bool, bool)
			if o.fast != nil {
				fast = o.fast()
			}
			return func(b *batch) {
				b.keep = make([]bool, len(b.ends))
				if !o.raw {
					b.recs = make([]cty.Value, len(b.ends))
				}
				if o.line != nil || (fast != nil && !o.raw) {
					b.oends = make([]int, len(b.ends))
					b.obuf = make([]byte, 0, len(b.buf)+len(b.buf)/4)
				}
				for i := range b.ends {
					n := b.first + int64(i)
					if fast != nil {
						start := len(b.obuf)
						out, keep, ok := fast(b.line(i), b.obuf)
						if ok {
							b.keep[i] = keep
							if !o.raw {
								b.obuf = out
								if len(out) == start {
									b.keep[i] = false
								}
								b.oends[i] = len(out)
							}
							continue
						}
						b.obuf = b.obuf[:start]
					}
					rec, err := r.DecodeLine(b.line(i), n, o.only)
					if err != nil {
						b.err = inputError(x, name, err)
						break
					}
					if o.line != nil {
						start := len(b.obuf)
						out, keep, ok, err := o.line(n, rec, b.line(i), b.obuf)
						if err != nil {
							b.err = err
							break
						}
						if ok {
							b.obuf, b.keep[i] = out, keep
							if len(out) == start { // an empty line cannot be a record; mark it
								b.keep[i] = false
							}
							b.oends[i] = len(out)
							continue
						}
						b.obuf = b.obuf[:start]
						if o.only != nil {
							if rec, err = r.DecodeLine(b.line(i), n, nil); err != nil {
								b.err = inputError(x, name, err)
								break
							}
						}
					}
					v, keep, err := fn(n, rec)
					if err != nil {
						b.err = err
						break
					}
					b.keep[i] = keep
					if !o.raw {
						if v == (cty.Value{}) {
							v = rec
						}
						b.recs[i] = v
					}
				}
			}
		}
		consume := func(b *batch) error {
			if b.err != nil {
				return b.err
			}
			for i, keep := range b.keep {
				if !keep {
					continue
				}
				var err error
				switch {
				case o.raw:
					err = w.WriteRaw(b.line(i))
				case b.oends != nil && b.oends[i] > 0:
					start := 0
					for j := i - 1; j >= 0; j-- {
						if b.oends[j] > 0 {
							start = b.oends[j]
							break
						}
					}
					err = w.WriteRaw(b.obuf[start:b.oends[i]])
				default:
					err = w.Write(b.recs[i])
				}
				if err != nil {
					return recordError(x, b.first+int64(i), err)
				}
			}
			return nil
		}
		return inOrder(ctx, workers, produce, newWorker, consume)
	})
}

// errStopped ends a producer whose batches are no longer wanted (inOrder
// has stopped); inOrder then reports its own reason.
var errStopped = errors.New("stopped")

// inOrder is the pipeline of stream and of the JSONL source: produce hands
// out batches in order on a goroutine of its own, `workers` goroutines each
// made by newWorker process them, and consume sees every batch, in the
// order produced, once its work is done. It returns consume's first error,
// else produce's, else ctx's. Memory is bounded by a few batches per
// worker.
func inOrder[B any](ctx context.Context, workers int, produce func(emit func(B) bool) error, newWorker func() func(B), consume func(B) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type item struct {
		b    B
		done chan struct{}
	}
	jobs := make(chan *item, workers*2)
	ordered := make(chan *item, workers*4)
	var produceErr error
	go func() {
		defer close(jobs)
		defer close(ordered)
		produceErr = produce(func(b B) bool {
			it := &item{b: b, done: make(chan struct{})}
			select {
			case ordered <- it:
			case <-ctx.Done():
				return false
			}
			select {
			case jobs <- it:
			case <-ctx.Done():
				return false
			}
			return true
		})
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work := newWorker()
			for it := range jobs {
				work(it.b)
				close(it.done)
			}
		}()
	}
	defer wg.Wait()
	for it := range ordered {
		select {
		case <-it.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := consume(it.b); err != nil {
			cancel()
			return err
		}
	}
	// ordered is closed: produce has returned.
	if produceErr != nil && produceErr != errStopped {
		return produceErr
	}
	return ctx.Err()
}

// itemFields returns the top-level record fields that the per-item
// parameters names read, or nil when one of them uses the record as a
// whole (or a field the schema does not have): then the whole record must
// be decoded.
func itemFields(x *ouro.Exec, schema cty.Type, names ...string) map[string]bool {
	only := map[string]bool{}
	for _, name := range names {
		e, ok := x.Items[name]
		if !ok {
			continue
		}
		for _, t := range e.Expr.Variables() {
			if t.RootName() != "item" {
				continue
			}
			if len(t) < 2 {
				return nil
			}
			var field string
			switch s := t[1].(type) {
			case hcl.TraverseAttr:
				field = s.Name
			case hcl.TraverseIndex:
				if s.Key.IsNull() || !s.Key.IsKnown() || s.Key.Type() != cty.String {
					return nil
				}
				field = s.Key.AsString()
			default:
				return nil
			}
			if !schema.IsObjectType() || !schema.HasAttribute(field) {
				return nil
			}
			only[field] = true
		}
	}
	return only
}
