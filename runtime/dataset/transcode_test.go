package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// The transcoder writes exactly what decoding and writing the record
// would, or gives up.
func TestTranscoderMatchesWriter(t *testing.T) {
	ty := cty.ObjectWithOptionalAttrs(map[string]cty.Type{"s": cty.String, "n": cty.Number, "b": cty.Bool, "o": cty.String}, []string{"o"})
	rtype := ty.WithoutOptionalAttributesDeep()
	tc := NewTranscoder(ty)
	if tc == nil {
		t.Fatal("no transcoder for a flat schema")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var lines []string
	for _, n := range []string{"0", "-0", "-0.0", "1", "1.5", "0.1", "0.123456", "1e21", "1e22", "1e-7", "123456789012345", "1234567890123456", "12345678901234567890",
		"0.30000000000000001", "1e-400", "1e400", "2.5e-310", "-12.5e3", "9007199254740993", "1E5", "1e+2", "01", "1.", ".5", "-", "1.50", "100.0", "0.10e1", "0.1000000000000000055511151231257827", "1.7976931348623157e308", "4.9e-324", "2.2250738585072014e-308", "123.456e-2"} {
		lines = append(lines, fmt.Sprintf(`{"n":%s,"s":"x","b":true}`, n))
	}
	for i := 0; i < 3000; i++ {
		f := rng.NormFloat64() * math.Pow(10, float64(rng.IntN(80)-40))
		n := strconv.FormatFloat(f, 'g', 1+rng.IntN(17), 64)
		lines = append(lines, fmt.Sprintf(`{"b":false,"n":%s,"s":"y"}`, n))
	}
	lines = append(lines,
		`{"s":"e\u0301 \u00e9 <&> \t \u0001 \ud83d\ude00","n":1,"b":null,"o":"z","extra":[1,{"a":2}]}`,
		`{"s":"a","n":1}`, `{"s":1,"n":1,"b":true}`, `{"s":"a","s":"b","n":1,"b":true}`, `{"s":"\ud800","n":1,"b":true}`,
		"{\"s\":\"\xff\",\"n\":1,\"b\":true}", `{"s":"a","n":1,"b":true} x`, ` {"s" : "a", "n" : 1, "b" : true} `,
	)
	for _, line := range lines {
		got, ok := tc.Append(nil, []byte(line))
		v, dok := Decode([]byte(line), ty, DecodeOptions{AllowExtra: true})
		if !ok {
			continue
		}
		if !dok {
			t.Errorf("%s: transcoded a line Decode rejects", line)
			continue
		}
		if !v.Type().Equals(rtype) {
			v, _ = conform(v, ty)
		}
		want, err := appendValue(nil, v, "")
		if err != nil {
			t.Errorf("%s: transcoded a line the writer rejects: %v", line, err)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("%s:\ngot  %s\nwant %s", line, got, want)
		}
	}
	if _, ok := tc.Append(nil, []byte(lines[0])); !ok {
		t.Error("gave up on a plain line")
	}
}

// TestCanonicalDecimal checks the transcoder's shortcut: a literal it
// passes through unchanged is exactly what appendNumberText (the general
// canonical form) writes.
func TestCanonicalDecimal(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	lits := []string{"0", "-0", "1", "-1", "0.5", "0.1", "10", "1.0", "0.000001", "0.0000001", "123456789012345", "1234567890123456",
		"0.123456789012345", "0.1234567890123456", "00.5", "1e5", "-0.75", "999999999999999", "9.99999999999999", "5.", ".5"}
	for range 200000 {
		var b []byte
		if r.IntN(2) == 0 {
			b = append(b, '-')
		}
		b = strconv.AppendInt(b, int64(r.IntN(1000000)), 10)
		if r.IntN(3) > 0 {
			b = append(b, '.')
			for range 1 + r.IntN(16) {
				b = append(b, byte('0'+r.IntN(10)))
			}
		}
		lits = append(lits, string(b))
	}
	passed := 0
	for _, s := range lits {
		if !canonicalDecimal(s) {
			continue
		}
		passed++
		got, ok := appendNumberText(nil, s)
		if !ok || string(got) != s {
			t.Fatalf("canonicalDecimal(%q) but its canonical form is %q", s, got)
		}
	}
	if passed < len(lits)/4 {
		t.Fatalf("only %d of %d literals took the shortcut", passed, len(lits))
	}
}
