package params

import (
	"math"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime"
)

func TestInt(t *testing.T) {
	x := &runtime.Exec{Params: map[string]cty.Value{
		"n":    cty.NumberIntVal(3),
		"half": cty.NumberFloatVal(2.5),
		"big":  cty.NumberFloatVal(1e30),
		"null": cty.NullVal(cty.Number),
	}}
	for _, tc := range []struct {
		name string
		want int
		err  string
	}{
		{"n", 3, ""},
		{"null", 7, ""},
		{"absent", 7, ""},
		{"half", 0, "half must be a whole number, not 2.5"},
		{"big", 0, "big is out of range"},
	} {
		got, err := Int(x, tc.name, 7)
		if msg := errString(err); got != tc.want || msg != tc.err {
			t.Errorf("Int(%s) = %d, %q; want %d, %q", tc.name, got, msg, tc.want, tc.err)
		}
	}
}

func TestUint64(t *testing.T) {
	x := &runtime.Exec{Params: map[string]cty.Value{
		"seed": cty.NumberIntVal(42),
		"neg":  cty.NumberIntVal(-1),
		"half": cty.NumberFloatVal(0.5),
	}}
	if u, err := Uint64(x, "seed"); u != 42 || err != nil {
		t.Errorf("Uint64(seed) = %d, %v", u, err)
	}
	if u, err := Uint64(x, "neg"); u != math.MaxUint64 || err != nil {
		t.Errorf("Uint64(neg) = %d, %v; want wrap-around", u, err)
	}
	if _, err := Uint64(x, "half"); errString(err) != "half must be a whole number, not 0.5" {
		t.Errorf("Uint64(half) error = %v", err)
	}
}

func TestCollections(t *testing.T) {
	x := &runtime.Exec{Params: map[string]cty.Value{
		"argv": cty.ListVal([]cty.Value{cty.StringVal("a"), cty.NullVal(cty.String), cty.StringVal("b")}),
		"env":  cty.MapVal(map[string]cty.Value{"K": cty.StringVal("v")}),
	}}
	if got := Strings(x, "argv"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("Strings(argv) = %q", got)
	}
	if got := StringMap(x, "env"); len(got) != 1 || got["K"] != "v" {
		t.Errorf("StringMap(env) = %v", got)
	}
	if got := StringMap(x, "absent"); got == nil || len(got) != 0 {
		t.Errorf("StringMap(absent) = %#v; want empty, not nil", got)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
