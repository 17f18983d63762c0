package runtime

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// TestEvalItemBareReference checks that the shortcut for `item.a.b` gives
// HCL's value, and leaves HCL's errors to HCL.
func TestEvalItemBareReference(t *testing.T) {
	rec := cty.ObjectVal(map[string]cty.Value{
		"s":    cty.StringVal("x"),
		"obj":  cty.ObjectVal(map[string]cty.Value{"n": cty.NumberIntVal(3)}),
		"null": cty.NullVal(cty.Object(map[string]cty.Type{"n": cty.Number})),
		"m":    cty.MapVal(map[string]cty.Value{"k": cty.StringVal("v")}),
	})
	for _, tc := range []struct {
		src, want, err string
		bare           bool
	}{
		{src: "item.s", want: `cty.StringVal("x")`, bare: true},
		{src: "item.obj.n", want: `cty.NumberIntVal(3)`, bare: true},
		{src: "item.m.k", want: `cty.StringVal("v")`, bare: true}, // a map: HCL does it
		{src: "item.null.n", err: "null", bare: true},             // HCL's error
		{src: `item["s"]`, want: `cty.StringVal("x")`},
		{src: "upper(item.s)", err: "function calls not allowed"},
	} {
		expr, diags := hclsyntax.ParseExpression([]byte(tc.src), "t.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		e := &ItemExpr{Name: "x", Expr: expr, Scope: &hcl.EvalContext{}}
		v, err := e.EvalItem(rec)
		if (e.bare != nil) != tc.bare {
			t.Errorf("%s: bare = %v, want %v", tc.src, e.bare, tc.bare)
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), tc.err) {
				t.Errorf("%s: err = %v, want one mentioning %q", tc.src, err, tc.err)
			}
			continue
		}
		if err != nil || v.GoString() != tc.want {
			t.Errorf("%s = %#v, %v; want %s", tc.src, v, err, tc.want)
		}
	}
}
