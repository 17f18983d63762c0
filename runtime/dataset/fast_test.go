package dataset

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// The fast decoder gives the slow path's value or gives up.
func TestDecodeMatchesSlowPath(t *testing.T) {
	ty := cty.Object(map[string]cty.Type{
		"s": cty.String, "n": cty.Number, "b": cty.Bool,
		"l": cty.List(cty.Number), "d": cty.DynamicPseudoType,
		"m": cty.Map(cty.String), "o": cty.Object(map[string]cty.Type{"x": cty.String}),
		"t": cty.Tuple([]cty.Type{cty.String, cty.Number}), "la": cty.List(cty.DynamicPseudoType),
	})
	lines := []string{
		`{"b":true,"d":null,"l":[],"la":[],"m":{},"n":1,"o":{"x":"y"},"s":"a","t":["x",2]}`,
		`{"b":false,"d":[1,"a",{"k":[true]}],"l":[1,2.5,-0,1e300,0.1],"la":[1,"a"],"m":{"z":"1","a":"2"},"n":-12345678901234567890.5,"o":null,"s":"\u00e9\n\t\"\\\/\ud83d\ude00 é","t":null}`,
		` { "s" : "x" , "n":0, "b":true, "l":null,"la":null,"m":null,"o":{"x":null},"t":["",0],"d":{} } `,
		`{"b":true,"d":1,"l":[1],"la":[[1],[2,3]],"m":{"a":"b"},"n":1E5,"o":{"x":"y"},"s":"e\u0301","t":["x",2]}`,
		// Not for the fast path (or not valid): must not be accepted wrongly.
		`{"b":true}`,
		`{"b":1,"d":null,"l":[],"la":[],"m":{},"n":1,"o":{"x":"y"},"s":"a","t":["x",2]}`,
		`{"b":true,"d":null,"l":[],"la":[],"m":{},"n":01,"o":{"x":"y"},"s":"a","t":["x",2]}`,
		`{"b":true,"d":null,"l":[],"la":[],"m":{},"n":1,"o":{"x":"y"},"s":"\ud800","t":["x",2]}`,
		`{"b":true,"d":null,"l":[],"la":[],"m":{},"n":1,"o":{"x":"y"},"s":"a","t":["x",2],"extra":1}`,
		`{"b":true,"d":null,"l":[],"la":[],"m":{},"n":1,"o":{"x":"y"},"s":"a","t":["x",2]} x`,
		`{"b":true,"b":true,"d":null,"l":[],"la":[],"m":{},"n":1,"o":{"x":"y"},"s":"a","t":["x",2]}`,
		"{\"b\":true,\"d\":null,\"l\":[],\"la\":[],\"m\":{},\"n\":1,\"o\":{\"x\":\"y\"},\"s\":\"\xff\",\"t\":[\"x\",2]}",
		`{"b":true,"d":null,"l":[],"la":[],"m":{},"n":1,"o":{"x":"y"},"s":"a","t":["x",2,3]}`,
		`null`, `[]`, `{`,
	}
	for _, line := range lines {
		fast, ok := Decode([]byte(line), ty, DecodeOptions{})
		slow, err := decodeRecord([]byte(line), ty)
		if !ok {
			continue
		}
		if err != nil {
			t.Errorf("%s: fast path accepted a line the slow path rejects (%v)", line, err)
			continue
		}
		if !fast.RawEquals(slow) {
			t.Errorf("%s:\nfast %#v\nslow %#v", line, fast, slow)
		}
	}
	if _, ok := Decode([]byte(lines[0]), ty, DecodeOptions{}); !ok {
		t.Error("fast path gave up on a plain line")
	}
	v, ok := Decode([]byte(lines[1]), ty, DecodeOptions{Only: map[string]bool{"n": true, "s": true}})
	if !ok || len(v.Type().AttributeTypes()) != 2 {
		t.Errorf("projection: %#v %v", v, ok)
	}
}
