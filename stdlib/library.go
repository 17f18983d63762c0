package stdlib

import (
	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/modelops"
	"github.com/ouroloop/ouro/stdlib/ops"
	"github.com/ouroloop/ouro/stdlib/providers"
)

// Library is the standard set of operator and provider implementations.
// It implements runtime.Library.
type Library struct {
	reg       *Registry
	ops       map[string]runtime.Operator
	providers map[string]runtime.Provider
}

// NewLibrary returns the standard implementations, joined to the
// signatures of NewRegistry by name.
func NewLibrary() *Library {
	l := &Library{reg: NewRegistry(), ops: map[string]runtime.Operator{}, providers: map[string]runtime.Provider{}}
	for _, op := range ops.Operators() {
		l.ops[op.Name()] = op
	}
	for _, op := range modelops.Operators() {
		l.ops[op.Name()] = op
	}
	for _, p := range providers.Providers() {
		l.providers[p.Name()] = p
	}
	return l
}

// Operator implements runtime.Library.
func (l *Library) Operator(name string) (runtime.Operator, bool) {
	op, ok := l.ops[name]
	return op, ok
}

// Provider implements runtime.Library.
func (l *Library) Provider(name string) (runtime.Provider, bool) {
	p, ok := l.providers[name]
	return p, ok
}

// Signatures implements runtime.Library.
func (l *Library) Signatures() compiler.Registry { return l.reg }

var _ runtime.Library = (*Library)(nil)
