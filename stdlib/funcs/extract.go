package funcs

import (
	"encoding/json"
	"math/big"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// ExtractNumberFunc returns the last number written in a string.
var ExtractNumberFunc = function.New(&function.Spec{
	Description: "Returns the last number written in the string, or null when there is none (or when the string is null): the usual way to read a final answer out of a completion (STaR, GSM8K). " +
		"A number is an optional sign, digits, and an optional decimal part: \"42\", \"-3\", \"+7\", \"0.5\", \".5\", \"1,234.56\" (commas are accepted only as thousands separators in groups of exactly three digits, so \"1,2\" is two numbers). " +
		"A sign counts only when it does not follow a letter or digit (\"5-3\" holds 5 and 3); the Unicode minus sign U+2212 is accepted. " +
		"Exponents are not recognised (\"1e5\" holds 1 and 5). The value is exact (decimal, not float).",
	Params: []function.Parameter{{
		Name:             "str",
		Description:      "The text to search, typically a model completion.",
		Type:             cty.String,
		AllowNull:        true,
		AllowDynamicType: true,
	}},
	Type: function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].IsNull() {
			return cty.NullVal(cty.Number), nil
		}
		n, ok := lastNumber(args[0].AsString())
		if !ok {
			return cty.NullVal(cty.Number), nil
		}
		return n, nil
	},
})

// ExtractIntFunc returns the last number written in a string if it is whole.
var ExtractIntFunc = function.New(&function.Spec{
	Description: "Like extract_number, but for integer answers: finds the last number in the string the same way and returns it when it is a whole number (\"12\", \"1,000\", \"12.0\"); returns null when the string is null, holds no number, or its last number has a fractional part (\"3.5\").",
	Params: []function.Parameter{{
		Name:             "str",
		Description:      "The text to search, typically a model completion.",
		Type:             cty.String,
		AllowNull:        true,
		AllowDynamicType: true,
	}},
	Type: function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].IsNull() {
			return cty.NullVal(cty.Number), nil
		}
		n, ok := lastNumber(args[0].AsString())
		if !ok || !n.AsBigFloat().IsInt() {
			return cty.NullVal(cty.Number), nil
		}
		return n, nil
	},
})

// ExtractJSONFunc decodes the first JSON object or array embedded in a string.
var ExtractJSONFunc = function.New(&function.Spec{
	Description: "Finds the first balanced JSON object or array in the string ({...} or [...], with brackets inside JSON strings ignored) that is valid JSON, and returns it decoded as jsondecode would (objects become objects, arrays tuples). " +
		"Text around it, such as prose or a ```json fence, is ignored; a balanced span that is not valid JSON is skipped. Returns null when there is none or the string is null. The result type is only known once the string is, so type checking sees a value of any type.",
	Params: []function.Parameter{{
		Name:             "str",
		Description:      "The text to search, typically a model completion.",
		Type:             cty.String,
		AllowNull:        true,
		AllowDynamicType: true,
	}},
	Type: function.StaticReturnType(cty.DynamicPseudoType),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].IsNull() {
			return cty.NullVal(cty.DynamicPseudoType), nil
		}
		src := []byte(args[0].AsString())
		for i := 0; i < len(src); i++ {
			if src[i] != '{' && src[i] != '[' {
				continue
			}
			end := balancedEnd(src, i)
			if end < 0 || !json.Valid(src[i:end]) {
				continue
			}
			span := src[i:end]
			ty, err := ctyjson.ImpliedType(span)
			if err != nil {
				continue
			}
			v, err := ctyjson.Unmarshal(span, ty)
			if err != nil {
				continue
			}
			return v, nil
		}
		return cty.NullVal(cty.DynamicPseudoType), nil
	},
})

// balancedEnd returns the index just past the bracket closing the one at
// src[start], or -1 when brackets do not balance. Brackets inside JSON
// strings are skipped.
func balancedEnd(src []byte, start int) int {
	var stack []byte
	inStr, esc := false, false
	for i := start; i < len(src); i++ {
		c := src[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{':
			stack = append(stack, '}')
		case '[':
			stack = append(stack, ']')
		case '}', ']':
			if len(stack) == 0 || stack[len(stack)-1] != c {
				return -1
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// lastNumber scans s for numbers as ExtractNumberFunc describes them and
// returns the last one.
func lastNumber(s string) (cty.Value, bool) {
	var last string
	found := false
	i := 0
	for i < len(s) {
		text, end, ok := numberAt(s, i)
		if !ok {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			continue
		}
		last, found = text, true
		i = end
	}
	if !found {
		return cty.NilVal, false
	}
	f, _, err := big.ParseFloat(last, 10, 512, big.ToNearestEven)
	if err != nil {
		return cty.NilVal, false
	}
	return cty.NumberVal(f), true
}

// numberAt reports whether a number starts at byte i of s (its sign
// included), returning its normalised text (no commas, ASCII minus) and the
// index just past it.
func numberAt(s string, i int) (text string, end int, ok bool) {
	prev := func(at int) rune {
		if at == 0 {
			return -1
		}
		r, _ := utf8.DecodeLastRuneInString(s[:at])
		return r
	}
	alnum := func(r rune) bool { return r >= 0 && (unicode.IsLetter(r) || unicode.IsDigit(r)) }
	isDigit := func(at int) bool { return at < len(s) && s[at] >= '0' && s[at] <= '9' }

	neg := false
	j := i
	// Optional sign, only when not glued to a preceding word or number.
	if r, size := utf8.DecodeRuneInString(s[i:]); r == '-' || r == '+' || r == '\u2212' {
		if alnum(prev(i)) {
			return "", 0, false
		}
		neg = r != '+'
		j = i + size
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	switch {
	case isDigit(j):
		k := j
		for isDigit(k) {
			k++
		}
		b.WriteString(s[j:k])
		if k-j <= 3 {
			// Thousands groups: ",ddd" not followed by another digit.
			for k+4 <= len(s) && s[k] == ',' && isDigit(k+1) && isDigit(k+2) && isDigit(k+3) && !isDigit(k+4) {
				b.WriteString(s[k+1 : k+4])
				k += 4
			}
		}
		if k+1 < len(s) && s[k] == '.' && isDigit(k+1) {
			m := k + 1
			for isDigit(m) {
				m++
			}
			b.WriteString(s[k:m])
			k = m
		}
		return b.String(), k, true
	case j < len(s) && s[j] == '.' && isDigit(j+1):
		// ".5": a leading-dot decimal, not a fragment of "3.5" or a word.
		if j == i && (alnum(prev(i)) || prev(i) == '.') {
			return "", 0, false
		}
		m := j + 1
		for isDigit(m) {
			m++
		}
		b.WriteString("0")
		b.WriteString(s[j:m])
		return b.String(), m, true
	}
	return "", 0, false
}
