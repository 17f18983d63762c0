package funcs

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestExtractNumber(t *testing.T) {
	null := cty.NullVal(cty.Number)
	runCases(t, []callCase{
		c("extract_number", num(42), str("The answer is 42.")),
		c("extract_number", num(7), str("3 apples and 4 pears make 7")),
		c("extract_number", num(1234), str("Total: 1,234")),
		c("extract_number", numf(1234567.5), str("$1,234,567.50 in all")),
		c("extract_number", num(-3), str("x = -3")),
		c("extract_number", num(-3), str("x = \u22123")),
		c("extract_number", num(7), str("+7")),
		c("extract_number", num(3), str("5-3")),
		c("extract_number", numf(0.5), str("about .5")),
		c("extract_number", numf(-0.25), str("-.25")),
		c("extract_number", cty.MustParseNumberVal("3.14"), str("pi is 3.14.")),
		c("extract_number", num(3), str("1,2,3")),
		c("extract_number", num(2345), str("1,2345")),
		c("extract_number", num(567), str("1234,567")),
		c("extract_number", num(5), str("1e5")),
		c("extract_number", num(2), str("step2")),
		c("extract_number", num(12), str("日本語で12です")),
		c("extract_number", num(1000000), str("#### 1,000,000")),
		c("extract_number", null, str("no digits here")),
		c("extract_number", null, str("")),
		c("extract_number", null, str("- . , +")),
		c("extract_number", null, cty.NullVal(cty.String)),
		c("extract_number", cty.UnknownVal(cty.Number), cty.UnknownVal(cty.String)),
		c("extract_number", cty.UnknownVal(cty.Number), cty.DynamicVal),
		c("extract_number", num(5).Mark("secret"), str("5").Mark("secret")),
		e("extract_number", "string required", cty.ListValEmpty(cty.String)),
	})
}

func TestExtractNumberIsExact(t *testing.T) {
	got, err := ExtractNumberFunc.Call([]cty.Value{str("0.1")})
	if err != nil {
		t.Fatal(err)
	}
	want := cty.MustParseNumberVal("0.1")
	if !got.Equals(want).True() {
		t.Fatalf("got %#v, want exactly 0.1", got)
	}
}

func TestExtractInt(t *testing.T) {
	null := cty.NullVal(cty.Number)
	runCases(t, []callCase{
		c("extract_int", num(18), str("She pays $18 every day.")),
		c("extract_int", num(1000), str("1,000")),
		c("extract_int", num(12), str("12.0")),
		c("extract_int", num(-4), str("answer: -4")),
		c("extract_int", null, str("3.5")),
		c("extract_int", null, str("7 then 3.5")),
		c("extract_int", null, str("none")),
		c("extract_int", null, cty.NullVal(cty.String)),
		c("extract_int", cty.UnknownVal(cty.Number), cty.UnknownVal(cty.String)),
	})
}

func TestExtractJSON(t *testing.T) {
	dynNull := cty.NullVal(cty.DynamicPseudoType)
	runCases(t, []callCase{
		c("extract_json", cty.ObjectVal(map[string]cty.Value{"answer": num(4), "ok": cty.True}),
			str("Sure! ```json\n{\"answer\": 4, \"ok\": true}\n``` done")),
		c("extract_json", tuple([]cty.Value{num(1), str("]")}), str(`list: [1, "]"] end`)),
		c("extract_json", cty.ObjectVal(map[string]cty.Value{"a": str("}{")}), str(`{"a": "}{"}`)),
		c("extract_json", cty.ObjectVal(map[string]cty.Value{"a": num(1)}), str(`see [note] then {"a": 1}`)),
		c("extract_json", cty.ObjectVal(map[string]cty.Value{"a": num(1)}), str(`{broken {"a": 1}}`)),
		c("extract_json", cty.ObjectVal(map[string]cty.Value{"k": str("ü")}), str(`„{"k": "\u00fc"}“`)),
		c("extract_json", cty.EmptyTupleVal, str("[]")),
		c("extract_json", cty.ObjectVal(map[string]cty.Value{"first": cty.True}), str(`{"first": true} {"second": true}`)),
		c("extract_json", dynNull, str("no json")),
		c("extract_json", dynNull, str("{unclosed")),
		c("extract_json", dynNull, str("42")),
		c("extract_json", dynNull, cty.NullVal(cty.String)),
		c("extract_json", cty.DynamicVal, cty.UnknownVal(cty.String)),
	})
}
