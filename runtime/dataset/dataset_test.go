package dataset

import (
	"bytes"
	"io"
	"math/big"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime/store"
)

var qaSchema = cty.Object(map[string]cty.Type{
	"question": cty.String,
	"answer":   cty.Number,
	"tags":     cty.List(cty.String),
	"meta":     cty.DynamicPseudoType,
	"scores":   cty.Map(cty.Number),
	"ok":       cty.Bool,
	"nested":   cty.Object(map[string]cty.Type{"a": cty.Number, "b": cty.List(cty.Object(map[string]cty.Type{"c": cty.String}))}),
})

func qaRecord(q string, a cty.Value) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"question": cty.StringVal(q),
		"answer":   a,
		"tags":     cty.ListVal([]cty.Value{cty.StringVal("x"), cty.StringVal("y")}),
		"meta":     cty.ObjectVal(map[string]cty.Value{"z": cty.NumberIntVal(1), "list": cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.True, cty.NullVal(cty.DynamicPseudoType)})}),
		"scores":   cty.MapVal(map[string]cty.Value{"b": cty.NumberFloatVal(0.5), "a": cty.NumberIntVal(-3)}),
		"ok":       cty.True,
		"nested": cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(7), "b": cty.ListVal([]cty.Value{
			cty.ObjectVal(map[string]cty.Value{"c": cty.StringVal("deep")}),
		})}),
	})
}

func encode(t *testing.T, schema cty.Type, recs ...cty.Value) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, schema)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Count() != int64(len(recs)) {
		t.Fatalf("Count = %d", w.Count())
	}
	return buf.String()
}

func decodeAll(t *testing.T, s string) (cty.Type, []cty.Value) {
	t.Helper()
	r, err := NewReader(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return r.Schema(), recs
}

func TestGolden(t *testing.T) {
	got := encode(t, qaSchema, qaRecord("what is 2+2?", cty.NumberIntVal(4)))
	want := `{"ouro_dataset":1,"schema":["object",{"answer":"number","meta":"dynamic","nested":["object",{"a":"number","b":["list",["object",{"c":"string"}]]}],"ok":"bool","question":"string","scores":["map","number"],"tags":["list","string"]}]}
{"answer":4,"meta":{"list":["a",true,null],"z":1},"nested":{"a":7,"b":[{"c":"deep"}]},"ok":true,"question":"what is 2+2?","scores":{"a":-3,"b":0.5},"tags":["x","y"]}
`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	recs := []cty.Value{
		qaRecord("plain", cty.NumberIntVal(1)),
		qaRecord("ünïcödé — 日本語 🦀 \"quoted\" back\\slash\nnewline\ttab\x01ctl", cty.NumberFloatVal(3.25)),
		cty.ObjectVal(map[string]cty.Value{ // nulls everywhere
			"question": cty.NullVal(cty.String), "answer": cty.NullVal(cty.Number),
			"tags": cty.NullVal(cty.List(cty.String)), "meta": cty.NullVal(cty.DynamicPseudoType),
			"scores": cty.MapValEmpty(cty.Number), "ok": cty.NullVal(cty.Bool),
			"nested": cty.NullVal(qaSchema.AttributeType("nested")),
		}),
		qaRecord("big", cty.MustParseNumberVal("4611686018427387905")), // 2^62+1: integers below 2^63 are kept exactly
	}
	enc := encode(t, qaSchema, recs...)
	schema, back := decodeAll(t, enc)
	if !schema.Equals(qaSchema) {
		t.Fatalf("schema %#v", schema)
	}
	if len(back) != len(recs) {
		t.Fatalf("%d records back", len(back))
	}
	for i := range recs {
		// Dynamic fields come back with implied types (tuples, objects), so
		// compare through the canonical encoding, and the typed fields directly.
		if !back[i].GetAttr("question").RawEquals(recs[i].GetAttr("question")) {
			t.Errorf("record %d question: %#v", i, back[i].GetAttr("question"))
		}
		if a, b := back[i].GetAttr("answer"), recs[i].GetAttr("answer"); a.IsNull() != b.IsNull() || !a.IsNull() && a.Equals(b).False() {
			t.Errorf("record %d answer: %#v want %#v", i, a, b)
		}
	}
	if again := encode(t, qaSchema, back...); again != enc {
		t.Fatalf("re-encoding differs:\n%s\n%s", again, enc)
	}
}

func TestNumbers(t *testing.T) {
	cases := map[string]cty.Value{
		"0":                     cty.NumberFloatVal(0),
		"-1":                    cty.NumberIntVal(-1),
		"0.1":                   cty.NumberFloatVal(0.1),
		"0.1 ":                  cty.MustParseNumberVal("0.1"),
		"1234567.5":             cty.NumberFloatVal(1234567.5),
		"100000000000000000000": cty.NumberFloatVal(1e20),
		"1e+21":                 cty.NumberFloatVal(1e21),
		"0.000001":              cty.NumberFloatVal(1e-6),
		"1e-7":                  cty.NumberFloatVal(1e-7),
		"-2.5e-10":              cty.NumberFloatVal(-2.5e-10),
		"9007199254740993":      cty.MustParseNumberVal("9007199254740993"),
		"0.3333333333333333":    cty.NumberFloatVal(1.0 / 3),
	}
	for want, v := range cases {
		want = strings.TrimSpace(want)
		got, err := appendNumber(nil, v.AsBigFloat(), "x")
		if err != nil || string(got) != want {
			t.Errorf("%v: got %s %v, want %s", v.AsBigFloat(), got, err, want)
			continue
		}
		// Reading back and writing again gives the same text.
		back := cty.MustParseNumberVal(string(got))
		if again, _ := appendNumber(nil, back.AsBigFloat(), "x"); string(again) != want {
			t.Errorf("%s reads back as %s", want, again)
		}
	}
	if _, err := appendNumber(nil, new(big.Float).SetInf(false), "x"); err == nil {
		t.Error("infinity accepted")
	}
	// -0 and 0 are one number.
	if got, _ := appendNumber(nil, new(big.Float).Neg(big.NewFloat(0)), "x"); string(got) != "0" {
		t.Errorf("-0 = %s", got)
	}
}

func TestDeterminism(t *testing.T) {
	dir := t.TempDir()
	bs, err := store.NewDiskBlobs(dir+"/blobs", dir+"/tmp")
	if err != nil {
		t.Fatal(err)
	}
	recs := []cty.Value{qaRecord("a", cty.NumberIntVal(1)), qaRecord("b", cty.NumberFloatVal(2.5))}
	d1, n, err := WriteValues(bs, qaSchema, recs)
	if err != nil || n != 2 {
		t.Fatal(n, err)
	}
	// Same records built another way (float 1.0 vs int 1, map built in other order).
	recs2 := []cty.Value{qaRecord("a", cty.NumberFloatVal(1.0)), qaRecord("b", cty.MustParseNumberVal("2.50"))}
	d2, _, err := WriteValues(bs, qaSchema, recs2)
	if err != nil || d2 != d1 {
		t.Fatalf("digests differ: %s %s %v", d1, d2, err)
	}
	d3, _, _ := WriteValues(bs, qaSchema, []cty.Value{recs[1], recs[0]})
	if d3 == d1 {
		t.Fatal("order did not change the digest")
	}
	r, c, err := OpenBlob(bs, d1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	back, err := r.ReadAll()
	if err != nil || len(back) != 2 || back[1].GetAttr("question").AsString() != "b" {
		t.Fatalf("OpenBlob: %v %v", back, err)
	}
}

func TestConversionAndMismatch(t *testing.T) {
	schema := cty.Object(map[string]cty.Type{"q": cty.String, "n": cty.Number, "l": cty.List(cty.Number)})
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, schema)
	// Safe conversions: number -> string, tuple -> list.
	ok := cty.ObjectVal(map[string]cty.Value{"q": cty.NumberIntVal(5), "n": cty.NumberIntVal(1), "l": cty.TupleVal([]cty.Value{cty.NumberIntVal(1)})})
	if err := w.Write(ok); err != nil {
		t.Fatalf("safe conversion refused: %v", err)
	}
	bad := []struct {
		rec  cty.Value
		want string
	}{
		{cty.ObjectVal(map[string]cty.Value{"q": cty.StringVal("x"), "n": cty.StringVal("12"), "l": cty.ListValEmpty(cty.Number)}), `dataset record 2: field "n": number required`},
		{cty.ObjectVal(map[string]cty.Value{"q": cty.StringVal("x"), "l": cty.ListValEmpty(cty.Number)}), `dataset record 2: field "n" is missing`},
		{cty.ObjectVal(map[string]cty.Value{"q": cty.StringVal("x"), "n": cty.NumberIntVal(1), "l": cty.ListValEmpty(cty.Number), "answr": cty.True}), `dataset record 2: field "answr" is not in the schema`},
		{cty.StringVal("x"), `dataset record 2: record must be an object`},
		{cty.ObjectVal(map[string]cty.Value{"q": cty.UnknownVal(cty.String), "n": cty.NumberIntVal(1), "l": cty.ListValEmpty(cty.Number)}), `dataset record 2: field "q": value is unknown`},
	}
	for _, c := range bad {
		err := w.Write(c.rec)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Write(%#v) = %v, want %q", c.rec, err, c.want)
		}
	}
	if w.Count() != 1 {
		t.Fatalf("Count = %d after failed writes", w.Count())
	}
	if _, err := NewWriter(&buf, cty.String); err == nil {
		t.Error("non-object schema accepted")
	}
}

func TestOptionalAttributes(t *testing.T) {
	schema := cty.ObjectWithOptionalAttrs(map[string]cty.Type{"a": cty.String, "b": cty.Number}, []string{"b"})
	enc := encode(t, schema, cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x")}))
	if !strings.HasSuffix(enc, "\n{\"a\":\"x\",\"b\":null}\n") {
		t.Fatalf("got %q", enc)
	}
	s, recs := decodeAll(t, enc)
	if !s.Equals(schema) || !recs[0].GetAttr("b").IsNull() {
		t.Fatalf("schema %#v recs %#v", s, recs)
	}
}

func TestBadArtifacts(t *testing.T) {
	good := encode(t, qaSchema, qaRecord("a", cty.NumberIntVal(1)), qaRecord("b", cty.NumberIntVal(2)), qaRecord("c", cty.NumberIntVal(3)))
	lines := strings.SplitAfter(good, "\n")
	cases := []struct{ name, in, want string }{
		{"empty", "", "empty artifact"},
		{"not ours", "{\"x\":1}\n", "not an ouro dataset"},
		{"newer", `{"ouro_dataset":2,"schema":"string"}` + "\n", "format 2 is not supported"},
		{"truncated", good[:len(good)-20], "dataset record 3 (line 4): truncated"},
		{"garbled", lines[0] + lines[1] + "{\"answer\":oops}\n", "dataset record 2 (line 3): invalid JSON"},
		{"wrong type", lines[0] + strings.Replace(lines[1], `"answer":1`, `"answer":"1"`, 1), `dataset record 1 (line 2): field "answer": want number, found a string`},
		{"missing", lines[0] + strings.Replace(lines[1], `"ok":true,`, ``, 1), `dataset record 1 (line 2): field "ok" is missing`},
		{"nested", lines[0] + strings.Replace(lines[1], `{"c":"deep"}`, `{"c":5}`, 1), `field "nested.b[0].c": want string, found a number`},
		{"trailing", lines[0] + strings.TrimSuffix(lines[1], "\n") + " {}\n", "extra data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewReader(strings.NewReader(c.in))
			if err == nil {
				_, err = r.ReadAll()
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}

func TestLongRecord(t *testing.T) {
	schema := cty.Object(map[string]cty.Type{"s": cty.String})
	long := strings.Repeat("é", 200000) // longer than the reader's buffer
	enc := encode(t, schema, cty.ObjectVal(map[string]cty.Value{"s": cty.StringVal(long)}))
	_, recs := decodeAll(t, enc)
	if recs[0].GetAttr("s").AsString() != long {
		t.Fatal("long record damaged")
	}
	r, _ := NewReader(strings.NewReader(enc))
	r.Next()
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after last record: %v", err)
	}
}
