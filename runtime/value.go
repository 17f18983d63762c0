package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
)

// Stage values are stored as JSON: plain data as JSON values, datasets as
// {"$dataset": {"digest", "count", "schema"}}, models as {"$model": ref}.
// Decoding is guided by the type the compiler inferred.

// EncodeValue returns the canonical JSON of a value (object keys sorted).
func EncodeValue(v cty.Value) (json.RawMessage, error) {
	j, err := toJSONable(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(j); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func toJSONable(v cty.Value) (any, error) {
	if v.IsMarked() {
		v, _ = v.Unmark()
	}
	if !v.IsKnown() {
		return nil, fmt.Errorf("value is not known")
	}
	if v.IsNull() {
		return nil, nil
	}
	t := v.Type()
	switch {
	case compiler.IsDatasetType(t):
		ref := v.EncapsulatedValue().(*compiler.DatasetRef)
		st, err := compiler.MarshalType(ref.Schema)
		if err != nil {
			return nil, err
		}
		return map[string]any{"$dataset": map[string]any{"digest": ref.Digest, "count": ref.Count, "schema": st}}, nil
	case compiler.IsModelType(t):
		ref := v.EncapsulatedValue().(*compiler.ModelRef)
		return map[string]any{"$model": ref}, nil
	case t == cty.String:
		return v.AsString(), nil
	case t == cty.Bool:
		return v.True(), nil
	case t == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			return json.Number(bf.Text('f', -1)), nil
		}
		f, _ := bf.Float64()
		return json.Number(big.NewFloat(f).Text('g', -1)), nil
	case t.IsObjectType() || t.IsMapType():
		m := map[string]any{}
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			j, err := toJSONable(ev)
			if err != nil {
				return nil, err
			}
			m[k.AsString()] = j
		}
		return m, nil
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		out := []any{}
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			j, err := toJSONable(ev)
			if err != nil {
				return nil, err
			}
			out = append(out, j)
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot encode a value of type %s", compiler.TypeString(t))
}

// DecodeValue decodes JSON written by EncodeValue as a value of type ty.
func DecodeValue(raw []byte, ty cty.Type) (cty.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var j any
	if err := dec.Decode(&j); err != nil {
		return cty.NilVal, err
	}
	return fromJSONable(j, ty)
}

func fromJSONable(j any, ty cty.Type) (cty.Value, error) {
	if j == nil {
		return cty.NullVal(ty), nil
	}
	if m, ok := j.(map[string]any); ok {
		if d, ok := m["$dataset"].(map[string]any); ok && len(m) == 1 {
			b, _ := json.Marshal(d["schema"])
			schema, err := compiler.UnmarshalType(b)
			if err != nil {
				return cty.NilVal, err
			}
			count, _ := d["count"].(json.Number).Int64()
			digest, _ := d["digest"].(string)
			return compiler.DatasetVal(compiler.DatasetRef{Digest: digest, Count: count, Schema: schema}), nil
		}
		if mm, ok := m["$model"]; ok && len(m) == 1 {
			b, _ := json.Marshal(mm)
			var ref compiler.ModelRef
			if err := json.Unmarshal(b, &ref); err != nil {
				return cty.NilVal, err
			}
			return compiler.ModelVal(ref), nil
		}
	}
	switch {
	case ty == cty.DynamicPseudoType:
		return fromJSONable(j, impliedType(j))
	case ty == cty.String:
		s, ok := j.(string)
		if !ok {
			return cty.NilVal, fmt.Errorf("want string, got %T", j)
		}
		return cty.StringVal(s), nil
	case ty == cty.Bool:
		b, ok := j.(bool)
		if !ok {
			return cty.NilVal, fmt.Errorf("want bool, got %T", j)
		}
		return cty.BoolVal(b), nil
	case ty == cty.Number:
		n, ok := j.(json.Number)
		if !ok {
			return cty.NilVal, fmt.Errorf("want number, got %T", j)
		}
		return cty.ParseNumberVal(string(n))
	case ty.IsObjectType():
		m, ok := j.(map[string]any)
		if !ok {
			return cty.NilVal, fmt.Errorf("want object, got %T", j)
		}
		attrs := map[string]cty.Value{}
		for name, at := range ty.AttributeTypes() {
			v, err := fromJSONable(m[name], at)
			if err != nil {
				return cty.NilVal, fmt.Errorf("%s: %w", name, err)
			}
			attrs[name] = v
		}
		return cty.ObjectVal(attrs), nil
	case ty.IsMapType():
		m, ok := j.(map[string]any)
		if !ok {
			return cty.NilVal, fmt.Errorf("want map, got %T", j)
		}
		if len(m) == 0 {
			return cty.MapValEmpty(ty.ElementType()), nil
		}
		vals := map[string]cty.Value{}
		for k, e := range m {
			v, err := fromJSONable(e, ty.ElementType())
			if err != nil {
				return cty.NilVal, err
			}
			vals[k] = v
		}
		return cty.MapVal(vals), nil
	case ty.IsListType() || ty.IsSetType():
		l, ok := j.([]any)
		if !ok {
			return cty.NilVal, fmt.Errorf("want list, got %T", j)
		}
		if len(l) == 0 {
			if ty.IsSetType() {
				return cty.SetValEmpty(ty.ElementType()), nil
			}
			return cty.ListValEmpty(ty.ElementType()), nil
		}
		vals := make([]cty.Value, len(l))
		for i, e := range l {
			v, err := fromJSONable(e, ty.ElementType())
			if err != nil {
				return cty.NilVal, err
			}
			vals[i] = v
		}
		if ty.IsSetType() {
			return cty.SetVal(vals), nil
		}
		return cty.ListVal(vals), nil
	case ty.IsTupleType():
		l, ok := j.([]any)
		ets := ty.TupleElementTypes()
		if !ok || len(l) != len(ets) {
			return cty.NilVal, fmt.Errorf("want tuple of %d, got %T", len(ets), j)
		}
		vals := make([]cty.Value, len(l))
		for i, e := range l {
			v, err := fromJSONable(e, ets[i])
			if err != nil {
				return cty.NilVal, err
			}
			vals[i] = v
		}
		return cty.TupleVal(vals), nil
	}
	return cty.NilVal, fmt.Errorf("cannot decode a value of type %s", compiler.TypeString(ty))
}

func impliedType(j any) cty.Type {
	switch x := j.(type) {
	case string:
		return cty.String
	case bool:
		return cty.Bool
	case json.Number:
		return cty.Number
	case []any:
		ets := make([]cty.Type, len(x))
		for i, e := range x {
			ets[i] = impliedType(e)
		}
		return cty.Tuple(ets)
	case map[string]any:
		if _, ok := x["$dataset"]; ok && len(x) == 1 {
			return cty.DynamicPseudoType
		}
		attrs := map[string]cty.Type{}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			attrs[k] = impliedType(x[k])
		}
		return cty.Object(attrs)
	}
	return cty.DynamicPseudoType
}

// referencedBlobs lists the dataset and model digests inside a value.
func referencedBlobs(v cty.Value) []string {
	var out []string
	var walk func(v cty.Value)
	walk = func(v cty.Value) {
		if !v.IsKnown() || v.IsNull() {
			return
		}
		t := v.Type()
		switch {
		case compiler.IsDatasetType(t):
			out = append(out, v.EncapsulatedValue().(*compiler.DatasetRef).Digest)
		case compiler.IsModelType(t):
			out = append(out, v.EncapsulatedValue().(*compiler.ModelRef).Digest)
		case t.IsObjectType() || t.IsMapType() || t.IsListType() || t.IsTupleType() || t.IsSetType():
			for it := v.ElementIterator(); it.Next(); {
				_, e := it.Element()
				walk(e)
			}
		}
	}
	walk(v)
	return out
}
