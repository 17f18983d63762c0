package funcs

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

var update = flag.Bool("update", false, "rewrite docs/functions.md from Docs()")

func TestTableIsFresh(t *testing.T) {
	a := Table()
	delete(a, "mean")
	if _, ok := Table()["mean"]; !ok {
		t.Fatal("deleting from one Table() result changed another")
	}
}

func TestEveryFunctionDocumented(t *testing.T) {
	table := Table()
	docs := Docs()
	if len(docs) != len(table) {
		t.Fatalf("%d docs for %d functions", len(docs), len(table))
	}
	known := map[string]bool{}
	for _, c := range categoryOrder {
		known[c] = true
	}
	if !sort.SliceIsSorted(docs, func(i, j int) bool { return docs[i].Name < docs[j].Name }) {
		t.Error("Docs() is not sorted by name")
	}
	for _, d := range docs {
		fn, ok := table[d.Name]
		if !ok {
			t.Errorf("Docs() has %q, Table() does not", d.Name)
			continue
		}
		if strings.TrimSpace(fn.Description()) == "" || d.Description != fn.Description() {
			t.Errorf("%s: missing or mismatched description", d.Name)
		}
		if !known[d.Category] {
			t.Errorf("%s: category %q is not in categoryOrder", d.Name, d.Category)
		}
		if !strings.HasPrefix(d.Signature, d.Name+"(") {
			t.Errorf("%s: signature %q", d.Name, d.Signature)
		}
	}
}

func TestSignatures(t *testing.T) {
	want := map[string]string{
		"mean":           "mean(list of number) number",
		"count_true":     "count_true(list of bool) number",
		"majority":       "majority(list of any) any",
		"pass_at_k":      "pass_at_k(number, number, number) number",
		"extract_number": "extract_number(string) number",
		"extract_json":   "extract_json(string) any",
		"lines":          "lines(string) list of string",
		"contains_str":   "contains_str(string, string) bool",
		"join":           "join(string, ...list of string) string",
		"max":            "max(...number) number",
		"try":            "try(...expression) any",
		"can":            "can(expression) bool",
		"tolist":         "tolist(any) list of any",
	}
	got := map[string]string{}
	for _, d := range Docs() {
		got[d.Name] = d.Signature
	}
	for name, sig := range want {
		if got[name] != sig {
			t.Errorf("%s: signature %q, want %q", name, got[name], sig)
		}
	}
}

// TestOursTypeCheckWithUnknowns is the compiler's question: every function of
// ours, given unknown arguments of the types its signature documents, returns
// an unknown of its static result type rather than failing.
func TestOursTypeCheckWithUnknowns(t *testing.T) {
	docType := map[string]cty.Type{
		"string": cty.String, "number": cty.Number, "bool": cty.Bool,
		"list of number": cty.List(cty.Number), "list of bool": cty.List(cty.Bool),
		"list of any": cty.List(cty.String),
	}
	resultType := map[string]cty.Type{
		"string": cty.String, "number": cty.Number, "bool": cty.Bool,
		"list of string": cty.List(cty.String), "any": cty.DynamicPseudoType,
	}
	table := Table()
	for _, d := range Docs() {
		if d.Category != catExtraction && d.Category != catAggregate && d.Category != catText && d.Name != "digits" {
			continue
		}
		open, close := strings.Index(d.Signature, "("), strings.LastIndex(d.Signature, ")")
		var args []cty.Value
		for _, p := range strings.Split(d.Signature[open+1:close], ", ") {
			ty, ok := docType[p]
			if !ok {
				t.Fatalf("%s: no test type for %q", d.Name, p)
			}
			args = append(args, cty.UnknownVal(ty))
		}
		got, err := table[d.Name].Call(args)
		if err != nil {
			t.Errorf("%s: %s", d.Name, err)
			continue
		}
		want := resultType[strings.TrimSpace(d.Signature[close+1:])]
		if d.Name == "majority" {
			want = cty.String
		}
		if got.IsKnown() || !got.Type().Equals(want) {
			t.Errorf("%s: got %#v, want unknown %s", d.Name, got, want.FriendlyName())
		}
	}
}

func TestHCLExpressions(t *testing.T) {
	ctx := &hcl.EvalContext{
		Functions: Table(),
		Variables: map[string]cty.Value{
			"item": cty.ObjectVal(map[string]cty.Value{
				"completion": cty.StringVal("Let me think. 12 + 30 = 42.\nThe answer is 42."),
				"answer":     cty.NumberIntVal(42),
			}),
			"scores":  cty.ListVal([]cty.Value{cty.True, cty.False, cty.True, cty.True}),
			"answers": cty.ListVal([]cty.Value{cty.StringVal("7"), cty.StringVal("8"), cty.StringVal("7")}),
		},
	}
	cases := []struct {
		src  string
		want cty.Value
	}{
		{`extract_number(item.completion) == item.answer`, cty.True},
		{`mean([for s in scores : s ? 1 : 0])`, cty.MustParseNumberVal("0.75")},
		{`fraction(scores) == 0.75`, cty.True},
		{`mean([1, 2, 2]) == 5/3`, cty.True},
		{`coalesce(mean([]), 0)`, cty.NumberIntVal(0)},
		{`majority(answers)`, cty.StringVal("7")},
		{`agreement(answers) > 0.5`, cty.True},
		{`pass_at_k(10, 3, 1) == 0.3`, cty.True},
		{`normalize(" **Seven**. ") == "seven"`, cty.True},
		{`extract_json("out: {\"a\": [1, 2]}").a[1]`, cty.NumberIntVal(2)},
		{`try(extract_json("none").a, "fallback")`, cty.StringVal("fallback")},
		{`can(mean(["x"]))`, cty.False},
		{`length(lines(item.completion))`, cty.NumberIntVal(2)},
		{`upper(join("-", ["a", "b"]))`, cty.StringVal("A-B")},
		{`tonumber("3") + max(1, 2)`, cty.NumberIntVal(5)},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			expr, diags := hclsyntax.ParseExpression([]byte(tc.src), "test.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got, diags := expr.Value(ctx)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if !sameValue(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// TestHCLTypeCheck evaluates expressions the way the compiler type-checks
// them: with unknown values of the right types.
func TestHCLTypeCheck(t *testing.T) {
	ctx := &hcl.EvalContext{
		Functions: Table(),
		Variables: map[string]cty.Value{
			"item": cty.UnknownVal(cty.Object(map[string]cty.Type{
				"completion": cty.String, "answer": cty.Number,
			})),
			"scores": cty.UnknownVal(cty.List(cty.Bool)),
		},
	}
	ok := map[string]cty.Type{
		`extract_number(item.completion) == item.answer`: cty.Bool,
		`mean([for s in scores : s ? 1 : 0])`:            cty.Number,
		`fraction(scores)`:                               cty.Number,
		`majority([extract_int(item.completion)])`:       cty.Number,
		`lines(item.completion)`:                         cty.List(cty.String),
	}
	for src, want := range ok {
		expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		got, diags := expr.Value(ctx)
		if diags.HasErrors() {
			t.Errorf("%s: %s", src, diags)
			continue
		}
		if got.IsKnown() || !got.Type().Equals(want) {
			t.Errorf("%s: got %#v, want unknown %s", src, got, want.FriendlyName())
		}
	}
	bad := map[string]string{
		`mean(item.completion)`:       "must be a list, set or tuple",
		`fraction([item.answer])`:     "all elements must be bool",
		`startswith(item.answer, [])`: "string required",
	}
	for src, msg := range bad {
		expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			continue // syntax errors are not ours
		}
		_, diags = expr.Value(ctx)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), msg) {
			t.Errorf("%s: got %v, want an error containing %q", src, diags, msg)
		}
	}
}

// TestFunctionsDoc keeps docs/functions.md in step with Docs(); run
// `go test ./stdlib/funcs -run TestFunctionsDoc -update` to rewrite it.
func TestFunctionsDoc(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "functions.md")
	got := renderDocs(Docs())
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run `go test ./stdlib/funcs -run TestFunctionsDoc -update`", path)
	}
}

func renderDocs(docs []Doc) []byte {
	var b bytes.Buffer
	b.WriteString("# Functions\n\n")
	b.WriteString("<!-- Generated from stdlib/funcs Docs() by `go test ./stdlib/funcs -run TestFunctionsDoc -update`. Do not edit. -->\n\n")
	b.WriteString("Every function below can be called in any expression of a `.loop.hcl` spec. " +
		"All are pure: the same arguments always give the same result. " +
		"During type checking each function is called with unknown values; a function returns an unknown of its result type, " +
		"so a wrong argument type is reported before anything runs.\n\n")
	b.WriteString("Signatures show parameter types; `...T` is any number of arguments of type T. " +
		"A parameter shown as `list of T` also accepts a set or a tuple of T. " +
		"Aggregates with no defined value on an empty collection (`mean`, `median`, `stddev`, `fraction`, `majority`, `agreement`) return null; " +
		"write `coalesce(mean(xs), 0)` for a default.\n")
	byCat := map[string][]Doc{}
	for _, d := range docs {
		byCat[d.Category] = append(byCat[d.Category], d)
	}
	for _, cat := range categoryOrder {
		if len(byCat[cat]) == 0 {
			continue
		}
		b.WriteString("\n## " + cat + "\n")
		for _, d := range byCat[cat] {
			b.WriteString("\n### `" + d.Name + "`\n\n")
			b.WriteString("```\n" + d.Signature + "\n```\n\n")
			b.WriteString(d.Description + "\n")
		}
	}
	return b.Bytes()
}
