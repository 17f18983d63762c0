package lineexpr_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/ouroloop/ouro/lang/fuzztest"
	"github.com/ouroloop/ouro/runtime/dataset"
	"github.com/ouroloop/ouro/runtime/lineexpr"
	"github.com/ouroloop/ouro/stdlib/funcs"
)

// recordType is the schema of the generated records.
var recordType = cty.Object(map[string]cty.Type{
	"s":   cty.String,
	"t":   cty.String,
	"n":   cty.Number,
	"m":   cty.Number,
	"i":   cty.Number,
	"b":   cty.Bool,
	"obj": cty.Object(map[string]cty.Type{"x": cty.Number, "y": cty.String}),
	"l":   cty.List(cty.Number),
})

func scope() *hcl.EvalContext {
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var": cty.ObjectVal(map[string]cty.Value{
				"k":    cty.NumberIntVal(3),
				"f":    cty.NumberFloatVal(0.1), // a float64-precision number
				"name": cty.StringVal("ab"),
			}),
		},
		Functions: funcs.Table(),
	}
}

// evalHCL is the reference: HCL's evaluation with the decoded record.
func evalHCL(e hcl.Expression, ctx *hcl.EvalContext, rec cty.Value) (cty.Value, bool) {
	child := ctx.NewChild()
	child.Variables = map[string]cty.Value{"item": rec}
	v, diags := e.Value(child)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	return v, true
}

// check compares the fast path with HCL for one expression and line.
func check(t *testing.T, src string, line []byte) (fast bool) {
	t.Helper()
	e, diags := hclsyntax.ParseExpression([]byte(src), "x.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("bad generated expression %q: %s", src, diags)
	}
	ctx := scope()
	c := lineexpr.NewCompiler(ctx)
	p, ok := c.Compile(e)
	if !ok {
		return false
	}
	rec, ok := dataset.Decode(line, recordType, dataset.DecodeOptions{})
	if !ok {
		t.Fatalf("bad generated line %s", line)
	}
	want, hclOK := evalHCL(e, ctx, rec)
	ev := c.NewEvaluator()
	ev.Reset(line)

	// As a filter condition.
	keep, ok := ev.Truth(p)
	if ok {
		if !hclOK {
			t.Fatalf("%s on %s: fast path kept=%v, HCL fails", src, line, keep)
		}
		b, err := convert.Convert(want, cty.Bool)
		if err != nil {
			t.Fatalf("%s on %s: fast path gave a bool, HCL %#v", src, line, want)
		}
		if wantKeep := !b.IsNull() && b.True(); keep != wantKeep {
			t.Fatalf("%s on %s: fast path keep=%v, HCL %#v", src, line, keep, want)
		}
	}
	// As a map field.
	if !hclOK {
		if _, ok := ev.Eval(p); ok {
			t.Fatalf("%s on %s: fast path has a value, HCL fails", src, line)
		}
		return false
	}
	ty := want.Type()
	if want.IsNull() && ty == cty.DynamicPseudoType {
		ty = cty.String
	}
	got, ok := ev.AppendCanonical(nil, p, ty)
	if !ok {
		return false
	}
	wantText, err := dataset.AppendCanonical(nil, want)
	if err != nil {
		t.Fatalf("%s on %s: fast path %s, HCL value cannot be stored: %v", src, line, got, err)
	}
	if !bytes.Equal(got, wantText) {
		t.Fatalf("%s on %s: fast path %s, HCL %s", src, line, got, wantText)
	}
	return true
}

func TestCases(t *testing.T) {
	line := []byte(`{"b":true,"i":42,"l":[1,2],"m":null,"n":0.5,"obj":{"x":7,"y":"é\"q"},"s":"Hello, World","t":"caf\u00e9 \n tab"}`)
	rec, _ := dataset.Decode(line, recordType, dataset.DecodeOptions{})
	canon, err := dataset.AppendCanonical(nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	line = canon
	cases := []struct {
		src  string
		fast bool // the fast path must answer (not decline)
	}{
		{`item.n > 0.25`, true},
		{`item.n > 0.5`, true},
		{`item.n >= 0.5`, true},
		{`item.n == 0.5`, true},
		{`item.n != 0.5`, true},
		{`item.i == 42 && item.b`, true},
		{`item.m != null && item.m > 3`, true}, // short-circuits past the null
		{`item.m == null || item.m > 3`, true},
		{`item.m > 3`, false},                // HCL fails: the general path words it
		{`item.n > var.f`, true},             // 0.5 vs 0.1: far apart
		{`upper(item.s)`, true},              // ASCII
		{`lower(item.t)`, true},              // non-ASCII: through cty's function
		{`"${item.s}!"`, true},               // template
		{`"${item.i} and ${item.n}"`, true},  // numbers in templates
		{`"${item.s}"`, true},                // wrapped
		{`item.obj.x + 1`, true},             // nested field, integer arithmetic
		{`item.obj.y == "é\"q"`, true},       // escapes
		{`item.i * 2 - var.k`, true},         //
		{`item.b ? item.s : "no"`, true},     //
		{`item.b ? item.s : null`, true},     //
		{`strlen(item.t)`, true},             // a stdlib function
		{`-item.i`, true},                    //
		{`!item.b`, true},                    //
		{`item.n / 2`, false},                // division: declined
		{`length(item.l)`, false},            // a list: declined
		{`item`, false},                      // the whole record
		{`item.s == var.name ? 1 : 2`, true}, //
		{`trimspace("  ${item.s}  ")`, true}, //
		{`item.b ? item.s : 3`, false},       // HCL converts 3 to "3": declined
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			if fast := check(t, tc.src, line); fast != tc.fast {
				t.Errorf("fast path answered = %v, want %v", fast, tc.fast)
			}
		})
	}
}

// TestDifferential compares the fast path with HCL on random expressions
// and records.
func TestDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if testing.Short() {
		n = 3000
	}
	answered := 0
	for range n {
		line := randomLine(r)
		src := randomExpr(r, 3)
		if check(t, src, line) {
			answered++
		}
	}
	t.Logf("fast path answered %d of %d", answered, n)
	if answered < n/4 {
		t.Errorf("fast path answered only %d of %d: the generator or the fast path is off", answered, n)
	}
}

func FuzzLineExpr(f *testing.F) {
	fuzztest.NoMinimize(f)
	for _, s := range []string{`item.n > 0.5`, `upper(item.s)`, `"${item.i}-${item.s}"`, `item.m != null && item.m > 3`} {
		f.Add(s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, src string, seed uint64) {
		if _, diags := hclsyntax.ParseExpression([]byte(src), "x.hcl", hcl.InitialPos); diags.HasErrors() {
			return
		}
		r := rand.New(rand.NewPCG(seed, 7))
		check(t, src, randomLine(r))
	})
}

var words = []string{"", "a", "Ab", "hello", "HELLO", "café", "e\u0301", "x\"y", "tab\there", "line\nbreak", "ß", "ǅ", "💡", " pad ", "0.5", "true"}

var numbers = []string{"0", "1", "-1", "42", "0.5", "0.1", "0.25", "3", "7", "1e+21", "1.5e-7", "123456789012345", "9007199254740993", "0.30000000000000004", "-0.75", "2.5", "100", "0.1000000000000000055511151231257827"}

func randomLine(r *rand.Rand) []byte {
	num := func() cty.Value {
		if r.IntN(8) == 0 {
			return cty.NullVal(cty.Number)
		}
		v, err := dataset.ParseNumber(numbers[r.IntN(len(numbers))])
		if err != nil {
			panic(err)
		}
		return v
	}
	str := func() cty.Value {
		if r.IntN(10) == 0 {
			return cty.NullVal(cty.String)
		}
		return cty.StringVal(words[r.IntN(len(words))] + words[r.IntN(len(words))])
	}
	b := cty.BoolVal(r.IntN(2) == 0)
	if r.IntN(10) == 0 {
		b = cty.NullVal(cty.Bool)
	}
	rec := cty.ObjectVal(map[string]cty.Value{
		"s": str(), "t": str(), "n": num(), "m": num(), "i": cty.NumberIntVal(int64(r.IntN(200) - 100)), "b": b,
		"obj": cty.ObjectVal(map[string]cty.Value{"x": num(), "y": str()}),
		"l":   cty.ListVal([]cty.Value{cty.NumberIntVal(1)}),
	})
	line, err := dataset.AppendCanonical(nil, rec)
	if err != nil {
		panic(err)
	}
	return line
}

func randomExpr(r *rand.Rand, depth int) string {
	leaf := func() string {
		switch r.IntN(7) {
		case 0:
			return []string{"item.s", "item.t", "item.obj.y", `item["s"]`, "var.name"}[r.IntN(5)]
		case 1:
			return []string{"item.n", "item.m", "item.i", "item.obj.x", "var.k", "var.f"}[r.IntN(6)]
		case 2:
			return []string{"item.b", "true", "false"}[r.IntN(3)]
		case 3:
			return "null"
		case 4:
			return fmt.Sprintf("%q", words[r.IntN(len(words))])
		default:
			return numbers[r.IntN(len(numbers))]
		}
	}
	if depth == 0 || r.IntN(4) == 0 {
		return leaf()
	}
	sub := func() string { return randomExpr(r, depth-1) }
	switch r.IntN(12) {
	case 0, 1:
		ops := []string{">", ">=", "<", "<=", "==", "!="}
		return "(" + sub() + " " + ops[r.IntN(len(ops))] + " " + sub() + ")"
	case 2:
		return "(" + sub() + " && " + sub() + ")"
	case 3:
		return "(" + sub() + " || " + sub() + ")"
	case 4:
		return "!" + sub()
	case 5:
		ops := []string{"+", "-", "*"}
		return "(" + sub() + " " + ops[r.IntN(3)] + " " + sub() + ")"
	case 6:
		return "(" + sub() + " ? " + sub() + " : " + sub() + ")"
	case 7:
		return `"${` + sub() + `}-${` + sub() + `}"`
	case 8:
		fns := []string{"upper", "lower", "trimspace", "strlen", "abs", "floor"}
		return fns[r.IntN(len(fns))] + "(" + sub() + ")"
	case 9:
		return "-" + sub()
	case 10:
		return strings.Repeat("(", 1) + sub() + ")"
	default:
		return leaf()
	}
}
