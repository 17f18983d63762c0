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

// refNumber is the original (slow) canonical encoder: float64 shortest
// form when f is exactly a float64, else big.Float.Text('e', -1).
func refNumber(f *big.Float) string {
	if f.Sign() == 0 {
		return "0"
	}
	if f64, acc := f.Float64(); acc == big.Exact {
		if i := int64(f64); float64(i) == f64 && i > -1<<53 && i < 1<<53 {
			return strconv.FormatInt(i, 10)
		}
		return string(appendCanonical(nil, []byte(strconv.FormatFloat(f64, 'e', -1, 64))))
	}
	return string(appendCanonical(nil, []byte(f.Text('e', -1))))
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
		if err != nil {
			t.Fatal(err)
		}
		if want := refNumber(f); string(got) != want {
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

// TestHugeNumbersAreRefused: a number far beyond any float (1e100000000
// parses quickly in big.Float) must be refused at once, not formatted for
// minutes; the record's error names it.
func TestHugeNumbersAreRefused(t *testing.T) {
	for _, s := range []string{"1e100000000", "-3e-100000000", "10E0000100001010"} {
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
	for _, s := range []string{"1e4000", "-2.5e-4000"} { // still in range
		v, _ := ParseNumber(s)
		if _, err := AppendCanonical(nil, v); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}
