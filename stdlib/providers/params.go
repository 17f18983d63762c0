// Package providers implements ouro's model providers: builtin (the pure-Go
// model of stdlib/models/gpt), openai (any OpenAI-compatible server through
// github.com/openai/openai-go/v3) and command (an external generator
// process). Their compiler signatures live in package stdlib; docs/providers.md
// is the user reference.
package providers

import (
	"fmt"
	"math/big"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime"
)

// Providers returns every standard provider implementation.
func Providers() []runtime.Provider {
	return []runtime.Provider{&Builtin{}, &OpenAI{}, &Command{}}
}

// Param helpers: the runtime fills defaults, so a null means "not set".

func paramInt(x *runtime.Exec, name string, def int) (int, error) {
	v := x.Param(name)
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.Number {
		return def, nil
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		return 0, fmt.Errorf("%s must be a whole number, not %s", name, bf.Text('g', -1))
	}
	i, acc := bf.Int64()
	if acc != big.Exact {
		return 0, fmt.Errorf("%s is out of range", name)
	}
	return int(i), nil
}

func paramUint64(x *runtime.Exec, name string) (uint64, error) {
	v := x.Param(name)
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.Number {
		return 0, nil
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		return 0, fmt.Errorf("%s must be a whole number", name)
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

func paramString(x *runtime.Exec, name, def string) string {
	v := x.Param(name)
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return def
	}
	return v.AsString()
}

func paramStrings(x *runtime.Exec, name string) []string {
	v := x.Param(name)
	if v.IsNull() || !v.IsKnown() || !(v.Type().IsListType() || v.Type().IsTupleType()) {
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

func paramStringMap(x *runtime.Exec, name string) map[string]string {
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

func parseDuration(name, s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive Go duration such as \"60s\"", name, s)
	}
	return d, nil
}
