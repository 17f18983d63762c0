package dataset

import (
	"math"
	"math/big"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// refNumber is the canonical rule written the slow way: an integer below
// 2^63 as big.Int digits, anything else through strconv.ParseFloat of its
// exact decimal expansion (so strconv, not big.Float, does the rounding to
// float64), laid out by appendCanonical (tested by TestCanonicalText).
func refNumber(f *big.Float) (string, bool) {
	if f.Sign() == 0 {
		return "0", true
	}
	if f.IsInt() {
		z, _ := f.Int(nil)
		if z.CmpAbs(new(big.Int).Lsh(big.NewInt(1), 63)) < 0 {
			return z.String(), true
		}
	}
	f64, err := strconv.ParseFloat(f.Text('e', 1200), 64)
	if err != nil || math.IsInf(f64, 0) {
		return "", false
	}
	if f64 == 0 {
		return "0", true
	}
	if f64 == math.Trunc(f64) && math.Abs(f64) < 1<<63 {
		return strconv.FormatInt(int64(f64), 10), true
	}
	return string(appendCanonical(nil, []byte(strconv.FormatFloat(f64, 'e', -1, 64)))), true
}

// TestCanonicalText pins the canonical text of numbers that matter: exact
// integers up to 2^63, everything else the float64 it rounds to, in the
// ECMAScript layout.
func TestCanonicalText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"0", "0"}, {"-0", "0"}, {"1", "1"}, {"-1", "-1"}, {"2.50", "2.5"}, {"0.1", "0.1"}, {"100e-2", "1"},
		{"0.000061599999999999992", "0.00006159999999999999"},
		{"9007199254740992", "9007199254740992"}, {"9007199254740993", "9007199254740993"}, {"-9007199254740993", "-9007199254740993"},
		{"9223372036854775807", "9223372036854775807"}, {"-9223372036854775807", "-9223372036854775807"},
		{"9223372036854775808", "9223372036854776000"}, {"-9223372036854775808", "-9223372036854776000"},
		{"1152921504606847000.5", "1152921504606846976"}, // rounds to the float64 2^60, an integer
		{"123456789012345678901234567890", "1.2345678901234568e+29"},
		{"1e20", "100000000000000000000"}, {"1e21", "1e+21"}, {"1.5e300", "1.5e+300"},
		{"0.000001", "0.000001"}, {"1e-7", "1e-7"}, {"-2.5e-10", "-2.5e-10"}, {"0.30000000000000004", "0.30000000000000004"},
		{"0.1000000000000000055511151231257827", "0.1"}, {"5e-324", "5e-324"}, {"2e-324", "0"}, {"1e-400", "0"}, {"-1e-400", "0"},
		{"1.7976931348623157e308", "1.7976931348623157e+308"},
	} {
		v, err := ParseNumber(c.in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendCanonical(nil, v)
		if err != nil || string(got) != c.want {
			t.Errorf("%s is written %s (%v), want %s", c.in, got, err, c.want)
		}
		if tc, ok := appendNumberText(nil, c.in); !ok || string(tc) != c.want {
			t.Errorf("%s is transcoded to %s, want %s", c.in, tc, c.want)
		}
	}
	third := cty.NumberIntVal(1).Divide(cty.NumberIntVal(3))
	if got, _ := AppendCanonical(nil, third); string(got) != "0.3333333333333333" {
		t.Errorf("1/3 is written %s", got)
	}
	if got, _ := AppendCanonical(nil, cty.MustParseNumberVal("0.1").Multiply(cty.NumberIntVal(3))); string(got) != "0.3" {
		t.Errorf("0.1*3 is written %s", got)
	}
}

func numberStrings(r *rand.Rand, n int) []string {
	fixed := []string{"0", "-0", "1", "-1", "0.1", "0.5", "1.5", "-2.5e-10", "1e21", "1e+21", "1E-7",
		"9007199254740992", "9007199254740993", "-9007199254740993", "123456789012345678901234567890",
		"0.30000000000000004", "3.14159", "1e308", "1e-320", "2.5e-324", "4.9e-324", "1e400", "0.000001",
		"1234567.5", "0.0000000000000000000000000001", "12345678901234567", "0.25e2", "100e-2", "7.0", "0.125"}
	out := append([]string(nil), fixed...)
	for len(out) < n {
		var s string
		switch r.Intn(5) {
		case 0:
			s = strconv.FormatFloat(r.Float64()*math.Pow(10, float64(r.Intn(40)-20)), 'g', -1, 64)
		case 1:
			s = strconv.FormatFloat(r.NormFloat64(), 'f', r.Intn(8), 64)
		case 2:
			s = strconv.FormatInt(r.Int63n(1<<60)-1<<59, 10)
		case 3:
			s = strconv.FormatFloat(float64(r.Intn(1<<20))/float64(int(1)<<r.Intn(30)), 'g', -1, 64)
		default:
			s = strconv.Itoa(r.Intn(1000)) + "." + strconv.Itoa(r.Intn(100000)) + "e" + strconv.Itoa(r.Intn(60)-30)
		}
		out = append(out, s)
	}
	return out
}

func TestParseNumberSameAsCty(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, s := range numberStrings(r, 20000) {
		want, werr := cty.ParseNumberVal(s)
		got, gerr := ParseNumber(s)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%s: err %v vs %v", s, gerr, werr)
		}
		if werr != nil {
			continue
		}
		a, b := got.AsBigFloat(), want.AsBigFloat()
		if a.Cmp(b) != 0 || a.Prec() != b.Prec() || a.Mode() != b.Mode() || a.Signbit() != b.Signbit() || a.Acc() != b.Acc() {
			t.Fatalf("%s: got %v prec %d, want %v prec %d", s, a, a.Prec(), b, b.Prec())
		}
	}
}

func TestAppendNumberSameAsText(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	check := func(f *big.Float) {
		if f.IsInf() {
			return
		}
		got, err := appendNumber(nil, f, "x")
		want, ok := refNumber(f)
		if (err == nil) != ok {
			t.Fatalf("%s (prec %d): err %v, reference ok %v", f.Text('e', 40), f.Prec(), err, ok)
		}
		if ok && string(got) != want {
			t.Fatalf("%s (prec %d): got %s, want %s", f.Text('e', 40), f.Prec(), got, want)
		}
	}
	three := big.NewFloat(3)
	for _, s := range numberStrings(r, 20000) {
		v, err := cty.ParseNumberVal(s)
		if err != nil {
			continue
		}
		f := v.AsBigFloat()
		check(f)
		check(new(big.Float).Mul(f, three))
		check(new(big.Float).Quo(f, three))
		check(new(big.Float).SetPrec(64).Set(f))
		check(new(big.Float).SetPrec(60).Set(f))
		if f64, err := strconv.ParseFloat(s, 64); err == nil {
			check(big.NewFloat(f64))
		}
		// The transcoder's text path agrees with the value path.
		if want, err := appendNumber(nil, f, "x"); err == nil {
			if got, ok := appendNumberText(nil, s); !ok || string(got) != string(want) {
				t.Fatalf("%s: transcoded to %s, written %s", s, got, want)
			}
		}
	}
}

func BenchmarkAppendNumber(b *testing.B) {
	vals := []cty.Value{cty.MustParseNumberVal("0.734"), cty.MustParseNumberVal("12345"), cty.NumberFloatVal(0.1)}
	buf := make([]byte, 0, 64)
	for i := 0; i < b.N; i++ {
		for _, v := range vals {
			buf, _ = appendNumber(buf[:0], v.AsBigFloat(), "x")
		}
	}
}

func BenchmarkParseNumber(b *testing.B) {
	for i := 0; i < b.N; i++ {
		ParseNumber("0.734")
		ParseNumber("12345")
		ParseNumber("1.5")
	}
}

// decimalFraction gives exactly cty.ParseNumberVal's value and precision.
func TestDecimalFractionMatchesParse(t *testing.T) {
	rng := rand.New(rand.NewSource(56))
	cases := []string{"0.123456", "-0.5", "1.25e-3", "123.456", "0.1", "9999999999999999999e-20", "1e-40", "5.0e-1", "12345678901234567890e-5"}
	for i := 0; i < 20000; i++ {
		f := rng.Float64() * math.Pow(10, float64(rng.Intn(20)-10))
		cases = append(cases, strconv.FormatFloat(f, 'f', rng.Intn(12), 64), strconv.FormatFloat(-f, 'g', 1+rng.Intn(18), 64))
	}
	for _, s := range cases {
		got, ok := decimalFraction(s)
		if !ok {
			continue
		}
		want, err := cty.ParseNumberVal(s)
		if err != nil {
			t.Fatal(s, err)
		}
		w := want.AsBigFloat()
		if got.Cmp(w) != 0 || got.Prec() != w.Prec() || got.Mode() != w.Mode() || got.Acc() != w.Acc() || got.Signbit() != w.Signbit() {
			t.Fatalf("%s: got %s (prec %d), want %s (prec %d)", s, got.Text('g', 60), got.Prec(), w.Text('g', 60), w.Prec())
		}
	}
}

// TestHugeNumbersAreRefused: a number beyond the float64 range (even one
// like 1e100000000, which parses quickly in big.Float) is refused at once,
// and the record's error names it; one too small for a float64 is 0.
func TestHugeNumbersAreRefused(t *testing.T) {
	for _, s := range []string{"1e100000000", "-3e100000000", "10E0000100001010", "1e4000", "1.8e308", "-1e309"} {
		v, err := ParseNumber(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := AppendCanonical(nil, v); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Fatalf("%s: err = %v", s, err)
		}
		if _, ok := NewTranscoder(cty.Object(map[string]cty.Type{"n": cty.Number})).Append(nil, []byte(`{"n":`+s+`}`)); ok {
			t.Fatalf("%s: the transcoder wrote it", s)
		}
	}
	for _, s := range []string{"-2.5e-4000", "3e-100000000"} {
		v, _ := ParseNumber(s)
		if b, err := AppendCanonical(nil, v); err != nil || string(b) != "0" {
			t.Fatalf("%s: %s, %v", s, b, err)
		}
	}
}
