// Package ops implements ouro's data operators: the runtime half of the
// signatures in package stdlib (dataset, filter, map, extract, verify,
// dedupe, sample, top, group, pair, split, concat, join, export, command,
// vote, best_of).
//
// Every operator reads its inputs as canonical dataset artifacts
// (runtime/dataset) and writes its output through Exec.WriteDataset, so a
// failed stage never leaves a referenced half-artifact. Operators that can
// stream (filter, map, extract, verify, export, concat, dedupe, command)
// hold one record at a time; the ones that rank or group hold what the
// ranking or grouping needs, as documented in docs/operators.md.
//
// Output order is the input order unless an operator's documentation says
// otherwise, and every random choice is seeded by Exec.Seed and the
// stage's seed parameter, so the same inputs give the same bytes.
package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/dataset"
)

// Operators returns every data operator.
func Operators() []runtime.Operator {
	return []runtime.Operator{
		Dataset{}, Filter{}, Map{}, Extract{}, Verify{}, Dedupe{}, Sample{},
		Top{}, Group{}, Pair{}, Split{}, Concat{}, Join{}, Export{},
		Command{}, Vote{}, BestOf{},
	}
}

// recordError is an error about one record of a stage's input.
func recordError(x *runtime.Exec, n int64, err error) error {
	return fmt.Errorf("%s: record %d: %w", x.Node.Address, n, err)
}

func stageError(x *runtime.Exec, format string, args ...any) error {
	return fmt.Errorf("%s: %s", x.Node.Address, fmt.Sprintf(format, args...))
}

// each streams the records of dataset parameter name to fn, numbering
// them from 1. It checks ctx every 1024 records and reports progress.
func each(ctx context.Context, x *runtime.Exec, name string, fn func(n int64, rec cty.Value) error) error {
	return scan(ctx, x, name, x.Progress, fn)
}

// eachAgain is each for a later pass over an input an earlier pass read
// and counted: it reports no progress, so a two-pass operator's items
// are its input's records, not twice as many.
func eachAgain(ctx context.Context, x *runtime.Exec, name string, fn func(n int64, rec cty.Value) error) error {
	return scan(ctx, x, name, nil, fn)
}

func scan(ctx context.Context, x *runtime.Exec, name string, progress runtime.Progress, fn func(n int64, rec cty.Value) error) error {
	r, c, err := x.Open(name)
	if err != nil {
		return err
	}
	defer c.Close()
	if progress != nil {
		if ref, err := x.Dataset(name); err == nil {
			progress.SetTotal(ref.Count)
		}
	}
	var n int64
	for {
		rec, err := r.Next()
		if err == io.EOF {
			if progress != nil {
				progress.Add(n % 1024)
			}
			return nil
		}
		if err != nil {
			return inputError(x, name, err)
		}
		n++
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if progress != nil {
				progress.Add(1024)
			}
		}
		if err := fn(n, rec); err != nil {
			return err
		}
	}
}

// eachLine streams the canonical lines of dataset parameter name, read
// from r (opened on it), to fn, numbering them from 1; the bytes are valid
// during the call. Decode a line with r.DecodeLine. It checks ctx every 1024
// records and reports progress, as each does.
func eachLine(ctx context.Context, x *runtime.Exec, name string, r *dataset.Reader, fn func(n int64, line []byte) error) error {
	if x.Progress != nil {
		if ref, err := x.Dataset(name); err == nil {
			x.Progress.SetTotal(ref.Count)
		}
	}
	var n int64
	for {
		line, err := r.NextLine()
		if err == io.EOF {
			if x.Progress != nil {
				x.Progress.Add(n % 1024)
			}
			return nil
		}
		if err != nil {
			return inputError(x, name, err)
		}
		n++
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if x.Progress != nil {
				x.Progress.Add(1024)
			}
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
}

func inputError(x *runtime.Exec, name string, err error) error {
	return fmt.Errorf("%s: input %q: %w", x.Node.Address, name, err)
}

// writeDataset is Exec.WriteDataset handing fill the dataset writer (for
// WriteRaw).
func writeDataset(x *runtime.Exec, schema cty.Type, fill func(w *dataset.Writer) error) (cty.Value, error) {
	d, n, err := dataset.WriteBlobWriter(x.Blobs, schema, fill)
	if err != nil {
		return cty.NilVal, err
	}
	return compiler.DatasetVal(compiler.DatasetRef{Digest: string(d), Count: n, Schema: schema}), nil
}

// inputSchema returns the record type of dataset parameter name.
func inputSchema(x *runtime.Exec, name string) (cty.Type, error) {
	ref, err := x.Dataset(name)
	if err != nil {
		return cty.NilType, err
	}
	if ref.Schema.IsObjectType() {
		return ref.Schema, nil
	}
	r, c, err := x.Open(name)
	if err != nil {
		return cty.NilType, err
	}
	defer c.Close()
	return r.Schema(), nil
}

// item evaluates per-item parameter name for rec, converted to want
// (cty.DynamicPseudoType keeps the value's own type).
func item(x *runtime.Exec, name string, rec cty.Value, want cty.Type) (cty.Value, error) {
	e, ok := x.Items[name]
	if !ok {
		return cty.NullVal(want), nil
	}
	v, err := e.EvalItem(rec)
	if err != nil {
		return cty.NilVal, fmt.Errorf("%s: %w", name, err)
	}
	if !v.IsWhollyKnown() {
		return cty.NilVal, fmt.Errorf("%s: the value is not known", name)
	}
	if want != cty.DynamicPseudoType && !v.Type().Equals(want) {
		c, err := convert.Convert(v, want)
		if err != nil {
			return cty.NilVal, fmt.Errorf("%s: %s", name, convertMessage(v.Type(), want, err))
		}
		v = c
	}
	return v, nil
}

func convertMessage(got, want cty.Type, err error) string {
	if m := convert.MismatchMessage(got, want); m != "" {
		return m
	}
	return err.Error()
}

// itemType is the type of per-item parameter name for records of type elem,
// found by evaluating it with an unknown item (the compiler's trick).
func itemType(x *runtime.Exec, name string, elem cty.Type) cty.Type {
	e, ok := x.Items[name]
	if !ok {
		return cty.DynamicPseudoType
	}
	v, err := e.EvalItem(cty.UnknownVal(elem))
	if err != nil {
		return cty.DynamicPseudoType
	}
	return v.Type()
}

// extend adds or replaces attributes of an object type.
func extend(elem cty.Type, add map[string]cty.Type) cty.Type {
	attrs := map[string]cty.Type{}
	for k, v := range elem.AttributeTypes() {
		attrs[k] = v
	}
	for k, v := range add {
		attrs[k] = v
	}
	return cty.Object(attrs)
}

// with returns rec (an object) with attributes added or replaced.
func with(rec cty.Value, add map[string]cty.Value) cty.Value {
	attrs := make(map[string]cty.Value, len(add)+8)
	for it := rec.ElementIterator(); it.Next(); {
		k, v := it.Element()
		attrs[k.AsString()] = v
	}
	for k, v := range add {
		attrs[k] = v
	}
	return cty.ObjectVal(attrs)
}

// truth is a where-like value: null counts as false.
func truth(v cty.Value) bool { return !v.IsNull() && v.True() }

func intParam(x *runtime.Exec, name string) (int64, bool, error) {
	v := x.Param(name)
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.Number {
		return 0, false, nil
	}
	i, acc := v.AsBigFloat().Int64()
	if acc != big.Exact {
		return 0, true, stageError(x, "%s must be a whole number, not %s", name, v.AsBigFloat().Text('g', -1))
	}
	return i, true, nil
}

// appendKey appends an unambiguous encoding of v, so equal values (in the
// sense of grouping: 1 and 1.0 are equal, every null is equal) give equal
// bytes.
func appendKey(b []byte, v cty.Value) []byte {
	if v.IsNull() || !v.IsKnown() {
		return append(b, 'n')
	}
	t := v.Type()
	switch {
	case t == cty.String:
		s := v.AsString()
		b = append(b, 's')
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		return append(b, s...)
	case t == cty.Number:
		bf := v.AsBigFloat()
		if i, acc := bf.Int64(); acc == big.Exact {
			b = append(b, 'i')
			return strconv.AppendInt(b, i, 10)
		}
		b = append(b, 'f')
		b = bf.Append(b, 'g', -1)
		return append(b, ';')
	case t == cty.Bool:
		if v.True() {
			return append(b, 'T')
		}
		return append(b, 'F')
	case t.IsObjectType() || t.IsMapType():
		// cty iterates objects and maps in key order.
		b = append(b, '{')
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			b = appendKey(b, k)
			b = appendKey(b, e)
		}
		return append(b, '}')
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		b = append(b, '[')
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			b = appendKey(b, e)
		}
		return append(b, ']')
	}
	return append(b, '?')
}

// float returns a number value as float64.
func float(v cty.Value) float64 {
	f, _ := v.AsBigFloat().Float64()
	return f
}

var errStop = errors.New("stop")

// readerFor opens a dataset value (not a parameter).
func readerFor(x *runtime.Exec, v cty.Value) (*dataset.Reader, io.Closer, error) {
	return openValue(x, v)
}
