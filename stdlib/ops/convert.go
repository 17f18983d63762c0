package ops

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime/dataset"
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

// value converts v with dataset.Converter, the one JSON→cty conversion,
// adding the text-format and lenient rules and this package's messages.
func (c conv) value(v any, ty cty.Type, path string) (cty.Value, error) {
	return dataset.Converter{
		AllowExtra: true,
		Lenient:    c.lenient,
		Before:     c.before,
		Number:     number,
		Scalar:     scalar,
		Error:      convError,
	}.Convert(v, ty, path)
}

// before handles what only data files have: text cells parsed as the type
// asks, []byte strings, and (lenient) numbers and bools read as strings.
func (c conv) before(v any, ty cty.Type, path string) (cty.Value, bool, error) {
	if s, ok := v.(string); ok && c.text && ty != cty.String {
		s = strings.TrimSpace(s)
		if s == "" {
			return cty.NullVal(ty), true, nil
		}
		switch {
		case ty == cty.Number:
			n, err := cty.ParseNumberVal(s)
			if err != nil {
				return cty.NilVal, true, &fieldError{path, fmt.Sprintf("want number, found %q", s)}
			}
			return n, true, nil
		case ty == cty.Bool:
			switch strings.ToLower(s) {
			case "true":
				return cty.True, true, nil
			case "false":
				return cty.False, true, nil
			}
			return cty.NilVal, true, &fieldError{path, fmt.Sprintf("want bool (true or false), found %q", s)}
		default:
			x, err := decodeJSON([]byte(s))
			if err != nil {
				return cty.NilVal, true, &fieldError{path, fmt.Sprintf("want %s as JSON, found %q", compiler.TypeString(ty), s)}
			}
			v, err := conv{lenient: c.lenient}.value(x, ty, path)
			return v, true, err
		}
	}
	if ty == cty.String {
		switch s := v.(type) {
		case []byte:
			return cty.StringVal(string(s)), true, nil
		case json.Number:
			if c.lenient {
				return cty.StringVal(string(s)), true, nil
			}
		case bool:
			if c.lenient {
				return cty.StringVal(strconv.FormatBool(s)), true, nil
			}
		}
	}
	return cty.NilVal, false, nil
}

// scalar converts the non-JSON values Parquet gives.
func scalar(v any) (cty.Value, bool) {
	switch x := v.(type) {
	case []byte:
		return cty.StringVal(string(x)), true
	case time.Time:
		return cty.StringVal(x.UTC().Format(time.RFC3339Nano)), true
	}
	return cty.NilVal, false
}

// convError words a conversion error for data files.
func convError(e *dataset.ConvError) error {
	switch e.Kind {
	case dataset.Mismatch:
		return &fieldError{e.Path, fmt.Sprintf("want %s, found %s", compiler.TypeString(e.Want), kindOf(e.Found))}
	case dataset.Count:
		return &fieldError{e.Path, fmt.Sprintf("want %d elements, found %d", e.M, e.N)}
	case dataset.Missing:
		return &fieldError{e.Path, fmt.Sprintf("missing (want %s)", compiler.TypeString(e.Want))}
	case dataset.NoCommon:
		return &fieldError{e.Path, "elements have no common type"}
	case dataset.ElemConvert, dataset.BadNumber:
		return &fieldError{e.Path, e.Err.Error()}
	case dataset.Unsupported:
		return &fieldError{e.Path, fmt.Sprintf("type %s cannot be read from data files", compiler.TypeString(e.Want))}
	case dataset.Unexpected:
		return &fieldError{e.Path, fmt.Sprintf("unsupported value %T", e.Found)}
	}
	return &fieldError{e.Path, e.Error()}
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
