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
	return FromJSON(x, ty, "")
}

// ConvKind says what a ConvError is about.
type ConvKind int

const (
	Mismatch    ConvKind = iota // Found is not a Want
	Count                       // a tuple with N elements, want M
	Missing                     // an object field is missing
	Extra                       // an object field is not in the type
	NoCommon                    // collection elements have no common type
	ElemConvert                 // element Index failed to convert (Err)
	BadNumber                   // Err says why Found is not a number
	Unsupported                 // Want cannot be read
	Unexpected                  // Found is not a JSON value
)

// ConvError is a value that does not fit a type, at a field path such as
// "steps[2].text". Its Error is the dataset artifact's message; a
// Converter's Error hook may word it differently.
type ConvError struct {
	Kind  ConvKind
	Path  string
	Want  cty.Type
	Found any // the decoded value (Mismatch, BadNumber, Unexpected)
	N, M  int // Count: found N elements, want M
	Index int // ElemConvert
	Err   error
}

func (e *ConvError) Error() string {
	switch e.Kind {
	case Mismatch:
		return fmt.Sprintf("%s: want %s, found %s", fieldName(e.Path), e.Want.FriendlyName(), jsonKind(e.Found))
	case Count:
		return fmt.Sprintf("%s: want %d elements, found %d", fieldName(e.Path), e.M, e.N)
	case Missing:
		return fmt.Sprintf("%s is missing", fieldName(e.Path))
	case Extra:
		return fmt.Sprintf("%s is not in the schema", fieldName(e.Path))
	case NoCommon:
		return fmt.Sprintf("%s: elements have no common type", fieldName(e.Path))
	case ElemConvert:
		return fmt.Sprintf("%s: %v", fieldName(e.Path+"["+strconv.Itoa(e.Index)+"]"), e.Err)
	case BadNumber:
		return fmt.Sprintf("%s: %v", fieldName(e.Path), e.Err)
	case Unsupported:
		return fmt.Sprintf("%s: type %s cannot be read from a dataset", fieldName(e.Path), e.Want.FriendlyName())
	}
	return fmt.Sprintf("%s: unexpected JSON value", fieldName(e.Path))
}

func (e *ConvError) Unwrap() error { return e.Err }

// Converter converts values decoded by encoding/json (with UseNumber) into
// cty values of a type. The zero Converter is the dataset artifact's
// reader: every field must be present and known. The hooks let other
// readers (the dataset operator's CSV and Parquet sources) accept more.
type Converter struct {
	// AllowExtra ignores object fields the type does not have.
	AllowExtra bool
	// Lenient lets missing object fields be null (optional attributes
	// may always be missing).
	Lenient bool
	// Before, when set, sees every non-null value of a known type first;
	// ok true means it decided (v or err).
	Before func(x any, ty cty.Type, path string) (v cty.Value, ok bool, err error)
	// Number converts a numeric value; ok false means x is not a number.
	// The default takes json.Number (see ParseNumber).
	Number func(x any) (v cty.Value, ok bool, err error)
	// Scalar converts other values of unknown type (Implied); ok false
	// means x is not a JSON value.
	Scalar func(x any) (v cty.Value, ok bool)
	// Error, when set, turns a mismatch into the error returned.
	Error func(e *ConvError) error
}

// FromJSON converts x, decoded by encoding/json with UseNumber, to type
// ty, as the dataset reader does; errors name the field under path.
func FromJSON(x any, ty cty.Type, path string) (cty.Value, error) {
	return Converter{}.Convert(x, ty, path)
}

// Implied converts x, decoded by encoding/json with UseNumber, to the value
// of its own type: arrays become tuples, objects objects, so re-encoding
// gives the same bytes.
func Implied(x any, path string) (cty.Value, error) { return Converter{}.Implied(x, path) }

func (c Converter) fail(e *ConvError) (cty.Value, error) {
	if c.Error != nil {
		return cty.NilVal, c.Error(e)
	}
	return cty.NilVal, e
}

func (c Converter) number(x any, path string) (cty.Value, bool, error) {
	if c.Number != nil {
		v, ok, err := c.Number(x)
		if err != nil {
			_, err = c.fail(&ConvError{Kind: BadNumber, Path: path, Found: x, Err: err})
		}
		return v, ok, err
	}
	n, ok := x.(json.Number)
	if !ok {
		return cty.NilVal, false, nil
	}
	v, err := ParseNumber(string(n))
	if err != nil {
		_, err = c.fail(&ConvError{Kind: BadNumber, Path: path, Found: x, Err: err})
		return cty.NilVal, true, err
	}
	return v, true, nil
}

// Convert converts x to type ty (see Converter).
func (c Converter) Convert(x any, ty cty.Type, path string) (cty.Value, error) {
	if x == nil {
		return cty.NullVal(ty), nil
	}
	if ty == cty.DynamicPseudoType {
		return c.Implied(x, path)
	}
	if c.Before != nil {
		if v, ok, err := c.Before(x, ty, path); ok {
			return v, err
		}
	}
	mismatch := func() (cty.Value, error) {
		return c.fail(&ConvError{Kind: Mismatch, Path: path, Want: ty, Found: x})
	}
	switch {
	case ty == cty.String:
		s, ok := x.(string)
		if !ok {
			return mismatch()
		}
		return cty.StringVal(s), nil
	case ty == cty.Number:
		v, ok, err := c.number(x, path)
		if err != nil {
			return cty.NilVal, err
		}
		if !ok {
			return mismatch()
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
				return cty.ListValEmpty(et.WithoutOptionalAttributesDeep()), nil
			}
			return cty.SetValEmpty(et.WithoutOptionalAttributesDeep()), nil
		}
		elems := make([]cty.Value, len(arr))
		for i, e := range arr {
			v, err := c.Convert(e, et, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return cty.NilVal, err
			}
			elems[i] = v
		}
		elems, err := c.Unify(elems, path)
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
			return c.fail(&ConvError{Kind: Count, Path: path, Want: ty, N: len(arr), M: len(ets)})
		}
		elems := make([]cty.Value, len(arr))
		for i, e := range arr {
			v, err := c.Convert(e, ets[i], path+"["+strconv.Itoa(i)+"]")
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
			return cty.MapValEmpty(et.WithoutOptionalAttributesDeep()), nil
		}
		keys := sortedKeys(obj)
		elems := make([]cty.Value, len(keys))
		for i, k := range keys {
			v, err := c.Convert(obj[k], et, path+"["+strconv.Quote(k)+"]")
			if err != nil {
				return cty.NilVal, err
			}
			elems[i] = v
		}
		elems, err := c.Unify(elems, path)
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
		if !c.AllowExtra {
			for k := range obj {
				if _, ok := atys[k]; !ok {
					return c.fail(&ConvError{Kind: Extra, Path: joinPath(path, k)})
				}
			}
		}
		if len(atys) == 0 {
			return cty.EmptyObjectVal, nil
		}
		attrs := make(map[string]cty.Value, len(atys))
		for name, at := range atys {
			e, ok := obj[name]
			if !ok && !c.Lenient && !ty.AttributeOptional(name) {
				return c.fail(&ConvError{Kind: Missing, Path: joinPath(path, name), Want: at})
			}
			v, err := c.Convert(e, at, joinPath(path, name))
			if err != nil {
				return cty.NilVal, err
			}
			attrs[name] = v
		}
		return cty.ObjectVal(attrs), nil
	}
	return c.fail(&ConvError{Kind: Unsupported, Path: path, Want: ty})
}

// Implied converts x to the value of its own type (see Implied).
func (c Converter) Implied(x any, path string) (cty.Value, error) {
	switch x := x.(type) {
	case nil:
		return cty.NullVal(cty.DynamicPseudoType), nil
	case string:
		return cty.StringVal(x), nil
	case bool:
		return cty.BoolVal(x), nil
	case []any:
		if len(x) == 0 {
			return cty.EmptyTupleVal, nil
		}
		elems := make([]cty.Value, len(x))
		for i, e := range x {
			v, err := c.Implied(e, path+"["+strconv.Itoa(i)+"]")
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
			v, err := c.Implied(e, joinPath(path, k))
			if err != nil {
				return cty.NilVal, err
			}
			attrs[k] = v
		}
		return cty.ObjectVal(attrs), nil
	}
	if c.Scalar != nil {
		if v, ok := c.Scalar(x); ok {
			return v, nil
		}
	}
	v, ok, err := c.number(x, path)
	if err != nil {
		return cty.NilVal, err
	}
	if ok {
		return v, nil
	}
	return c.fail(&ConvError{Kind: Unexpected, Path: path, Found: x})
}

// Unify makes collection elements one type (needed when the element type
// contains dynamic parts, e.g. list(any)).
func (c Converter) Unify(elems []cty.Value, path string) ([]cty.Value, error) {
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
		_, err := c.fail(&ConvError{Kind: NoCommon, Path: path})
		return nil, err
	}
	out := make([]cty.Value, len(elems))
	for i, e := range elems {
		if convs[i] == nil {
			out[i] = e
			continue
		}
		v, err := convs[i](e)
		if err != nil {
			_, err = c.fail(&ConvError{Kind: ElemConvert, Path: path, Index: i, Err: err})
			return nil, err
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
	if f, ok := decimalFraction(s); ok {
		return cty.NumberVal(f), nil
	}
	return cty.ParseNumberVal(s)
}

// pow10 are the exact big.Float powers of ten 10^0..10^40 (read only).
var pow10 = func() (p [41]*big.Float) {
	x := new(big.Int).SetInt64(1)
	for i := range p {
		p[i] = new(big.Float).SetInt(x)
		x.Mul(x, big.NewInt(10))
	}
	return p
}()

// decimalFraction handles a decimal with at most 19 significant digits
// and a negative power of ten (such as "0.123456"): m / 10^k, one correctly
// rounded 512-bit division of exact operands, which is the value
// big.ParseFloat gives at that precision (it also divides the exact
// mantissa by an exact power of five, scaling by two exactly).
func decimalFraction(s string) (*big.Float, bool) {
	i, neg := 0, false
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	var m uint64
	nd, frac, digits := 0, 0, 0
	seenDot := false
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if seenDot {
				return nil, false
			}
			seenDot = true
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		digits++
		if m != 0 || c != '0' {
			nd++
			if nd > 19 {
				return nil, false
			}
		}
		m = m*10 + uint64(c-'0')
		if seenDot {
			frac++
		}
	}
	if digits == 0 || m == 0 {
		return nil, false
	}
	exp := 0
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return nil, false
		}
		x, err := strconv.Atoi(s[i+1:])
		if err != nil || x > 100 || x < -100 {
			return nil, false
		}
		exp = x
	}
	k := frac - exp
	if k <= 0 || k >= len(pow10) {
		return nil, false
	}
	z := new(big.Float).SetPrec(512).SetMode(big.ToNearestEven).SetUint64(m)
	if neg {
		z.Neg(z) // before dividing, so the accuracy has the result's sign
	}
	return z.Quo(z, pow10[k]), true
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
