package ops

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/dataset"
	"github.com/ouroloop/ouro/runtime/lineexpr"
	"github.com/ouroloop/ouro/runtime/store"
	"github.com/ouroloop/ouro/stdlib/params"
)

// Filter keeps the records for which `where` is true (null is false).
type Filter struct{}

func (Filter) Name() string { return "filter" }
func (Filter) Version() int { return 1 }

func (Filter) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	in, err := inputSchema(x, "input")
	if err != nil {
		return cty.NilVal, err
	}
	o := streamOpts{only: itemFields(x, in, "where"), raw: true}
	if e, ok := x.Items["where"]; ok {
		c := lineexpr.NewCompiler(e.Scope)
		if p, ok := c.Compile(e.Expr); ok {
			o.fast = func() func(line, dst []byte) ([]byte, bool, bool) {
				ev := c.NewEvaluator()
				return func(line, dst []byte) ([]byte, bool, bool) {
					ev.Reset(line)
					keep, ok := ev.Truth(p)
					return dst, keep, ok
				}
			}
		}
	}
	return stream(ctx, x, "input", in, o, func(n int64, rec cty.Value) (cty.Value, bool, error) {
		v, err := item(x, "where", rec, cty.Bool)
		if err != nil {
			return cty.NilVal, false, recordError(x, n, err)
		}
		return cty.NilVal, truth(v), nil
	})
}

// Map adds or replaces fields computed per item and drops fields.
type Map struct{}

func (Map) Name() string { return "map" }
func (Map) Version() int { return 1 }

func (Map) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	in, err := inputSchema(x, "input")
	if err != nil {
		return cty.NilVal, err
	}
	_, hasFields := x.Items["fields"]
	ft := itemType(x, "fields", in)
	if !hasFields {
		ft = cty.EmptyObject // drop only
	}
	if !ft.IsObjectType() {
		if oe := x.OutputElem(); oe.IsObjectType() && !oe.HasDynamicTypes() {
			ft = oe
		} else {
			return cty.NilVal, stageError(x, "fields must be an object whose type is known before the run; it is %s", compiler.TypeString(ft))
		}
	}
	drop := map[string]bool{}
	if d := x.Param("drop"); !d.IsNull() && d.IsKnown() && d.CanIterateElements() {
		for it := d.ElementIterator(); it.Next(); {
			_, v := it.Element()
			if v.IsNull() || v.Type() != cty.String {
				continue
			}
			name := v.AsString()
			if !in.HasAttribute(name) && !ft.HasAttribute(name) {
				return cty.NilVal, stageError(x, "drop: the records have no field %q", name)
			}
			drop[name] = true
		}
	}
	attrs := map[string]cty.Type{}
	for k, t := range in.AttributeTypes() {
		attrs[k] = t
	}
	for k, t := range ft.AttributeTypes() {
		attrs[k] = t
	}
	for k := range drop {
		delete(attrs, k)
	}
	out := cty.Object(attrs)
	var o streamOpts
	if hasFields { // else every field is kept: decode them all
		o.only = itemFields(x, in, "fields")
	}
	if r, c, err := x.Open("input"); err == nil {
		rt := r.RecordType()
		c.Close()
		if hasFields && rt.Equals(in.WithoutOptionalAttributesDeep()) {
			o.line = mapLine(x, ft, drop)
			o.fast = mapFast(x, ft, drop)
		}
	}
	return stream(ctx, x, "input", out, o, func(n int64, rec cty.Value) (cty.Value, bool, error) {
		f := cty.EmptyObjectVal
		if hasFields {
			var err error
			if f, err = item(x, "fields", rec, cty.DynamicPseudoType); err != nil {
				return cty.NilVal, false, recordError(x, n, err)
			}
		}
		if f.IsNull() || !f.Type().IsObjectType() {
			return cty.NilVal, false, recordError(x, n, fmt.Errorf("fields: want an object, found %s", typeOrNull(f)))
		}
		m := make(map[string]cty.Value, len(attrs))
		for it := rec.ElementIterator(); it.Next(); {
			k, v := it.Element()
			m[k.AsString()] = v
		}
		for it := f.ElementIterator(); it.Next(); {
			k, v := it.Element()
			m[k.AsString()] = v
		}
		for k := range drop {
			delete(m, k)
		}
		if len(m) == 0 {
			return cty.EmptyObjectVal, true, nil
		}
		return cty.ObjectVal(m), true, nil
	})
}

// mapLine builds map's output line from the input line and the fields'
// canonical encodings, without decoding or re-encoding the fields that
// pass through: both lists are in canonical (sorted) order, so it is a
// merge. It declines when the fields' value is not of type ft (the writer
// would convert it), so the bytes are always the writer's.
func mapLine(x *runtime.Exec, ft cty.Type, drop map[string]bool) func(n int64, rec cty.Value, line, dst []byte) ([]byte, bool, bool, error) {
	names := sortedAttrs(ft)
	replaced := map[string]bool{}
	for _, k := range names {
		replaced[k] = true
	}
	for k := range drop {
		replaced[k] = true
	}
	var newNames []string // the fields' names that are not dropped
	for _, k := range names {
		if !drop[k] {
			newNames = append(newNames, k)
		}
	}
	return func(n int64, rec cty.Value, line, dst []byte) ([]byte, bool, bool, error) {
		f, err := item(x, "fields", rec, cty.DynamicPseudoType)
		if err != nil || f.IsNull() || !f.Type().Equals(ft) {
			return dst, false, false, nil // fn explains
		}
		start := len(dst)
		vals := make([][]byte, len(newNames))
		var enc []byte
		for i, k := range newNames {
			s := len(enc)
			if enc, err = dataset.AppendCanonical(enc, f.GetAttr(k)); err != nil {
				return dst, false, false, nil
			}
			vals[i] = enc[s:len(enc):len(enc)]
		}
		out, ok := mergeLine(dst, line, newNames, vals, replaced)
		if !ok {
			return dst[:start], false, false, nil
		}
		return out, true, true, nil
	}
}

// mergeLine appends to dst the canonical line of the record in line with
// the fields names (sorted) set to vals (canonical bytes) and the fields in
// replaced (which includes names) removed otherwise.
func mergeLine(dst, line []byte, names []string, vals [][]byte, replaced map[string]bool) ([]byte, bool) {
	start := len(dst)
	dst = append(dst, '{')
	j := 0
	first := true
	put := func(name string, v []byte) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = dataset.AppendString(dst, name)
		dst = append(dst, ':')
		dst = append(dst, v...)
	}
	ok := dataset.EachField(line, func(key, v []byte) bool {
		for j < len(names) && names[j] < string(key) {
			put(names[j], vals[j])
			j++
		}
		if !replaced[string(key)] {
			put(string(key), v)
		}
		return true
	})
	if !ok {
		return dst[:start], false
	}
	for ; j < len(names); j++ {
		put(names[j], vals[j])
	}
	return append(dst, '}'), true
}

// mapFast is mapLine on runtime/lineexpr: the fields are computed from
// the line without decoding it, when `fields` is an object constructor
// whose values all compile, with primitive types. nil when not.
func mapFast(x *runtime.Exec, ft cty.Type, drop map[string]bool) func() func(line, dst []byte) ([]byte, bool, bool) {
	e, ok := x.Items["fields"]
	if !ok {
		return nil
	}
	c := lineexpr.NewCompiler(e.Scope)
	keys, progs, ok := c.CompileObject(e.Expr)
	if !ok || len(keys) != len(ft.AttributeTypes()) {
		return nil
	}
	byName := map[string]*lineexpr.Program{}
	for i, k := range keys {
		if !ft.HasAttribute(k) || !ft.AttributeType(k).IsPrimitiveType() {
			return nil
		}
		byName[k] = progs[i]
	}
	replaced := map[string]bool{}
	var names []string // the new fields that are not dropped, sorted
	var types []cty.Type
	var order []*lineexpr.Program
	for _, k := range sortedAttrs(ft) {
		replaced[k] = true
		if !drop[k] {
			names = append(names, k)
			types = append(types, ft.AttributeType(k))
			order = append(order, byName[k])
		}
	}
	for k := range drop {
		replaced[k] = true
	}
	return func() func(line, dst []byte) ([]byte, bool, bool) {
		ev := c.NewEvaluator()
		vals := make([][]byte, len(names))
		var enc []byte
		return func(line, dst []byte) ([]byte, bool, bool) {
			ev.Reset(line)
			enc = enc[:0]
			for i, p := range order {
				s := len(enc)
				var ok bool
				if enc, ok = ev.AppendCanonical(enc, p, types[i]); !ok {
					return dst, false, false
				}
				// Earlier slices stay valid if enc grows: its old array
				// is not written again.
				vals[i] = enc[s:len(enc):len(enc)]
			}
			out, ok := mergeLine(dst, line, names, vals, replaced)
			return out, true, ok
		}
	}
}

func typeOrNull(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	return compiler.TypeString(v.Type())
}

// Extract parses a text field with a pattern into typed fields under `as`.
type Extract struct{}

func (Extract) Name() string { return "extract" }
func (Extract) Version() int { return 2 }

func (Extract) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	in, err := inputSchema(x, "input")
	if err != nil {
		return cty.NilVal, err
	}
	pat := x.Patterns["pattern"]
	if pat == nil {
		return cty.NilVal, stageError(x, "no pattern")
	}
	as := params.String(x, "as", "parsed")
	drop := params.String(x, "on_mismatch", "null") == "drop"
	pt := pat.ObjectType()
	out := extend(in, map[string]cty.Type{as: pt})
	var dropped counter
	v, err := stream(ctx, x, "input", out, streamOpts{}, func(n int64, rec cty.Value) (cty.Value, bool, error) {
		from, err := item(x, "from", rec, cty.String)
		if err != nil {
			return cty.NilVal, false, recordError(x, n, err)
		}
		m := cty.NullVal(pt)
		if !from.IsNull() {
			m = pat.MatchValue(from.AsString())
		}
		if m.IsNull() {
			if drop {
				dropped.add(1)
				return cty.NilVal, false, nil
			}
			// No match: every captured field is null, so an expression such
			// as item.parsed.answer == item.answer is simply false.
			m = nullFields(pt)
		}
		return with(rec, map[string]cty.Value{as: m}), true, nil
	})
	if err == nil && drop {
		x.Count("dropped", dropped.load())
	}
	return v, err
}

// nullFields is an object of type t whose every attribute is null.
func nullFields(t cty.Type) cty.Value {
	attrs := t.AttributeTypes()
	if len(attrs) == 0 {
		return cty.EmptyObjectVal
	}
	vals := make(map[string]cty.Value, len(attrs))
	for name, at := range attrs {
		vals[name] = cty.NullVal(at)
	}
	return cty.ObjectVal(vals)
}

// Concat concatenates datasets in order.
type Concat struct{}

func (Concat) Name() string { return "concat" }
func (Concat) Version() int { return 1 }

func (Concat) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	inputs := x.Param("inputs")
	if inputs.IsNull() || !inputs.IsWhollyKnown() || !inputs.CanIterateElements() || inputs.LengthInt() == 0 {
		return cty.NilVal, stageError(x, "inputs must be a non-empty list of datasets")
	}
	var refs []*compiler.DatasetRef
	for it := inputs.ElementIterator(); it.Next(); {
		_, v := it.Element()
		if v.IsNull() || !compiler.IsDatasetType(v.Type()) {
			return cty.NilVal, stageError(x, "inputs[%d] is not a dataset", len(refs))
		}
		refs = append(refs, v.EncapsulatedValue().(*compiler.DatasetRef))
	}
	schema := cty.NilType
	if oe := x.OutputElem(); oe.IsObjectType() && !oe.HasDynamicTypes() {
		schema = oe
	}
	var n int64
	return x.WriteDataset(schemaOr(x, schema, refs[0]), func(write func(cty.Value) error) error {
		for i, ref := range refs {
			r, c, err := dataset.OpenBlob(x.Blobs, store.Digest(ref.Digest))
			if err != nil {
				return stageError(x, "inputs[%d]: %v", i, err)
			}
			for {
				rec, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					c.Close()
					return stageError(x, "inputs[%d]: %v", i, err)
				}
				n++
				if n%1024 == 0 && ctx.Err() != nil {
					c.Close()
					return ctx.Err()
				}
				if err := write(rec); err != nil {
					c.Close()
					return stageError(x, "inputs[%d] record %d: %v", i, r.Count(), err)
				}
			}
			c.Close()
		}
		return nil
	})
}

// schemaOr returns s, or the schema of the dataset ref when s is nil.
func schemaOr(x *runtime.Exec, s cty.Type, ref *compiler.DatasetRef) cty.Type {
	if s != cty.NilType {
		return s
	}
	if ref.Schema.IsObjectType() {
		return ref.Schema
	}
	if r, c, err := dataset.OpenBlob(x.Blobs, store.Digest(ref.Digest)); err == nil {
		c.Close()
		return r.Schema()
	}
	return ref.Schema
}

// openValue opens a dataset value for reading.
func openValue(x *runtime.Exec, v cty.Value) (*dataset.Reader, io.Closer, error) {
	if v.IsNull() || !v.IsKnown() || !compiler.IsDatasetType(v.Type()) {
		return nil, nil, stageError(x, "not a dataset")
	}
	ref := v.EncapsulatedValue().(*compiler.DatasetRef)
	return dataset.OpenBlob(x.Blobs, store.Digest(ref.Digest))
}

// sortedAttrs returns the attribute names of an object type, sorted.
func sortedAttrs(t cty.Type) []string {
	names := make([]string, 0, len(t.AttributeTypes()))
	for k := range t.AttributeTypes() {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func lower(s string) string { return strings.ToLower(s) }
