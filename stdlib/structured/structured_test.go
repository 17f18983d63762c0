package structured

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

var answerType = cty.Object(map[string]cty.Type{"reasoning": cty.String, "answer": cty.Number})

func TestFromTypeJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		ty   cty.Type
		want string
	}{
		{"flat", answerType, `{"additionalProperties":false,"properties":{"answer":{"type":"number"},"reasoning":{"type":"string"}},"required":["answer","reasoning"],"type":"object"}`},
		{"empty", cty.EmptyObject, `{"additionalProperties":false,"properties":{},"required":[],"type":"object"}`},
		{"nested", cty.Object(map[string]cty.Type{"ok": cty.Bool, "steps": cty.List(cty.Object(map[string]cty.Type{"n": cty.Number}))}),
			`{"additionalProperties":false,"properties":{"ok":{"type":"boolean"},"steps":{"items":{"additionalProperties":false,"properties":{"n":{"type":"number"}},"required":["n"],"type":"object"},"type":"array"}},"required":["ok","steps"],"type":"object"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := FromType(tc.ty)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(n.JSON()); got != tc.want {
				t.Fatalf("JSON:\n got %s\nwant %s", got, tc.want)
			}
			back, err := Parse(n.JSON())
			if err != nil {
				t.Fatalf("Parse(JSON): %v", err)
			}
			if !back.Type().Equals(tc.ty) || string(back.JSON()) != tc.want {
				t.Fatalf("round trip: %s", back.JSON())
			}
		})
	}
}

func TestFromTypeRefuses(t *testing.T) {
	for _, tc := range []struct {
		ty         cty.Type
		path, want string
	}{
		{cty.String, "", "is an object"},
		{cty.Object(map[string]cty.Type{"m": cty.Map(cty.String)}), "m", "map types"},
		{cty.Object(map[string]cty.Type{"a": cty.DynamicPseudoType}), "a", "any has no"},
		{cty.Object(map[string]cty.Type{"l": cty.List(cty.Set(cty.String))}), "l[]", "set types"},
		{cty.Object(map[string]cty.Type{"o": cty.Object(map[string]cty.Type{"t": cty.Tuple([]cty.Type{cty.String})})}), "o.t", "tuple types"},
		{cty.ObjectWithOptionalAttrs(map[string]cty.Type{"x": cty.String}, []string{"x"}), "x", "optional"},
	} {
		_, err := FromType(tc.ty)
		var te *TypeError
		if !errors.As(err, &te) || te.Path != tc.path || !strings.Contains(te.Reason, tc.want) {
			t.Errorf("FromType(%s) = %v, want a TypeError at %q containing %q", tc.ty.FriendlyName(), err, tc.path, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	n, err := Parse([]byte(`{"type":"object","title":"t","properties":{"z":{"type":"integer"},"a":{"type":"array","items":{"type":"string"}}},"required":["z"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if n.Props[0].Name != "z" || n.Props[0].Node.Kind != Integer || n.Props[1].Node.Items.Kind != String {
		t.Fatalf("properties not in document order or wrong: %+v", n.Props)
	}
	for _, tc := range []struct{ doc, keyword, path string }{
		{`{"type":"string"}`, "type", ""},
		{`{"type":"object","properties":{"a":{"type":"string","enum":["x"]}}}`, "enum", "properties.a"},
		{`{"type":"object","properties":{"a":{"anyOf":[]}}}`, "type", "properties.a"},
		{`{"type":"object","properties":{"a":{"type":["string","null"]}}}`, "type", "properties.a"},
		{`{"type":"object","additionalProperties":true}`, "additionalProperties", ""},
		{`{"type":"object","properties":{"a":{"type":"array"}}}`, "items", "properties.a"},
		{`{"type":"object","properties":{"a":{"type":"string","pattern":"x"}}}`, "pattern", "properties.a"},
		{`{"type":"object","required":["b"]}`, "required", ""},
		{`{"type":"object","$ref":"#/x"}`, "$ref", ""},
		{`{"type":"null"}`, "type", ""},
	} {
		_, err := Parse([]byte(tc.doc))
		var ue *UnsupportedError
		if !errors.As(err, &ue) || ue.Keyword != tc.keyword || ue.Path != tc.path {
			t.Errorf("Parse(%s) = %v, want keyword %q at %q", tc.doc, err, tc.keyword, tc.path)
		}
	}
}

func TestDecode(t *testing.T) {
	n, _ := FromType(cty.Object(map[string]cty.Type{"answer": cty.Number, "tags": cty.List(cty.String), "ok": cty.Bool}))
	v, err := Decode(` {"answer": 4.5e1, "ok": true, "tags": ["a", "b\n"]}`+"\n", n)
	if err != nil {
		t.Fatal(err)
	}
	want := cty.ObjectVal(map[string]cty.Value{"answer": cty.NumberIntVal(45), "ok": cty.True, "tags": cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b\n")})})
	if !v.RawEquals(want) && !v.Equals(want).True() {
		t.Fatalf("got %#v", v)
	}
	if v, err := Decode(`{"answer":1,"ok":false,"tags":[]}`, n); err != nil || !v.GetAttr("tags").RawEquals(cty.ListValEmpty(cty.String)) {
		t.Fatalf("empty list: %#v, %v", v, err)
	}
	for _, tc := range []struct{ text, want string }{
		{``, "empty"},
		{`{"answer":1,`, "not JSON"},
		{`Answer: 4`, "not JSON"},
		{`{"answer":"4","ok":true,"tags":[]}`, `answer: want a number, found a string`},
		{`{"answer":4,"tags":[]}`, `property "ok" is missing`},
		{`{"answer":4,"ok":true,"tags":[],"extra":1}`, `property "extra" is not in the schema`},
		{`{"answer":null,"ok":true,"tags":[]}`, `answer: null, want number`},
		{`{"answer":4,"ok":true,"tags":[1]}`, `tags[0]: want a string`},
		{`{"answer":4,"ok":true,"tags":[]} more`, "text after"},
		{`[1]`, "want an object"},
		{`{"answer":1e400,"ok":true,"tags":[]}`, "answer: 1e400 is out of range"},
	} {
		if _, err := Decode(tc.text, n); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(%q) = %v, want %q", tc.text, err, tc.want)
		}
	}
	in, _ := Parse([]byte(`{"type":"object","properties":{"k":{"type":"integer"}}}`))
	if _, err := Decode(`{"k":1.5}`, in); err == nil || !strings.Contains(err.Error(), "want an integer") {
		t.Errorf("integer 1.5: %v", err)
	}
}

// ascii is the builtin model's default vocabulary.
var ascii = func() []rune {
	var rs []rune
	for r := rune(32); r < 127; r++ {
		rs = append(rs, r)
	}
	return append(rs, '\n')
}()

var schemas = []string{
	`{"type":"object","properties":{"answer":{"type":"number"},"reasoning":{"type":"string"}}}`,
	`{"type":"object","properties":{}}`,
	`{"type":"object","properties":{"n":{"type":"integer"},"ok":{"type":"boolean"}}}`,
	`{"type":"object","properties":{"xs":{"type":"array","items":{"type":"number"}},"o":{"type":"object","properties":{"s":{"type":"array","items":{"type":"array","items":{"type":"string"}}}}}}}`,
}

// TestDecoderRandomWalk: whatever a sampler picks among the allowed
// characters, the text is a complete document of the schema within the
// budget, and Decode accepts it.
func TestDecoderRandomWalk(t *testing.T) {
	for si, doc := range schemas {
		n, err := Parse([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		m := Compile(n)
		for seed := uint64(0); seed < 200; seed++ {
			rng := rand.New(rand.NewPCG(seed, uint64(si)))
			budget := m.MinLength() + rng.IntN(60)
			d := m.NewDecoder()
			var b strings.Builder
			for used := 0; !d.Complete(); used++ {
				if used == budget {
					t.Fatalf("schema %d seed %d: budget %d spent, document %q incomplete", si, seed, budget, b.String())
				}
				var ok []rune
				for _, r := range ascii {
					if d.Allowed(r, budget-used-1) {
						ok = append(ok, r)
					}
				}
				if len(ok) == 0 {
					t.Fatalf("schema %d seed %d: nothing allowed after %q", si, seed, b.String())
				}
				r := ok[rng.IntN(len(ok))]
				d.Push(r)
				b.WriteRune(r)
			}
			if _, err := Decode(b.String(), n); err != nil {
				t.Fatalf("schema %d seed %d: %q: %v", si, seed, b.String(), err)
			}
			if strings.ContainsAny(b.String(), " \n\t") && !strings.Contains(doc, "string") {
				t.Fatalf("whitespace outside strings: %q", b.String())
			}
		}
	}
}

func TestDecoderRejects(t *testing.T) {
	n, _ := Parse([]byte(schemas[0]))
	m := Compile(n)
	if m.MinLength() != len(`{"answer":0,"reasoning":""}`) {
		t.Fatalf("MinLength = %d", m.MinLength())
	}
	d := m.NewDecoder()
	for _, r := range `{"answer":-0` {
		d.Push(r)
	}
	for _, tc := range []struct {
		r    rune
		left int
		want bool
	}{{'0', 99, false}, {'.', 99, true}, {',', 99, true}, {' ', 99, false}, {'}', 99, false}, {',', 14, false}, {',', 15, true}} {
		if got := d.Allowed(tc.r, tc.left); got != tc.want {
			t.Errorf("after -0: Allowed(%q, %d) = %v", tc.r, tc.left, got)
		}
	}
	if err := m.Vocabulary(func(r rune) bool { return r != '"' }); err == nil || !strings.Contains(err.Error(), `'"'`) {
		t.Errorf("vocabulary without a quote: %v", err)
	}
	if err := m.Vocabulary(func(r rune) bool { return true }); err != nil {
		t.Error(err)
	}
}

func TestDecoderNumberBounds(t *testing.T) {
	n, _ := Parse([]byte(`{"type":"object","properties":{"x":{"type":"number"}}}`))
	d := Compile(n).NewDecoder()
	for _, r := range `{"x":-1234567890123456` {
		d.Push(r)
	}
	if d.Allowed('7', 99) || !d.Allowed('.', 99) || !d.Allowed('e', 99) {
		t.Fatal("a 17th integer digit is allowed, or what may follow the 16th is not")
	}
	for _, r := range `e+12` {
		d.Push(r)
	}
	if d.Allowed('3', 99) || !d.Allowed('}', 99) {
		t.Fatal("a third exponent digit is allowed")
	}
}

// TestDecoderJSONObject: json_object mode writes any JSON object, always
// complete within the budget.
func TestDecoderJSONObject(t *testing.T) {
	m := Compile(JSONObject())
	if m.MinLength() != 2 {
		t.Fatalf("MinLength %d", m.MinLength())
	}
	kinds := map[byte]bool{}
	for seed := uint64(0); seed < 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		budget := 2 + rng.IntN(80)
		d := m.NewDecoder()
		var b strings.Builder
		for used := 0; !d.Complete(); used++ {
			if used == budget {
				t.Fatalf("seed %d: budget %d spent: %q", seed, budget, b.String())
			}
			var ok []rune
			for _, r := range ascii {
				if d.Allowed(r, budget-used-1) {
					ok = append(ok, r)
				}
			}
			if len(ok) == 0 {
				t.Fatalf("seed %d: nothing allowed after %q", seed, b.String())
			}
			r := ok[rng.IntN(len(ok))]
			d.Push(r)
			b.WriteRune(r)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(b.String()), &v); err != nil {
			t.Fatalf("seed %d: %q: %v", seed, b.String(), err)
		}
		if k := strings.IndexByte(b.String(), ':'); k > 0 && k+1 < b.Len() {
			kinds[b.String()[k+1]] = true
		}
	}
	if len(kinds) < 5 {
		t.Errorf("values began with only %v", kinds)
	}
}
