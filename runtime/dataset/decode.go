package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"sort"
	"strconv"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// decodeRecord parses one line of canonical JSON into a value of type ty.
func decodeRecord(line []byte, ty cty.Type) (cty.Value, error) {
	if v, ok := Decode(line, ty, DecodeOptions{}); ok {
		return v, nil
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return cty.NilVal, fmt.Errorf("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return cty.NilVal, errors.New("invalid JSON: extra data after the record")
	}
	if x == nil {
		return cty.NilVal, errors.New("record is null")
	}
	return toCty(x, ty, "")
}

func toCty(x any, ty cty.Type, path string) (cty.Value, error) {
	if x == nil {
		return cty.NullVal(ty), nil
	}
	if ty == cty.DynamicPseudoType {
		return implied(x, path)
	}
	mismatch := func() (cty.Value, error) {
		return cty.NilVal, fmt.Errorf("%s: want %s, found %s", fieldName(path), ty.FriendlyName(), jsonKind(x))
	}
	switch {
	case ty == cty.String:
		s, ok := x.(string)
		if !ok {
			return mismatch()
		}
		return cty.StringVal(s), nil
	case ty == cty.Number:
		n, ok := x.(json.Number)
		if !ok {
			return mismatch()
		}
		v, err := ParseNumber(string(n))
		if err != nil {
			return cty.NilVal, fmt.Errorf("%s: %v", fieldName(path), err)
		}
		return v, nil
	case ty == cty.Bool:
		b, ok := x.(bool)
		if !ok {
			return mismatch()
		}
		return cty.BoolVal(b), nil
	case ty.IsListType(), ty.IsSetType():
		arr, ok := x.([]any)
		if !ok {
			return mismatch()
		}
		et := ty.ElementType()
		if len(arr) == 0 {
			if ty.IsListType() {
				return cty.ListValEmpty(et), nil
			}
			return cty.SetValEmpty(et), nil
		}
		elems := make([]cty.Value, len(arr))
		for i, e := range arr {
			v, err := toCty(e, et, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return cty.NilVal, err
			}
			elems[i] = v
		}
		elems, err := unifyElems(elems, path)
		if err != nil {
			return cty.NilVal, err
		}
		if ty.IsListType() {
			return cty.ListVal(elems), nil
		}
		return cty.SetVal(elems), nil
	case ty.IsTupleType():
		arr, ok := x.([]any)
		if !ok {
			return mismatch()
		}
		ets := ty.TupleElementTypes()
		if len(arr) != len(ets) {
			return cty.NilVal, fmt.Errorf("%s: want %d elements, found %d", fieldName(path), len(ets), len(arr))
		}
		elems := make([]cty.Value, len(arr))
		for i, e := range arr {
			v, err := toCty(e, ets[i], path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return cty.NilVal, err
			}
			elems[i] = v
		}
		return cty.TupleVal(elems), nil
	case ty.IsMapType():
		obj, ok := x.(map[string]any)
		if !ok {
			return mismatch()
		}
		et := ty.ElementType()
		if len(obj) == 0 {
			return cty.MapValEmpty(et), nil
		}
		keys := sortedKeys(obj)
		elems := make([]cty.Value, len(keys))
		for i, k := range keys {
			v, err := toCty(obj[k], et, path+"["+strconv.Quote(k)+"]")
			if err != nil {
				return cty.NilVal, err
			}
			elems[i] = v
		}
		elems, err := unifyElems(elems, path)
		if err != nil {
			return cty.NilVal, err
		}
		m := make(map[string]cty.Value, len(keys))
		for i, k := range keys {
			m[k] = elems[i]
		}
		return cty.MapVal(m), nil
	case ty.IsObjectType():
		obj, ok := x.(map[string]any)
		if !ok {
			return mismatch()
		}
		atys := ty.AttributeTypes()
		for k := range obj {
			if _, ok := atys[k]; !ok {
				return cty.NilVal, fmt.Errorf("%s is not in the schema", fieldName(joinPath(path, k)))
			}
		}
		attrs := make(map[string]cty.Value, len(atys))
		for name, at := range atys {
			e, ok := obj[name]
			if !ok {
				return cty.NilVal, fmt.Errorf("%s is missing", fieldName(joinPath(path, name)))
			}
			v, err := toCty(e, at, joinPath(path, name))
			if err != nil {
				return cty.NilVal, err
			}
			attrs[name] = v
		}
		if len(attrs) == 0 {
			return cty.EmptyObjectVal, nil
		}
		return cty.ObjectVal(attrs), nil
	}
	return cty.NilVal, fmt.Errorf("%s: type %s cannot be read from a dataset", fieldName(path), ty.FriendlyName())
}

// implied builds a value for a dynamic (any-typed) field: arrays become
// tuples, objects objects, so re-encoding gives the same bytes.
func implied(x any, path string) (cty.Value, error) {
	switch x := x.(type) {
	case nil:
		return cty.NullVal(cty.DynamicPseudoType), nil
	case string:
		return cty.StringVal(x), nil
	case bool:
		return cty.BoolVal(x), nil
	case json.Number:
		v, err := ParseNumber(string(x))
		if err != nil {
			return cty.NilVal, fmt.Errorf("%s: %v", fieldName(path), err)
		}
		return v, nil
	case []any:
		if len(x) == 0 {
			return cty.EmptyTupleVal, nil
		}
		elems := make([]cty.Value, len(x))
		for i, e := range x {
			v, err := implied(e, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return cty.NilVal, err
			}
			elems[i] = v
		}
		return cty.TupleVal(elems), nil
	case map[string]any:
		if len(x) == 0 {
			return cty.EmptyObjectVal, nil
		}
		attrs := make(map[string]cty.Value, len(x))
		for k, e := range x {
			v, err := implied(e, joinPath(path, k))
			if err != nil {
				return cty.NilVal, err
			}
			attrs[k] = v
		}
		return cty.ObjectVal(attrs), nil
	}
	return cty.NilVal, fmt.Errorf("%s: unexpected JSON value", fieldName(path))
}

// unifyElems makes collection elements one type (needed when the element
// type contains dynamic parts, e.g. list(any)).
func unifyElems(elems []cty.Value, path string) ([]cty.Value, error) {
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
		return nil, fmt.Errorf("%s: elements have no common type", fieldName(path))
	}
	out := make([]cty.Value, len(elems))
	for i, e := range elems {
		if convs[i] == nil {
			out[i] = e
			continue
		}
		v, err := convs[i](e)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", fieldName(path+"["+strconv.Itoa(i)+"]"), err)
		}
		out[i] = v
	}
	return out, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func jsonKind(x any) string {
	switch x.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a bool"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "null"
}

// ParseNumber is cty.ParseNumberVal (a 512-bit big.Float, rounding to
// nearest even) with a fast path: a decimal whose value is exactly a
// float64 with a mantissa below 2^53 (integers up to 2^53, "1.5", "0.25",
// "-2.5e-10" is not: 2.5e-10 is not a binary fraction) is converted without
// decimal big-number arithmetic. The result is the same value at the same
// precision and rounding mode, so arithmetic on it behaves identically.
func ParseNumber(s string) (cty.Value, error) {
	if f, ok := exactFloat(s); ok {
		return cty.NumberVal(new(big.Float).SetPrec(512).SetMode(big.ToNearestEven).SetFloat64(f)), nil
	}
	return cty.ParseNumberVal(s)
}

// pow5[k] = 5^k for 5^k < 2^53.
var pow5 = func() (p [23]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 5
	}
	return p
}()

// exactFloat reports the float64 that the JSON number s denotes when that
// float64 is exactly s's value (and its integer mantissa is below 2^53).
func exactFloat(s string) (float64, bool) {
	i := 0
	neg := false
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	var m uint64
	nd, frac := 0, 0
	seenDigit, seenDot := false, false
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if seenDot {
				return 0, false
			}
			seenDot = true
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		seenDigit = true
		if m != 0 || c != '0' {
			nd++
			if nd > 16 {
				return 0, false
			}
		}
		m = m*10 + uint64(c-'0')
		if seenDot {
			frac++
		}
	}
	if !seenDigit {
		return 0, false
	}
	exp := 0
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return 0, false
		}
		i++
		expNeg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			expNeg = s[i] == '-'
			i++
		}
		if i == len(s) {
			return 0, false
		}
		for ; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' || exp > 10000 {
				return 0, false
			}
			exp = exp*10 + int(c-'0')
		}
		if expNeg {
			exp = -exp
		}
	}
	if m == 0 {
		if neg {
			return math.Copysign(0, -1), true
		}
		return 0, true
	}
	if m >= 1<<53 {
		return 0, false
	}
	e := exp - frac
	var f float64
	switch {
	case e >= 0:
		for ; e > 0; e-- {
			if m > (1<<53)/10 {
				return 0, false
			}
			m *= 10
		}
		f = float64(m)
	default:
		k := -e
		if k >= len(pow5) || m%pow5[k] != 0 {
			return 0, false
		}
		f = math.Ldexp(float64(m/pow5[k]), -k)
	}
	if neg {
		f = -f
	}
	return f, true
}
