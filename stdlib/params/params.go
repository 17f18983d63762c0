// Package params reads an operator's or provider's evaluated arguments
// from a runtime.Exec, for the implementations in stdlib/ops,
// stdlib/modelops and stdlib/providers.
//
// The compiler has already converted every argument to its parameter's
// type and the runtime has filled in defaults, so these helpers check only
// what a type cannot say (a number that must be whole). A null or unknown
// value, or one of another type, means "not set": the helper returns its
// default. Errors name the parameter but not the stage or model: the
// caller adds that.
package params

import (
	"fmt"
	"math/big"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime"
)

// Number returns a number argument as a float64; ok is false when it is not set.
func Number(x *runtime.Exec, name string) (f float64, ok bool) {
	v := x.Param(name)
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.Number {
		return 0, false
	}
	f, _ = v.AsBigFloat().Float64()
	return f, true
}

// NumberOr returns a number argument as a float64, or def when it is not set.
func NumberOr(x *runtime.Exec, name string, def float64) float64 {
	if f, ok := Number(x, name); ok {
		return f
	}
	return def
}

// Int returns a whole-number argument, or def when it is not set.
func Int(x *runtime.Exec, name string, def int) (int, error) {
	v := x.Param(name)
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.Number {
		return def, nil
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		return 0, notWhole(name, bf)
	}
	i, acc := bf.Int64()
	if acc != big.Exact {
		return 0, fmt.Errorf("%s is out of range", name)
	}
	return int(i), nil
}

// Uint64 returns a whole-number argument such as a seed, or 0 when it is
// not set. A negative number wraps around, as a conversion from int64 does.
func Uint64(x *runtime.Exec, name string) (uint64, error) {
	v := x.Param(name)
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.Number {
		return 0, nil
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		return 0, notWhole(name, bf)
	}
	if bf.Sign() < 0 {
		i, _ := bf.Int64()
		return uint64(i), nil
	}
	u, acc := bf.Uint64()
	if acc != big.Exact {
		return 0, fmt.Errorf("%s is out of range", name)
	}
	return u, nil
}

func notWhole(name string, bf *big.Float) error {
	return fmt.Errorf("%s must be a whole number, not %s", name, bf.Text('g', -1))
}

// String returns a string argument, or def when it is not set.
func String(x *runtime.Exec, name, def string) string {
	v := x.Param(name)
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return def
	}
	return v.AsString()
}

// Bool reports whether a bool argument is set and true.
func Bool(x *runtime.Exec, name string) bool {
	v := x.Param(name)
	return !v.IsNull() && v.IsKnown() && v.Type() == cty.Bool && v.True()
}

// Strings returns the strings of a list, tuple or set argument, skipping
// nulls and elements that are no strings; nil when it is not set.
func Strings(x *runtime.Exec, name string) []string {
	v := x.Param(name)
	if v.IsNull() || !v.IsKnown() || !(v.Type().IsListType() || v.Type().IsTupleType() || v.Type().IsSetType()) {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if !e.IsNull() && e.Type() == cty.String {
			out = append(out, e.AsString())
		}
	}
	return out
}

// StringMap returns the string values of a map or object argument,
// skipping nulls and values that are no strings; empty, never nil, when it
// is not set.
func StringMap(x *runtime.Exec, name string) map[string]string {
	v := x.Param(name)
	out := map[string]string{}
	if v.IsNull() || !v.IsKnown() || !(v.Type().IsMapType() || v.Type().IsObjectType()) {
		return out
	}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if !e.IsNull() && e.Type() == cty.String {
			out[k.AsString()] = e.AsString()
		}
	}
	return out
}

// Duration parses the value s of the duration argument name, such as
// "60s"; def when s is empty.
func Duration(name, s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive Go duration such as \"60s\"", name, s)
	}
	return d, nil
}
