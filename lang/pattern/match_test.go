package pattern

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestMatch(t *testing.T) {
	num := cty.NumberIntVal
	str := cty.StringVal
	mustNum := func(s string) cty.Value { return cty.MustParseNumberVal(s) }
	type vals = map[string]cty.Value
	tests := []struct {
		pattern, text string
		want          vals // nil: no match
	}{
		// numbers
		{"Answer: {a:number}", "Answer: 42", vals{"a": num(42)}},
		{"Answer: {a:number}", "blah\nAnswer: -3.5e2.", vals{"a": num(-350)}},
		{"Answer: {a:number}", "Answer: +0.25", vals{"a": mustNum("0.25")}},
		{"Answer: {a:number}", "Answer: .5", vals{"a": mustNum("0.5")}},
		{"Answer: {a:number}", "Answer: 1,234,567.5", vals{"a": mustNum("1234567.5")}},
		{"Answer: {a:number}", "Answer: 1,23", vals{"a": num(1)}},
		{"Answer: {a:number}", "Answer: 1234,567", vals{"a": num(1234)}},
		{"Answer: {a:number}", "Answer: 3. Done", vals{"a": num(3)}},
		{"Answer: {a:number}", "Answer: 2E+3", vals{"a": num(2000)}},
		{"Answer: {a:number}", "Answer: 2e", vals{"a": num(2)}},
		{"Answer: {a:number}", "Answer: 12345678901234567890", vals{"a": mustNum("12345678901234567890")}},
		{"Answer: {a:number}", "Answer: forty-two", nil},
		{"Answer: {a:number}", "answer: 42", nil}, // case-sensitive
		{"{a:number},{b:number}", "x 1,2", vals{"a": num(1), "b": num(2)}},
		// ints
		{"{n:int} apples", "I have 12 apples", vals{"n": num(12)}},
		{"{n:int} apples", "I have 12.5 apples", nil}, // not "5"
		{"{n:int} apples", "I have 12.0 apples", vals{"n": num(12)}},
		{"{n:int} apples", "I have 1e3 apples", vals{"n": num(1000)}},
		{"{n:int} apples", "I have -7 apples", vals{"n": num(-7)}},
		{"{n:int}", "x12y", vals{"n": num(12)}},
		// words and strings
		{"The answer is {w:word}.", "So. The answer is é42..", vals{"w": str("é42.")}},
		{"The answer is {w:word}.", "The answer is Paris.", vals{"w": str("Paris")}},
		{"{w:word}!", "héllo wörld!", vals{"w": str("wörld")}},
		{"Q: {q:string} A: {a:string}", "Q: what is 2+2? A: four\nthanks", vals{"q": str("what is 2+2?"), "a": str("four\nthanks")}},
		{"Q: {q:string} A: {a:string}", "Q:  A: 5", vals{"q": str(""), "a": str("5")}},
		{"<{a:string}>", "x <> <y>", vals{"a": str("")}},
		{"<{a:string}>", "x <a>b> <y>", vals{"a": str("a")}},
		{"{a:string}={b:string};", "k=v;", vals{"a": str("k"), "b": str("v")}},
		{"({a:string})", "no parens", nil},
		// lines and multiple lines
		{"Name: {n:line}\nAge: {a:int}", "Name:  Ada Lovelace \r\nAge: 36\n", vals{"n": str("Ada Lovelace"), "a": num(36)}},
		{"Name: {n:line}", "Name: Ada\nAge: 36", vals{"n": str("Ada")}},
		{"Step 2: {s:line}", "Step 1: add\nStep 2: multiply\nStep 3: done", vals{"s": str("multiply")}},
		// whitespace
		{"a b", "a \t\n b", vals{}},
		{"a b", "ab", nil},
		{"a\nb", "a b", vals{}},
		{"x {n:int}", "x\u00a0\u20035", vals{"n": num(5)}},
		// optional groups
		{"Reasoning: {why:line}[ Confidence: {conf:int}]", "Reasoning: because X\nConfidence: 3",
			vals{"why": str("because X"), "conf": num(3)}},
		{"Reasoning: {why:line}[ Confidence: {conf:int}]", "Reasoning: because X",
			vals{"why": str("because X"), "conf": cty.NullVal(cty.Number)}},
		{"Reasoning: {why:string}[ Confidence: {conf:int}]", "Reasoning: because X Confidence: 1,200 more",
			vals{"why": str("because X"), "conf": num(1200)}},
		{"Reasoning: {why:string}[ Confidence: {conf:int}]", "Reasoning: because X",
			vals{"why": str("because X"), "conf": cty.NullVal(cty.Number)}},
		{"A: {a:int}[, B: {b:int}[, C: {c:int}]]", "A: 1, B: 2", vals{"a": num(1), "b": num(2), "c": cty.NullVal(cty.Number)}},
		{"A: {a:int}[, B: {b:int}[, C: {c:int}]]", "A: 1, C: 3", vals{"a": num(1), "b": cty.NullVal(cty.Number), "c": cty.NullVal(cty.Number)}},
		{"A: {a:int}[, B: {b:int}[, C: {c:int}]]", "A: 1, B: 2, C: 3", vals{"a": num(1), "b": num(2), "c": num(3)}},
		{"[{x:word} ]wins", "alice wins", vals{"x": str("alice")}},
		{"[({x:int}) ]done", "done", vals{"x": cty.NullVal(cty.Number)}},
		// escapes
		{`\{{k:word}\}`, "set {alpha} now", vals{"k": str("alpha")}},
		{`\[{n:int}\] \\ {w:word}`, `[3] \ x`, vals{"n": num(3), "w": str("x")}},
		// json
		{"Result: {j:json}", `Result: {"a": [1, "b}"], "c": null, "d": "\"}"} trailing`,
			vals{"j": cty.ObjectVal(map[string]cty.Value{
				"a": cty.TupleVal([]cty.Value{num(1), str("b}")}),
				"c": cty.NullVal(cty.DynamicPseudoType),
				"d": str(`"}`),
			})}},
		{"Result: {j:json}", `Result: [1, 2.5, true]]`, vals{"j": cty.TupleVal([]cty.Value{num(1), mustNum("2.5"), cty.True})}},
		{"Result: {j:json}", `Result: "a\u00e9\n"`, vals{"j": str("aé\n")}},
		{"Result: {j:json}", `Result: -12.5e1x`, vals{"j": num(-125)}},
		{"Result: {j:json}", `Result: nullx`, vals{"j": cty.NullVal(cty.DynamicPseudoType)}},
		{"Result: {j:json}", `Result: {"a": 1,}`, nil},
		{"Result: {j:json}", `Result: {"a": 1, "a": 2}`, vals{"j": cty.ObjectVal(map[string]cty.Value{"a": num(2)})}}, // last wins
		{"Result: {j:json}", `Result: {"a": [1, 2}`, nil},
		{"Result: {j:json}", `Result: 'single'`, nil},
		{"{j:json}.", `see {"x":1}.`, vals{"j": cty.ObjectVal(map[string]cty.Value{"x": num(1)})}},
		// unicode
		{"答え：{a:int}", "考えます。答え：７ 答え：42", vals{"a": num(42)}},
		{"→ {w:word}", "a → ü̈ber", vals{"w": str("ü̈ber")}},
		// leftmost match
		{"x={v:int}", "x=1 x=2", vals{"v": num(1)}},
		{"x={v:int};", "x=1 x=2;", vals{"v": num(2)}},
	}
	for _, tt := range tests {
		p := MustParse(tt.pattern)
		got, ok := p.Match(tt.text)
		if tt.want == nil {
			if ok {
				t.Errorf("%q.Match(%q) = %#v, want no match", tt.pattern, tt.text, got)
			}
			if v := p.MatchValue(tt.text); !v.IsNull() || !v.Type().Equals(p.ObjectType()) {
				t.Errorf("%q.MatchValue(%q) = %#v, want null", tt.pattern, tt.text, v)
			}
			continue
		}
		if !ok {
			t.Errorf("%q.Match(%q): no match, want %#v", tt.pattern, tt.text, tt.want)
			continue
		}
		if !cty.ObjectVal(got).RawEquals(cty.ObjectVal(tt.want)) {
			t.Errorf("%q.Match(%q) =\n  %#v\nwant\n  %#v", tt.pattern, tt.text, got, tt.want)
		}
		if v := p.MatchValue(tt.text); !v.RawEquals(cty.ObjectVal(tt.want)) {
			t.Errorf("%q.MatchValue(%q) = %#v", tt.pattern, tt.text, v)
		}
	}
}

func TestMatchTypesConform(t *testing.T) {
	p := MustParse("{a:number} {b:word} [{c:json}]")
	v := p.MatchValue(`1 x [1]`)
	if errs := v.Type().TestConformance(p.ObjectType()); errs != nil {
		t.Errorf("MatchValue type %#v does not conform to %#v: %v", v.Type(), p.ObjectType(), errs)
	}
}

// TestMatchPathological checks that backtracking stays polynomial.
func TestMatchPathological(t *testing.T) {
	text := strings.Repeat("a ", 2000)
	for _, src := range []string{
		"{a:string}{b:string}{c:string} {d:int}",
		"[{a:word}][ {b:word}][ {c:word}] {d:int}",
		"{a:string} {b:string} {c:string} {d:string}!",
	} {
		if _, ok := MustParse(src).Match(text); ok {
			t.Errorf("%q matched", src)
		}
	}
	if _, ok := MustParse("{a:string} {b:string} {c:string}!").Match(text + "!"); !ok {
		t.Error("no match")
	}
}

func TestMatchInvalidUTF8(t *testing.T) {
	p := MustParse("x {w:word} {s:line}")
	v, ok := p.Match("x \xff\xfe \xc3")
	if !ok || v["w"].AsString() != "\uFFFD" || v["s"].AsString() != "\uFFFD" {
		t.Errorf("Match = %#v, %v", v, ok)
	}
}

var benchText = strings.Repeat("Let me think step by step about this problem. ", 3) +
	"\nReasoning: 12 apples minus 5 leaves 7.\nAnswer: 7\nConfidence: 0.9"

func BenchmarkMatch(b *testing.B) {
	p := MustParse("Reasoning: {why:line} Answer: {answer:number}[ Confidence: {conf:number}]")
	if len(benchText) < 190 || len(benchText) > 210 {
		b.Fatalf("benchText is %d bytes", len(benchText))
	}
	if _, ok := p.Match(benchText); !ok {
		b.Fatal("no match")
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Match(benchText)
	}
}

func BenchmarkMatchNoMatch(b *testing.B) {
	p := MustParse("Reasoning: {why:line} Answer: {answer:number}[ Confidence: {conf:number}]")
	text := strings.ReplaceAll(benchText, "Answer", "Result")
	b.ReportAllocs()
	for b.Loop() {
		p.Match(text)
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		MustParse("Reasoning: {why:line} Answer: {answer:number}[ Confidence: {conf:number}]")
	}
}
