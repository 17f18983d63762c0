package ops

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/ouroloop/ouro/runtime/dataset"
	"github.com/ouroloop/ouro/runtime/runtimetest"
)

// jsonLine rewrites a canonical line into exactly ctyjson's bytes.
func TestJSONLineMatchesCtyJSON(t *testing.T) {
	num := func(s string) cty.Value { v, _ := dataset.ParseNumber(s); return v }
	big1 := cty.NumberVal(new(big.Float).SetPrec(512).SetInt64(1).SetMantExp(big.NewFloat(1), 80))
	recs := []cty.Value{
		cty.ObjectVal(map[string]cty.Value{
			"s": cty.StringVal("a<b>&c \u2028 \u2029 \" \\ \n\t\b\f\x01 é 😀 e+5"), "n": num("1e21"), "m": num("-1.5e-7"),
			"z": num("0"), "i": num("123456789012345678901234567890"), "f": num("0.1"), "g": num("-2.5e300"),
			"h": num("1e-6"), "l": cty.ListVal([]cty.Value{num("1e-10"), num("3")}), "b": cty.True, "nul": cty.NullVal(cty.String),
			"o": cty.ObjectVal(map[string]cty.Value{"<k>": cty.StringVal("&")}), "t": cty.TupleVal([]cty.Value{cty.StringVal("x"), big1}),
			"mp": cty.MapVal(map[string]cty.Value{"a\u2028": num("7.25")}),
		}),
	}
	bs := runtimetest.New(t, nil).Blobs
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		f := rng.NormFloat64() * math.Pow(10, float64(rng.IntN(60)-30))
		s := strconv.FormatFloat(f, 'g', 1+rng.IntN(20), 64)
		recs = append(recs, cty.ObjectVal(map[string]cty.Value{"n": num(s), "f": cty.NumberFloatVal(f)}))
	}
	for _, rec := range recs {
		d, _, err := dataset.WriteValues(bs, rec.Type(), []cty.Value{rec})
		if err != nil {
			t.Fatal(err)
		}
		r, c, err := dataset.OpenBlob(bs, d)
		if err != nil {
			t.Fatal(err)
		}
		line, err := r.NextLine()
		if err != nil {
			t.Fatal(err)
		}
		back, err := r.DecodeLine(line, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		want, err := ctyjson.Marshal(back, back.Type())
		if err != nil {
			t.Fatal(err)
		}
		got, ok := jsonLine(nil, line)
		if !ok || string(got) != string(want) {
			t.Errorf("line %s\ngot  %s\nwant %s", line, got, want)
		}
	}
}
