package ops

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/ouroloop/ouro/compiler"
)

// Converting user data (decoded JSON, CSV cells, Parquet values) into
// records of a schema. Errors name the field (a path such as
// "steps[2].text") and say what was wanted and found.

// fieldError is a schema mismatch at a field.
type fieldError struct {
	path string
	msg  string
}

func (e *fieldError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return fmt.Sprintf("field %q: %s", e.path, e.msg)
}

func joinField(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// conv converts a decoded value to type ty. text says v came from a text
// format (CSV): strings are then parsed as numbers, bools or JSON as the
// type asks. lenient allows missing object fields (inferred schemas).
type conv struct {
	text    bool
	lenient bool
}

func (c conv) value(v any, ty cty.Type, path string) (cty.Value, error) {
	if v == nil {
		return cty.NullVal(ty), nil
	}
	if ty == cty.DynamicPseudoType {
		return implied(v, path)
	}
	mismatch := func() (cty.Value, error) {
		return cty.NilVal, &fieldError{path, fmt.Sprintf("want %s, found %s", compiler.TypeString(ty), kindOf(v))}
	}
	if s, ok := v.(string); ok && c.text && ty != cty.String {
		s = strings.TrimSpace(s)
		if s == "" {
			return cty.NullVal(ty), nil
		}
		switch {
		case ty == cty.Number:
			n, err := cty.ParseNumberVal(s)
			if err != nil {
				return cty.NilVal, &fieldError{path, fmt.Sprintf("want number, found %q", s)}
			}
			return n, nil
		case ty == cty.Bool:
			switch strings.ToLower(s) {
			case "true":
				return cty.True, nil
			case "false":
				return cty.False, nil
			}
			return cty.NilVal, &fieldError{path, fmt.Sprintf("want bool (true or false), found %q", s)}
		default:
			x, err := decodeJSON([]byte(s))
			if err != nil {
				return cty.NilVal, &fieldError{path, fmt.Sprintf("want %s as JSON, found %q", compiler.TypeString(ty), s)}
			}
			return conv{lenient: c.lenient}.value(x, ty, path)
		}
	}
	switch {
	case ty == cty.String:
		switch s := v.(type) {
		case string:
			return cty.StringVal(s), nil
		case []byte:
			return cty.StringVal(string(s)), nil
		case json.Number:
			if c.lenient {
				return cty.StringVal(string(s)), nil
			}
		case bool:
			if c.lenient {
				return cty.StringVal(strconv.FormatBool(s)), nil
			}
		}
		return mismatch()
	case ty == cty.Number:
		n, ok, err := number(v)
		if err != nil {
			return cty.NilVal, &fieldError{path, err.Error()}
		}
		if !ok {
			return mismatch()
		}
		return n, nil
	case ty == cty.Bool:
		b, ok := v.(bool)
		if !ok {
			return mismatch()
		}
		return cty.BoolVal(b), nil
	case ty.IsListType() || ty.IsSetType():
		arr, ok := v.([]any)
		if !ok {
			return mismatch()
		}
		et := ty.ElementType()
		if len(arr) == 0 {
			if ty.IsListType() {
				return cty.ListValEmpty(et.WithoutOptionalAttributesDeep()), nil
			}
			return cty.SetValEmpty(et.WithoutOptionalAttributesDeep()), nil
		}
		elems := make([]cty.Value, len(arr))
		for i, e := range arr {
			ev, err := c.value(e, et, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return cty.NilVal, err
			}
			elems[i] = ev
		}
		elems, err := unify(elems, path)
		if err != nil {
			return cty.NilVal, err
		}
		if ty.IsListType() {
			return cty.ListVal(elems), nil
		}
		return cty.SetVal(elems), nil
	case ty.IsTupleType():
		arr, ok := v.([]any)
		if !ok {
			return mismatch()
		}
		ets := ty.TupleElementTypes()
		if len(arr) != len(ets) {
			return cty.NilVal, &fieldError{path, fmt.Sprintf("want %d elements, found %d", len(ets), len(arr))}
		}
		elems := make([]cty.Value, len(arr))
		for i, e := range arr {
			ev, err := c.value(e, ets[i], path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return cty.NilVal, err
			}
			elems[i] = ev
		}
		return cty.TupleVal(elems), nil
	case ty.IsMapType():
		obj, ok := v.(map[string]any)
		if !ok {
			return mismatch()
		}
		et := ty.ElementType()
		if len(obj) == 0 {
			return cty.MapValEmpty(et.WithoutOptionalAttributesDeep()), nil
		}
		m := make(map[string]cty.Value, len(obj))
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		elems := make([]cty.Value, len(keys))
		for i, k := range keys {
			ev, err := c.value(obj[k], et, path+"["+strconv.Quote(k)+"]")
			if err != nil {
				return cty.NilVal, err
			}
			elems[i] = ev
		}
		elems, err := unify(elems, path)
		if err != nil {
			return cty.NilVal, err
		}
		for i, k := range keys {
			m[k] = elems[i]
		}
		return cty.MapVal(m), nil
	case ty.IsObjectType():
		obj, ok := v.(map[string]any)
		if !ok {
			return mismatch()
		}
		atys := ty.AttributeTypes()
		if len(atys) == 0 {
			return cty.EmptyObjectVal, nil
		}
		attrs := make(map[string]cty.Value, len(atys))
		for name, at := range atys {
			e, ok := obj[name]
			if !ok && !c.lenient && !ty.AttributeOptional(name) {
				return cty.NilVal, &fieldError{joinField(path, name), fmt.Sprintf("missing (want %s)", compiler.TypeString(at))}
			}
			av, err := c.value(e, at, joinField(path, name))
			if err != nil {
				return cty.NilVal, err
			}
			attrs[name] = av
		}
		return cty.ObjectVal(attrs), nil
	}
	return cty.NilVal, &fieldError{path, fmt.Sprintf("type %s cannot be read from data files", compiler.TypeString(ty))}
}

func number(v any) (cty.Value, bool, error) {
	switch n := v.(type) {
	case json.Number:
		x, err := cty.ParseNumberVal(string(n))
		if err != nil {
			return cty.NilVal, true, fmt.Errorf("bad number %q", string(n))
		}
		return x, true, nil
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return cty.NilVal, true, fmt.Errorf("%v is not a number ouro can store", n)
		}
		return cty.NumberFloatVal(n), true, nil
	case float32:
		if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
			return cty.NilVal, true, fmt.Errorf("%v is not a number ouro can store", n)
		}
		x, _ := cty.ParseNumberVal(strconv.FormatFloat(float64(n), 'g', -1, 32))
		return x, true, nil
	case int:
		return cty.NumberIntVal(int64(n)), true, nil
	case int8:
		return cty.NumberIntVal(int64(n)), true, nil
	case int16:
		return cty.NumberIntVal(int64(n)), true, nil
	case int32:
		return cty.NumberIntVal(int64(n)), true, nil
	case int64:
		return cty.NumberIntVal(n), true, nil
	case uint8:
		return cty.NumberUIntVal(uint64(n)), true, nil
	case uint16:
		return cty.NumberUIntVal(uint64(n)), true, nil
	case uint32:
		return cty.NumberUIntVal(uint64(n)), true, nil
	case uint64:
		return cty.NumberUIntVal(n), true, nil
	case *big.Float:
		return cty.NumberVal(n), true, nil
	}
	return cty.NilVal, false, nil
}

// implied converts a decoded value of unknown type: arrays become tuples,
// objects objects.
func implied(v any, path string) (cty.Value, error) {
	switch x := v.(type) {
	case nil:
		return cty.NullVal(cty.DynamicPseudoType), nil
	case string:
		return cty.StringVal(x), nil
	case []byte:
		return cty.StringVal(string(x)), nil
	case bool:
		return cty.BoolVal(x), nil
	case time.Time:
		return cty.StringVal(x.UTC().Format(time.RFC3339Nano)), nil
	case []any:
		if len(x) == 0 {
			return cty.EmptyTupleVal, nil
		}
		elems := make([]cty.Value, len(x))
		for i, e := range x {
			ev, err := implied(e, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return cty.NilVal, err
			}
			elems[i] = ev
		}
		return cty.TupleVal(elems), nil
	case map[string]any:
		if len(x) == 0 {
			return cty.EmptyObjectVal, nil
		}
		attrs := make(map[string]cty.Value, len(x))
		for k, e := range x {
			ev, err := implied(e, joinField(path, k))
			if err != nil {
				return cty.NilVal, err
			}
			attrs[k] = ev
		}
		return cty.ObjectVal(attrs), nil
	}
	n, ok, err := number(v)
	if err != nil {
		return cty.NilVal, &fieldError{path, err.Error()}
	}
	if ok {
		return n, nil
	}
	return cty.NilVal, &fieldError{path, fmt.Sprintf("unsupported value %T", v)}
}

func unify(elems []cty.Value, path string) ([]cty.Value, error) {
	t0 := elems[0].Type()
	same := true
	for _, e := range elems[1:] {
		if !e.Type().Equals(t0) {
			same = false
			break
		}
	}
	if same {
		return elems, nil
	}
	types := make([]cty.Type, len(elems))
	for i, e := range elems {
		types[i] = e.Type()
	}
	ut, convs := convert.Unify(types)
	if ut == cty.NilType {
		return nil, &fieldError{path, "elements have no common type"}
	}
	out := make([]cty.Value, len(elems))
	for i, e := range elems {
		if convs[i] == nil {
			out[i] = e
			continue
		}
		v, err := convs[i](e)
		if err != nil {
			return nil, &fieldError{path, err.Error()}
		}
		out[i] = v
	}
	return out, nil
}

func kindOf(v any) string {
	switch x := v.(type) {
	case string, []byte:
		return "string"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	case json.Number:
		return "number " + string(x)
	}
	if _, ok, _ := number(v); ok {
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// decodeJSON decodes one JSON value, keeping numbers exact.
func decodeJSON(b []byte) (any, error) {
	var v any
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("extra data after the value")
	}
	return v, nil
}

// Schema inference: the type of a decoded value, merged over records.

// inferType returns the type of v, with cty.NilType for "nothing known"
// (null, empty arrays' elements).
func inferType(v any, text bool) cty.Type {
	switch x := v.(type) {
	case nil:
		return cty.NilType
	case string:
		if text {
			return inferText(x)
		}
		return cty.String
	case []byte:
		return cty.String
	case bool:
		return cty.Bool
	case time.Time:
		return cty.String
	case []any:
		et := cty.NilType
		for _, e := range x {
			et = mergeType(et, inferType(e, false))
		}
		if et == cty.NilType {
			return cty.List(cty.NilType)
		}
		return cty.List(et)
	case map[string]any:
		attrs := map[string]cty.Type{}
		for k, e := range x {
			attrs[k] = inferType(e, text)
		}
		return cty.Object(attrs)
	}
	if _, ok, _ := number(v); ok {
		return cty.Number
	}
	return cty.DynamicPseudoType
}

// inferText is the type of a CSV cell: number, bool, or string; "" is unknown.
func inferText(s string) cty.Type {
	s = strings.TrimSpace(s)
	if s == "" {
		return cty.NilType
	}
	if _, err := cty.ParseNumberVal(s); err == nil {
		return cty.Number
	}
	if l := strings.ToLower(s); l == "true" || l == "false" {
		return cty.Bool
	}
	return cty.String
}

// mergeType combines the types of two records' values. Different
// primitive types become string when one is a string read from text, else
// dynamic.
func mergeType(a, b cty.Type) cty.Type {
	switch {
	case a == cty.NilType:
		return b
	case b == cty.NilType:
		return a
	case a.Equals(b):
		return a
	case a.IsObjectType() && b.IsObjectType():
		attrs := map[string]cty.Type{}
		for k, t := range a.AttributeTypes() {
			attrs[k] = t
		}
		for k, t := range b.AttributeTypes() {
			if at, ok := attrs[k]; ok {
				attrs[k] = mergeType(at, t)
			} else {
				attrs[k] = t
			}
		}
		return cty.Object(attrs)
	case a.IsListType() && b.IsListType():
		return cty.List(mergeType(a.ElementType(), b.ElementType()))
	case a.IsPrimitiveType() && b.IsPrimitiveType():
		return cty.String
	}
	return cty.DynamicPseudoType
}

// settle replaces what inference never learnt (cty.NilType) with dynamic.
func settle(t cty.Type) cty.Type {
	switch {
	case t == cty.NilType:
		return cty.DynamicPseudoType
	case t.IsObjectType():
		attrs := map[string]cty.Type{}
		for k, at := range t.AttributeTypes() {
			attrs[k] = settle(at)
		}
		return cty.Object(attrs)
	case t.IsListType():
		e := settle(t.ElementType())
		if e == cty.DynamicPseudoType {
			return cty.DynamicPseudoType
		}
		return cty.List(e)
	}
	return t
}
