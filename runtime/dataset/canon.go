package dataset

import (
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

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
func appendNumber(buf []byte, f *big.Float, path string) ([]byte, error) {
	if f.IsInf() {
		return nil, fmt.Errorf("%s: infinity cannot be stored", fieldName(path))
	}
	if f.Sign() == 0 {
		return append(buf, '0'), nil
	}
	var e string
	if f64, acc := f.Float64(); acc == big.Exact {
		if i := int64(f64); float64(i) == f64 && i > -1<<53 && i < 1<<53 {
			return strconv.AppendInt(buf, i, 10), nil
		}
		e = strconv.FormatFloat(f64, 'e', -1, 64)
	} else {
		e = f.Text('e', -1)
	}
	return append(buf, formatNumber(e)...), nil
}

// formatNumber turns "-d.ddde±XX" into the canonical layout.
func formatNumber(e string) string {
	neg := strings.HasPrefix(e, "-")
	e = strings.TrimPrefix(e, "-")
	mant, exps, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(exps)
	digits := strings.Replace(mant, ".", "", 1)
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		return "0"
	}
	k := len(digits)
	n := exp + 1 // position of the decimal point relative to the digits
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	switch {
	case k <= n && n <= 21:
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", n-k))
	case 0 < n && n <= 21:
		b.WriteString(digits[:n])
		b.WriteByte('.')
		b.WriteString(digits[n:])
	case -6 < n && n <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -n))
		b.WriteString(digits)
	default:
		b.WriteByte(digits[0])
		if k > 1 {
			b.WriteByte('.')
			b.WriteString(digits[1:])
		}
		b.WriteByte('e')
		if n-1 >= 0 {
			b.WriteByte('+')
		} else {
			b.WriteByte('-')
		}
		x := n - 1
		if x < 0 {
			x = -x
		}
		b.WriteString(strconv.Itoa(x))
	}
	return b.String()
}
