package ops

import (
	"fmt"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// utf8Rule is a dataset's rule for input bytes that are not UTF-8, the same
// for every reader: by default such a record is a record error that names
// the file, the line (or row) and the byte; with invalid_utf8 = "replace"
// each run of bad bytes becomes U+FFFD and the record is counted. Dataset
// blobs are UTF-8 (docs/store.md), so nothing else reaches the store.
type utf8Rule struct {
	replace  bool
	replaced atomic.Int64 // records with bytes replaced
}

// firstInvalid is the index of the first byte of b that does not start a
// valid UTF-8 sequence, or -1.
func firstInvalid[T string | []byte](b T) int {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(string(b[i:min(i+utf8.UTFMax, len(b))]))
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}

// fixString applies the rule to one string value of a record at loc
// (field names the field for the message): the string itself, replaced,
// or a record error. *touched is set when it replaced bytes.
func (u *utf8Rule) fixString(s, loc, field string, touched *bool) (string, error) {
	if utf8.ValidString(s) {
		return s, nil
	}
	if u != nil && u.replace {
		*touched = true
		return strings.ToValidUTF8(s, "\uFFFD"), nil
	}
	return "", &recordErr{loc, fmt.Errorf("field %q: %w", field, badUTF8(s, "the value", ""))}
}

// badUTF8 is the error for text s that is not UTF-8: the first bad byte,
// its position in what ("the value", "the line"), and more (", offset …")
// inside the parentheses.
func badUTF8[T string | []byte](s T, what, more string) error {
	at := firstInvalid(s)
	return fmt.Errorf("invalid UTF-8 at byte %d of %s (0x%02x%s); set invalid_utf8 = \"replace\" to replace such bytes with U+FFFD", at+1, what, s[at], more)
}

// fixValue applies the rule to every string in a decoded value (a
// Parquet row), in place.
func (u *utf8Rule) fixValue(v any, loc, field string, touched *bool) (any, error) {
	switch x := v.(type) {
	case string:
		return u.fixString(x, loc, field, touched)
	case []byte: // a Parquet BYTE_ARRAY without the STRING type: read as a string
		return u.fixString(string(x), loc, field, touched)
	case map[string]any:
		var renamed map[string]string
		for k := range x {
			if utf8.ValidString(k) {
				continue
			}
			if u == nil || !u.replace {
				return nil, &recordErr{loc, fmt.Errorf("field name %q: %w", k, badUTF8(k, "the name", ""))}
			}
			if renamed == nil {
				renamed = map[string]string{}
			}
			renamed[k] = strings.ToValidUTF8(k, "\uFFFD")
		}
		for old, k := range renamed {
			*touched = true
			x[k] = x[old]
			delete(x, old)
		}
		for k, e := range x {
			name := k
			if field != "" {
				name = field + "." + k
			}
			f, err := u.fixValue(e, loc, name, touched)
			if err != nil {
				return nil, err
			}
			x[k] = f
		}
	case []any:
		for i, e := range x {
			f, err := u.fixValue(e, loc, fmt.Sprintf("%s[%d]", field, i), touched)
			if err != nil {
				return nil, err
			}
			x[i] = f
		}
	}
	return v, nil
}
