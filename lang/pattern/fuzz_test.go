package pattern

import (
	"errors"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/lang/fuzztest"
)

var fuzzPatterns = []string{
	"Answer: {answer:number}",
	"Reasoning: {why:line}[ Confidence: {conf:int}]",
	`\{{k:word}\} \[\] \\`,
	"[a [{b:json}]]{c:string}",
	"Q: {q:string} A: {a:string}",
	"{a:numbr} {b:int} {b:wrd}",
	"{a b:int}", "{a:int:x}", "[a", "a]", "}", `\n`, "{", "[]",
	"答え：{a:int}",
}

func FuzzParse(f *testing.F) {
	fuzztest.NoMinimize(f)
	for _, s := range fuzzPatterns {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse(src)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("Parse(%q) error %T %v", src, err, err)
			}
			for _, e := range list {
				if e.Offset < 0 || e.Offset > e.End || e.End > len(src) || e.Summary == "" {
					t.Fatalf("Parse(%q): bad error %+v", src, *e)
				}
			}
			return
		}
		for _, c := range p.Captures {
			if c.Offset < 0 || c.Offset >= c.End || c.End > len(src) {
				t.Fatalf("Parse(%q): bad capture %+v", src, c)
			}
		}
		norm := p.String()
		q, err := Parse(norm)
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", src, norm, err)
		}
		if q.String() != norm {
			t.Fatalf("String not stable: %q -> %q -> %q", src, norm, q.String())
		}
		if !q.ObjectType().Equals(p.ObjectType()) || len(q.Captures) != len(p.Captures) {
			t.Fatalf("%q and %q differ in captures", src, norm)
		}
	})
}

func FuzzMatch(f *testing.F) {
	fuzztest.NoMinimize(f)
	texts := []string{
		"Answer: -3.5e2", "Reasoning: x\nConfidence: 3", "{alpha} [] \\",
		`a [{"x": [1, "}"]}] tail`, "Q: what? A: four", "答え：42", "x \xff\xfe",
	}
	for i, s := range fuzzPatterns {
		f.Add(s, texts[i%len(texts)])
	}
	f.Fuzz(func(t *testing.T, src, text string) {
		if len(text) > 4096 {
			return
		}
		p, err := Parse(src)
		if err != nil {
			return
		}
		vals, ok := p.Match(text)
		v := p.MatchValue(text)
		if ok != !v.IsNull() {
			t.Fatalf("Match and MatchValue disagree on %q / %q", src, text)
		}
		if !ok {
			return
		}
		if errs := v.Type().TestConformance(p.ObjectType()); errs != nil {
			t.Fatalf("%q / %q: %#v does not conform to %#v", src, text, v, p.ObjectType())
		}
		if len(vals) != len(p.Captures) {
			t.Fatalf("%q / %q: %d values for %d captures", src, text, len(vals), len(p.Captures))
		}
		// The normalised pattern matches the same.
		w := MustParse(p.String()).MatchValue(text)
		if !w.RawEquals(v) {
			t.Fatalf("%q and %q match %q differently:\n%#v\n%#v", src, p.String(), text, v, w)
		}
		for _, c := range p.Captures {
			if !c.Optional && vals[c.Name].IsNull() && c.Type != JSON {
				t.Fatalf("%q / %q: required %s is null", src, text, c.Name)
			}
			if c.Type == String || c.Type == Word || c.Type == Line {
				if s := vals[c.Name]; !s.IsNull() && s.Type() != cty.String {
					t.Fatalf("bad type")
				}
			}
		}
	})
}
