package pattern

import (
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func digitsEnd(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// scanNumber returns the end of the number at text[pos:], or -1.
//
//	number    = [ "+" | "-" ] ( integer [ "." digits ] | "." digits ) [ exponent ]
//	integer   = digits | d [d [d]] ( "," d d d )+
//	exponent  = ( "e" | "E" ) [ "+" | "-" ] digits   (at most 8 digits)
//
// A number never starts right after a digit or after "<digit>.", so that
// {n:int} does not find "5" inside "12.5". For an int the number must have
// an integral value ("12", "1,200", "12.0", "1e3").
func scanNumber(text string, pos int, integral bool) int {
	if pos > 0 && (isDigit(text[pos-1]) || text[pos-1] == '.' && pos > 1 && isDigit(text[pos-2])) {
		return -1
	}
	i := pos
	if i < len(text) && (text[i] == '+' || text[i] == '-') {
		i++
	}
	intStart := i
	i = digitsEnd(text, i)
	if n := i - intStart; n >= 1 && n <= 3 {
		// thousands separators: ",ddd" groups not followed by a digit
		for i+4 <= len(text) && text[i] == ',' && isDigit(text[i+1]) && isDigit(text[i+2]) && isDigit(text[i+3]) &&
			(i+4 == len(text) || !isDigit(text[i+4])) {
			i += 4
		}
	}
	hasInt := i > intStart
	exact := true
	if i+1 < len(text) && text[i] == '.' && isDigit(text[i+1]) {
		i = digitsEnd(text, i+1)
		exact = false
	}
	if !hasInt && exact {
		return -1
	}
	if i < len(text) && (text[i] == 'e' || text[i] == 'E') {
		j := i + 1
		if j < len(text) && (text[j] == '+' || text[j] == '-') {
			j++
		}
		if k := digitsEnd(text, j); k > j && k-j <= 8 {
			i = k
			exact = false
		}
	}
	if integral && !exact {
		f, _, err := big.ParseFloat(numberText(text[pos:i]), 10, 512, big.ToNearestEven)
		if err != nil || !f.IsInt() {
			return -1
		}
	}
	return i
}

// numberText drops thousands separators and a leading "+".
func numberText(s string) string {
	s = strings.TrimPrefix(s, "+")
	if strings.IndexByte(s, ',') >= 0 {
		s = strings.ReplaceAll(s, ",", "")
	}
	return s
}

func numberValue(s string) cty.Value {
	s = numberText(s)
	if len(s) <= 18 && strings.IndexAny(s, ".eE") < 0 {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return cty.NumberIntVal(n)
		}
	}
	v, err := cty.ParseNumberVal(s)
	if err != nil { // cannot happen for what scanNumber accepts
		return cty.NullVal(cty.Number)
	}
	return v
}

func stringValue(s string) cty.Value {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return cty.StringVal(s)
}

// jsonValue decodes a JSON value scanJSON accepted (of a duplicate key the
// last value wins). It fails for what cty cannot hold, e.g. 1e999999999.
func jsonValue(s string) (cty.Value, bool) {
	buf := []byte(s)
	ty, err := ctyjson.ImpliedType(buf)
	if err != nil {
		return cty.NilVal, false
	}
	v, err := ctyjson.Unmarshal(buf, ty)
	if err != nil {
		return cty.NilVal, false
	}
	return v, true
}

const maxJSONDepth = 256

// scanJSON returns the end of the JSON value (RFC 8259) at text[pos:], or
// -1. A number is the longest JSON number there.
func scanJSON(text string, pos int) int {
	return jsonValueEnd(text, pos, 0)
}

func jsonSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

func jsonValueEnd(s string, i, depth int) int {
	if i >= len(s) || depth > maxJSONDepth {
		return -1
	}
	switch c := s[i]; {
	case c == '{':
		i = jsonSpace(s, i+1)
		if i < len(s) && s[i] == '}' {
			return i + 1
		}
		for {
			if i >= len(s) || s[i] != '"' {
				return -1
			}
			if i = jsonStringEnd(s, i); i < 0 {
				return -1
			}
			i = jsonSpace(s, i)
			if i >= len(s) || s[i] != ':' {
				return -1
			}
			if i = jsonValueEnd(s, jsonSpace(s, i+1), depth+1); i < 0 {
				return -1
			}
			i = jsonSpace(s, i)
			if i >= len(s) {
				return -1
			}
			if s[i] == '}' {
				return i + 1
			}
			if s[i] != ',' {
				return -1
			}
			i = jsonSpace(s, i+1)
		}
	case c == '[':
		i = jsonSpace(s, i+1)
		if i < len(s) && s[i] == ']' {
			return i + 1
		}
		for {
			if i = jsonValueEnd(s, i, depth+1); i < 0 {
				return -1
			}
			i = jsonSpace(s, i)
			if i >= len(s) {
				return -1
			}
			if s[i] == ']' {
				return i + 1
			}
			if s[i] != ',' {
				return -1
			}
			i = jsonSpace(s, i+1)
		}
	case c == '"':
		return jsonStringEnd(s, i)
	case c == '-' || isDigit(c):
		return jsonNumberEnd(s, i)
	case strings.HasPrefix(s[i:], "true"):
		return i + 4
	case strings.HasPrefix(s[i:], "false"):
		return i + 5
	case strings.HasPrefix(s[i:], "null"):
		return i + 4
	}
	return -1
}

func jsonStringEnd(s string, i int) int {
	for i++; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(s) {
				return -1
			}
			switch s[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s) {
					return -1
				}
				for _, h := range []byte(s[i+1 : i+5]) {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

func jsonNumberEnd(s string, i int) int {
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && isDigit(s[i]):
		i = digitsEnd(s, i)
	default:
		return -1
	}
	if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		i = digitsEnd(s, i+1)
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if k := digitsEnd(s, j); k > j {
			i = k
		}
	}
	return i
}
