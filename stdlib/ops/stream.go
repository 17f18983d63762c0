package ops

import (
	"context"
	"runtime"
	"sync"

	"github.com/zclconf/go-cty/cty"

	ouro "github.com/ouroloop/ouro/runtime"
)

// rowFunc computes the output of one input record: the record to write
// and whether to keep it.
type rowFunc func(n int64, rec cty.Value) (cty.Value, bool, error)

const batchSize = 256

type batch struct {
	first int64
	recs  []cty.Value
	keep  []bool
	err   error
	done  chan struct{}
}

// stream runs fn over the records of dataset parameter name and writes the
// kept results, in input order, to a new dataset of schema out. Records are
// decoded by one goroutine, fn runs on GOMAXPROCS workers over batches, and
// results are written in order: memory is bounded by a few batches.
func stream(ctx context.Context, x *ouro.Exec, name string, out cty.Type, fn rowFunc) (cty.Value, error) {
	workers := runtime.GOMAXPROCS(0)
	return x.WriteDataset(out, func(write func(cty.Value) error) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		jobs := make(chan *batch, workers*2)
		ordered := make(chan *batch, workers*4)
		var readErr error
		go func() { // reader: decode and hand out batches in order
			defer close(jobs)
			defer close(ordered)
			b := &batch{first: 1, done: make(chan struct{})}
			flush := func() bool {
				select {
				case ordered <- b:
				case <-ctx.Done():
					return false
				}
				select {
				case jobs <- b:
				case <-ctx.Done():
					return false
				}
				return true
			}
			err := each(ctx, x, name, func(n int64, rec cty.Value) error {
				b.recs = append(b.recs, rec)
				if len(b.recs) == batchSize {
					if !flush() {
						return ctx.Err()
					}
					b = &batch{first: n + 1, recs: make([]cty.Value, 0, batchSize), done: make(chan struct{})}
				}
				return nil
			})
			if err == nil && len(b.recs) > 0 {
				flush()
			}
			readErr = err
		}()
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := range jobs {
					b.keep = make([]bool, len(b.recs))
					for i, rec := range b.recs {
						v, keep, err := fn(b.first+int64(i), rec)
						if err != nil {
							b.err = err
							break
						}
						b.recs[i], b.keep[i] = v, keep
					}
					close(b.done)
				}
			}()
		}
		defer wg.Wait()
		for b := range ordered {
			select {
			case <-b.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if b.err != nil {
				cancel()
				return b.err
			}
			for i, rec := range b.recs {
				if !b.keep[i] {
					continue
				}
				if err := write(rec); err != nil {
					cancel()
					return recordError(x, b.first+int64(i), err)
				}
			}
		}
		if readErr != nil {
			return readErr
		}
		return ctx.Err()
	})
}
