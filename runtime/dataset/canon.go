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

// appendNumber writes the canonical form of f: the shortest decimal that
// reads back as the same number (at float64 precision when f is exactly a
// float64, else at f's own precision), laid out as JavaScript does: plain
// digits for 1e-6 <= |f| < 1e21, exponent form ("1e+21", "1.5e-7") outside.
//
// The common cases avoid big.Float.Text, which costs microseconds at the
// 512-bit precision numbers read back from an artifact have (see
// ParseNumber): a float64 (or small integer) is formatted by strconv, and a
// value of higher precision first tries the float64 shortest form and keeps
// it when it parses back to exactly f at f's precision. For precision >= 64
// that candidate is then also f's own shortest form: it has at most 17
// significant digits, and two different such decimals are further apart
// than f's rounding interval is wide, so no shorter decimal rounds to f.
func appendNumber(buf []byte, f *big.Float, path string) ([]byte, error) {
	if f.IsInf() {
		return nil, fmt.Errorf("%s: infinity cannot be stored", fieldName(path))
	}
	if f.Sign() == 0 {
		return append(buf, '0'), nil
	}
	if e := f.MantExp(nil); e > maxBinaryExp || e < -maxBinaryExp {
		// Formatting such a number exactly did not finish in 20 s (its decimal
		// expansion has up to hundreds of millions of digits).
		return nil, fmt.Errorf("%s: the number is out of range (beyond 1e±4932)", fieldName(path))
	}
	var scratch [32]byte
	f64, acc := f.Float64()
	if acc == big.Exact {
		if i := int64(f64); float64(i) == f64 && i > -1<<53 && i < 1<<53 {
			return strconv.AppendInt(buf, i, 10), nil
		}
		return appendCanonical(buf, strconv.AppendFloat(scratch[:0], f64, 'e', -1, 64)), nil
	}
	if f.Prec() >= 64 && f64 != 0 && !math.IsInf(f64, 0) {
		e := strconv.AppendFloat(scratch[:0], f64, 'e', -1, 64)
		if back, _, err := big.ParseFloat(string(e), 10, f.Prec(), big.ToNearestEven); err == nil && back.Cmp(f) == 0 {
			return appendCanonical(buf, e), nil
		}
	}
	return appendCanonical(buf, []byte(f.Text('e', -1))), nil
}

// maxBinaryExp bounds the numbers a dataset can store: 2^±16384, about
// 1e±4932 (the range of IEEE quadruple precision).
const maxBinaryExp = 1 << 14

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
