package funcs

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

var (
	num  = cty.NumberIntVal
	numf = cty.NumberFloatVal
	str  = cty.StringVal
	nums = func(xs ...int64) cty.Value {
		vs := make([]cty.Value, len(xs))
		for i, x := range xs {
			vs[i] = num(x)
		}
		return cty.ListVal(vs)
	}
	bools = func(xs ...bool) cty.Value {
		vs := make([]cty.Value, len(xs))
		for i, x := range xs {
			vs[i] = cty.BoolVal(x)
		}
		return cty.ListVal(vs)
	}
	tuple = cty.TupleVal
)

type callCase struct {
	fn      string
	args    []cty.Value
	want    cty.Value // an unknown want means "unknown of this type"
	wantErr string    // substring of the error
}

func c(fn string, want cty.Value, args ...cty.Value) callCase {
	return callCase{fn: fn, args: args, want: want}
}

func e(fn string, wantErr string, args ...cty.Value) callCase {
	return callCase{fn: fn, args: args, wantErr: wantErr}
}

func runCases(t *testing.T, cases []callCase) {
	t.Helper()
	table := Table()
	for _, tc := range cases {
		name := tc.fn + "(" + argString(tc.args) + ")"
		t.Run(name, func(t *testing.T) {
			fn, ok := table[tc.fn]
			if !ok {
				t.Fatalf("no function %q in Table()", tc.fn)
			}
			got, err := fn.Call(tc.args)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("got %#v, want error containing %q", got, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q does not contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %s", err)
			}
			if !sameValue(got, tc.want) {
				t.Fatalf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func argString(args []cty.Value) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = a.GoString()
	}
	s := strings.Join(parts, ", ")
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return s
}

// sameValue compares results: unknowns by type and marks, numbers
// numerically, everything else with RawEquals.
func sameValue(got, want cty.Value) bool {
	if !got.Type().Equals(want.Type()) {
		return false
	}
	gu, gm := got.Unmark()
	wu, wm := want.Unmark()
	if len(gm) != len(wm) {
		return false
	}
	for m := range wm {
		if _, ok := gm[m]; !ok {
			return false
		}
	}
	if !wu.IsKnown() {
		return !gu.IsKnown()
	}
	if !gu.IsKnown() {
		return false
	}
	if wu.Type() == cty.Number && !wu.IsNull() && !gu.IsNull() {
		return gu.AsBigFloat().Cmp(wu.AsBigFloat()) == 0
	}
	return gu.RawEquals(wu)
}
