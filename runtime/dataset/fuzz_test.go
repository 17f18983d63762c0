package dataset

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/lang/fuzztest"
)

// FuzzCanonicalNumber: the canonical text of a number is a fixed point
// (parsing it and writing it again gives the same bytes), the transcoder
// writes the same text from the literal, a float64 comes back from its
// canonical text as exactly itself, and an integer below 2^63 is written
// as its digits.
func FuzzCanonicalNumber(f *testing.F) {
	fuzztest.NoMinimize(f)
	for _, s := range []string{"0", "1", "-1", "2.5", "1e-7", "0.000061599999999999992", "9007199254740993", "1e308", "-0", "123456789012345678901234567890", "0.1", "5e-324", "1.7976931348623157e308", "9223372036854775807", "9223372036854775808", "1152921504606847000.5", "1e-400", "1e400", "12345678901234567890123e-30"} {
		f.Add(s, 0.0, int64(0))
	}
	f.Add("", math.SmallestNonzeroFloat64, int64(1)<<53-1)
	f.Add("", -1e-7, -int64(1)<<53+1)
	f.Add("", 1e300, int64(math.MaxInt64))
	f.Add("", 0x1p60+256, int64(math.MinInt64))
	f.Fuzz(func(t *testing.T, s string, x float64, i int64) {
		if v, err := ParseNumber(s); err == nil {
			b := fixedPoint(t, v)
			if tc, ok := appendNumberText(nil, s); b != nil && jsonNumber(s) && (!ok || string(tc) != string(b)) {
				t.Fatalf("%s is written %s but transcoded to %s (%v)", s, b, tc, ok)
			}
		}
		if !math.IsInf(x, 0) && !math.IsNaN(x) {
			b := fixedPoint(t, cty.NumberFloatVal(x))
			back, err := strconv.ParseFloat(string(b), 64)
			if err != nil || back != x && !(x == 0 && back == 0) {
				t.Fatalf("%v is written %s, which reads back as %v (%v)", x, b, back, err)
			}
		}
		if i != math.MinInt64 {
			if b := fixedPoint(t, cty.NumberIntVal(i)); string(b) != strconv.FormatInt(i, 10) {
				t.Fatalf("%d is written %s", i, b)
			}
		}
	})
}

// fixedPoint returns v's canonical text after checking that reading it and
// writing it again gives the same bytes (numbers out of range are refused
// both times alike).
func fixedPoint(t *testing.T, v cty.Value) []byte {
	t.Helper()
	b, err := AppendCanonical(nil, v)
	if err != nil {
		return nil
	}
	back, err := ParseNumber(string(b))
	if err != nil {
		t.Fatalf("canonical %s does not parse: %v", b, err)
	}
	again, err := AppendCanonical(nil, back)
	if err != nil || string(again) != string(b) {
		t.Fatalf("canonical %s reads back and is written %s (%v)", b, again, err)
	}
	return b
}

// jsonNumber reports whether s is a JSON number literal (what the
// transcoder sees; ParseNumber also takes "+1" and "1.").
func jsonNumber(s string) bool {
	return s != "" && (s[0] == '-' || s[0] >= '0' && s[0] <= '9') && json.Valid([]byte(s)) && strings.TrimSpace(s) == s
}
