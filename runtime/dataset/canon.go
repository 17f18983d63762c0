package dataset

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"

	"github.com/zclconf/go-cty/cty"
)

// appendValue appends the canonical JSON of v.
func appendValue(buf []byte, v cty.Value, path string) ([]byte, error) {
	if v.IsMarked() {
		return nil, fmt.Errorf("%s: marked (sensitive) values cannot be stored", fieldName(path))
	}
	if !v.IsKnown() {
		return nil, fmt.Errorf("%s: value is unknown", fieldName(path))
	}
	if v.IsNull() {
		return append(buf, "null"...), nil
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return appendString(buf, v.AsString()), nil
	case ty == cty.Number:
		return appendNumber(buf, v.AsBigFloat(), path)
	case ty == cty.Bool:
		if v.True() {
			return append(buf, "true"...), nil
		}
		return append(buf, "false"...), nil
	case ty.IsListType(), ty.IsSetType(), ty.IsTupleType():
		buf = append(buf, '[')
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			_, ev := it.Element()
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = appendValue(buf, ev, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return nil, err
			}
		}
		return append(buf, ']'), nil
	case ty.IsObjectType():
		atys := ty.AttributeTypes()
		names := make([]string, 0, len(atys))
		for n := range atys {
			names = append(names, n)
		}
		sort.Strings(names)
		buf = append(buf, '{')
		for i, n := range names {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, n)
			buf = append(buf, ':')
			var err error
			if buf, err = appendValue(buf, v.GetAttr(n), joinPath(path, n)); err != nil {
				return nil, err
			}
		}
		return append(buf, '}'), nil
	case ty.IsMapType():
		m := v.AsValueMap()
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
		buf = append(buf, '{')
		for i, n := range names {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, n)
			buf = append(buf, ':')
			var err error
			if buf, err = appendValue(buf, m[n], path+"["+strconv.Quote(n)+"]"); err != nil {
				return nil, err
			}
		}
		return append(buf, '}'), nil
	default:
		return nil, fmt.Errorf("%s: values of type %s cannot be stored in a dataset", fieldName(path), ty.FriendlyName())
	}
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func fieldName(path string) string {
	if path == "" {
		return "record"
	}
	return "field " + strconv.Quote(path)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string, escaping only '"', '\\' and
// control characters (the short escapes where JSON has them).
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		case '\b':
			buf = append(buf, '\\', 'b')
		case '\f':
			buf = append(buf, '\\', 'f')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// appendNumber writes the canonical form of f. There is one text per
// value a dataset can hold:
//
//   - an integer of magnitude below 2^63 is its decimal digits, exactly
//     ("9007199254740993", "-42");
//   - any other number is first rounded to the nearest float64 (ties to
//     even), and that float64 is written by appendFloat.
//
// So a non-integer with more precision than a float64 (HCL arithmetic
// keeps 512 bits: 0.000061599999999999992) is stored as the float64 it
// rounds to (0.00006159999999999999), which is what every JSON, CSV or
// Parquet reader outside ouro would make of it anyway; numbers beyond the
// float64 range are refused, and those too small for it become 0.
func appendNumber(buf []byte, f *big.Float, path string) ([]byte, error) {
	if f.IsInf() {
		return nil, fmt.Errorf("%s: infinity cannot be stored", fieldName(path))
	}
	if f.Sign() == 0 {
		return append(buf, '0'), nil
	}
	if f.IsInt() {
		if i, acc := f.Int64(); acc == big.Exact && i != math.MinInt64 {
			return strconv.AppendInt(buf, i, 10), nil
		}
	}
	f64, _ := f.Float64() // nearest, ties to even, whatever f's own mode
	return appendFloat(buf, f64, path)
}

// appendFloat writes the canonical form of the float64 f: its digits when
// f is an integer of magnitude below 2^63, else the shortest decimal that
// reads back as f (strconv's 'e', -1 digits), laid out as JavaScript's
// Number.prototype.toString and RFC 8785 do: plain digits for
// 1e-6 <= |f| < 1e21, exponent form ("1e+21", "1.5e-7") outside.
func appendFloat(buf []byte, f float64, path string) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("%s: the number is out of range (beyond ±1.7976931348623157e+308, the largest float64)", fieldName(path))
	}
	if f == 0 {
		return append(buf, '0'), nil
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
		return strconv.AppendInt(buf, int64(f), 10), nil
	}
	var scratch [32]byte
	return appendCanonical(buf, strconv.AppendFloat(scratch[:0], f, 'e', -1, 64)), nil
}

// AppendFloat appends the canonical text of the float64 f, as a dataset
// stores it (an error for infinities and NaN).
func AppendFloat(buf []byte, f float64) ([]byte, error) { return appendFloat(buf, f, "") }

// appendCanonical appends the canonical layout of e, which is in the form
// "-d.ddde±XX" (as strconv and big.Float format with 'e').
func appendCanonical(buf, e []byte) []byte {
	neg := len(e) > 0 && e[0] == '-'
	if neg {
		e = e[1:]
	}
	mant, exps := e, []byte(nil)
	if i := bytes.IndexByte(e, 'e'); i >= 0 {
		mant, exps = e[:i], e[i+1:]
	}
	exp := 0
	if len(exps) > 0 {
		expNeg := exps[0] == '-'
		if exps[0] == '-' || exps[0] == '+' {
			exps = exps[1:]
		}
		for _, c := range exps {
			exp = exp*10 + int(c-'0')
		}
		if expNeg {
			exp = -exp
		}
	}
	// digits = mant without the '.' and without trailing zeros.
	var dbuf [64]byte
	digits := dbuf[:0]
	for _, c := range mant {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		return append(buf, '0')
	}
	k := len(digits)
	n := exp + 1 // position of the decimal point relative to the digits
	if neg {
		buf = append(buf, '-')
	}
	switch {
	case k <= n && n <= 21:
		buf = append(buf, digits...)
		for i := k; i < n; i++ {
			buf = append(buf, '0')
		}
	case 0 < n && n <= 21:
		buf = append(buf, digits[:n]...)
		buf = append(buf, '.')
		buf = append(buf, digits[n:]...)
	case -6 < n && n <= 0:
		buf = append(buf, '0', '.')
		for i := 0; i < -n; i++ {
			buf = append(buf, '0')
		}
		buf = append(buf, digits...)
	default:
		buf = append(buf, digits[0])
		if k > 1 {
			buf = append(buf, '.')
			buf = append(buf, digits[1:]...)
		}
		buf = append(buf, 'e')
		x := n - 1
		if x >= 0 {
			buf = append(buf, '+')
		} else {
			buf = append(buf, '-')
			x = -x
		}
		buf = strconv.AppendInt(buf, int64(x), 10)
	}
	return buf
}

// AppendCanonical appends the canonical JSON of v, as a dataset line holds
// it.
func AppendCanonical(buf []byte, v cty.Value) ([]byte, error) {
	return appendValue(buf, v, "")
}

// AppendString appends s as a canonical JSON string.
func AppendString(buf []byte, s string) []byte { return appendString(buf, s) }
