package pattern

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestParseOK(t *testing.T) {
	tests := []struct {
		src      string
		norm     string
		captures []Capture
	}{
		{"Answer: {answer:number}", "Answer: {answer:number}",
			[]Capture{{Name: "answer", Type: Number, Offset: 8, End: 23}}},
		{"Reasoning: {why:line}[ Confidence: {conf:int}]", "Reasoning: {why:line}[ Confidence: {conf:int}]",
			[]Capture{{Name: "why", Type: Line, Offset: 11, End: 21}, {Name: "conf", Type: Int, Optional: true, Offset: 35, End: 45}}},
		{"a \t\n b", "a b", nil},
		{`\{\}\[\]\\ {x_1:word}`, `\{\}\[\]\\ {x_1:word}`,
			[]Capture{{Name: "x_1", Type: Word, Offset: 11, End: 21}}},
		{"[a [{b:json}]]{c:string}", "[a [{b:json}]]{c:string}",
			[]Capture{{Name: "b", Type: JSON, Optional: true, Offset: 4, End: 12}, {Name: "c", Type: String, Offset: 14, End: 24}}},
		{"Réponse : {r:word}", "Réponse : {r:word}",
			[]Capture{{Name: "r", Type: Word, Offset: 11, End: 19}}},
		{"x:y", "x:y", nil},
	}
	for _, tt := range tests {
		p, err := Parse(tt.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.src, err)
			continue
		}
		if p.String() != tt.norm {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.src, p.String(), tt.norm)
		}
		if diff := cmp.Diff(tt.captures, p.Captures); diff != "" {
			t.Errorf("Parse(%q).Captures (-want +got):\n%s", tt.src, diff)
		}
		for _, c := range p.Captures {
			if got := tt.src[c.Offset:c.End]; !strings.HasPrefix(got, "{"+c.Name+":") || !strings.HasSuffix(got, "}") {
				t.Errorf("Parse(%q): capture %s spans %q", tt.src, c.Name, got)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	type e struct {
		off, end int
		summary  string
		detail   string // substring
	}
	tests := []struct {
		src  string
		want []e
	}{
		{"", []e{{0, 0, "empty pattern", ""}}},
		{"  \n", []e{{0, 3, "empty pattern", ""}}},
		{"Answer: {a:numbr}", []e{{11, 16, `unknown capture type "numbr"`, `Did you mean "number"?`}}},
		{"{a:Int}", []e{{3, 6, `unknown capture type "Int"`, `Did you mean "int"?`}}},
		{"{a:float}", []e{{3, 8, `unknown capture type "float"`, `Did you mean "number"?`}}},
		{"{a:zzzzzz}", []e{{3, 9, `unknown capture type "zzzzzz"`, "The types are number, int, string, word, line and json."}}},
		{"{answer}", []e{{0, 8, `capture "answer" has no type`, "{answer:string}"}}},
		{"{answer:}", []e{{0, 9, `capture "answer" has no type`, ""}}},
		{"x {:int}", []e{{2, 8, "capture has no name", ""}}},
		{"{}", []e{{0, 2, "capture has no name", ""}}},
		{"{1a:int}", []e{{1, 3, `invalid capture name "1a"`, ""}}},
		{"{a:int} {a:word}", []e{{9, 10, `duplicate capture name "a"`, "at byte 0"}}},
		{"a}", []e{{1, 2, "unmatched }", `\}`}}},
		{"a]", []e{{1, 2, "unmatched ]", `\]`}}},
		{"[a", []e{{0, 1, "unclosed optional group", ""}}},
		{"[[a]", []e{{0, 1, "unclosed optional group", ""}}},
		{"Answer: {a:int", []e{{8, 9, "unclosed capture", ""}}},
		{"{a b:int}", []e{{2, 3, `invalid character " " in capture`, ""}}},
		{"{é:int}", []e{{1, 3, `invalid character "é" in capture`, ""}}},
		{"{a{b:int}", []e{{2, 3, `invalid character "{" in capture`, ""}}},
		{"{a:int:x}", []e{{6, 7, "invalid capture", `expected "}"`}}},
		{`a\nb`, []e{{1, 3, `invalid escape "\\n"`, ""}}},
		{`ab\`, []e{{2, 3, "incomplete escape", ""}}},
		{"x []", []e{{2, 4, "empty optional group", ""}}},
		// several errors at once, in source order
		{"{a:numbr} } {b:int} {b:int}", []e{{10, 11, "unmatched }", ""}}},
		{"{a:numbr} {b:int} {b:wrd}", []e{
			{3, 8, `unknown capture type "numbr"`, ""},
			{19, 20, `duplicate capture name "b"`, ""},
			{21, 24, `unknown capture type "wrd"`, `Did you mean "word"?`},
		}},
	}
	for _, tt := range tests {
		_, err := Parse(tt.src)
		var list ErrorList
		if !errors.As(err, &list) {
			t.Errorf("Parse(%q) = %v, want an ErrorList", tt.src, err)
			continue
		}
		var first *Error
		if !errors.As(err, &first) || first != list[0] {
			t.Errorf("Parse(%q): errors.As(*Error) does not find the first error", tt.src)
		}
		if len(list) != len(tt.want) {
			t.Errorf("Parse(%q) = %d errors, want %d:\n%v", tt.src, len(list), len(tt.want), err)
			continue
		}
		for i, w := range tt.want {
			g := list[i]
			if g.Offset != w.off || g.End != w.end || g.Summary != w.summary || !strings.Contains(g.Detail, w.detail) {
				t.Errorf("Parse(%q)[%d] = {%d %d %q %q}, want {%d %d %q ...%q...}",
					tt.src, i, g.Offset, g.End, g.Summary, g.Detail, w.off, w.end, w.summary, w.detail)
			}
		}
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse(bad) did not panic")
		}
	}()
	MustParse("{")
}

func TestObjectType(t *testing.T) {
	p := MustParse("{a:number} {b:int} {c:string} {d:word} {e:line} [{f:json}]")
	want := cty.Object(map[string]cty.Type{
		"a": cty.Number, "b": cty.Number, "c": cty.String, "d": cty.String, "e": cty.String, "f": cty.DynamicPseudoType,
	})
	if !p.ObjectType().Equals(want) {
		t.Errorf("ObjectType() = %#v, want %#v", p.ObjectType(), want)
	}
}

func TestGrammarGolden(t *testing.T) {
	path := filepath.Join("testdata", "grammar.golden")
	got := Grammar() + "\n"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("Grammar() differs from %s (-want +got); run go test -update if intended:\n%s", path, diff)
	}
}
