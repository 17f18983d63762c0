package stdlib

import (
	"sort"

	"github.com/zclconf/go-cty/cty/function"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/stdlib/funcs"
)

// Registry holds the standard operators and providers. It implements
// compiler.Registry.
type Registry struct {
	ops       map[string]*compiler.Signature
	providers map[string]*compiler.Signature
}

// NewRegistry returns the registry of every standard operator and provider.
func NewRegistry() *Registry {
	r := &Registry{ops: map[string]*compiler.Signature{}, providers: map[string]*compiler.Signature{}}
	for _, s := range operatorSignatures() {
		r.ops[s.Name] = s
	}
	for _, s := range providerSignatures() {
		r.providers[s.Name] = s
	}
	return r
}

// Operator returns the signature of the named operator.
func (r *Registry) Operator(name string) (*compiler.Signature, bool) {
	s, ok := r.ops[name]
	return s, ok
}

// OperatorNames lists the operators, sorted.
func (r *Registry) OperatorNames() []string { return sortedNames(r.ops) }

// Provider returns the signature of the named model provider.
func (r *Registry) Provider(name string) (*compiler.Signature, bool) {
	s, ok := r.providers[name]
	return s, ok
}

// ProviderNames lists the model providers, sorted.
func (r *Registry) ProviderNames() []string { return sortedNames(r.providers) }

// Functions returns the function table of spec expressions.
func Functions() map[string]function.Function { return funcs.Table() }

func sortedNames(m map[string]*compiler.Signature) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var _ compiler.Registry = (*Registry)(nil)
