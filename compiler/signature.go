package compiler

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/lang/pattern"
)

// Mode says how the compiler treats a parameter's expression.
type Mode int

const (
	// ModeValue parameters are evaluated once, before the stage runs. They
	// may read variables, locals, models, datasets, other stages, the loop's
	// state and round.
	ModeValue Mode = iota
	// ModePerItem parameters are closures evaluated for every record; they
	// see `item` (and whatever Param.Vars adds) besides what ModeValue sees.
	// Their normalised source is part of the stage's cache key.
	ModePerItem
	// ModePattern parameters are literal strings in the extraction-pattern
	// language (package lang/pattern).
	ModePattern
	// ModeType parameters are type expressions, such as a dataset schema.
	ModeType
)

func (m Mode) String() string {
	switch m {
	case ModePerItem:
		return "per-item"
	case ModePattern:
		return "pattern"
	case ModeType:
		return "type"
	}
	return "value"
}

// Param declares one argument of an operator or model provider.
type Param struct {
	Name string
	Doc  string
	// Type is the type the value (or, for per-item parameters, each
	// per-record result) is converted to. cty.DynamicPseudoType accepts
	// anything. Dataset parameters use DatasetType(cty.DynamicPseudoType) to
	// accept any dataset.
	Type     cty.Type
	Required bool
	Default  cty.Value // cty.NilVal when there is none
	Mode     Mode
	// OneOf restricts a string parameter to these values.
	OneOf []string
	// ItemOf names the dataset parameter whose record type `item` has in a
	// per-item parameter. Ignored when Vars is set.
	ItemOf string
	// Vars returns the names a per-item parameter sees besides the stage's
	// scope (for example `item`, `scores`). It is called after every
	// parameter before it in the signature has been checked.
	Vars func(c *Check) map[string]cty.Type
}

// Family is where an operator sits in the self-improvement lifecycle.
type Family string

const (
	Acquisition  Family = "acquisition"
	Selection    Family = "selection"
	Optimization Family = "optimization"
	Refinement   Family = "refinement"
	Evaluation   Family = "evaluation"
	Provider     Family = "provider"
)

// Signature is what the compiler knows of an operator or a model provider:
// its parameters and how its result type follows from them. The
// implementation lives in the runtime's registry; the two are joined by
// Name.
type Signature struct {
	Name   string
	Doc    string
	Family Family
	Params []*Param
	// Removed names arguments the operator no longer takes, each with the
	// detail of the error a spec that sets one gets (what to write
	// instead).
	Removed map[string]string
	// Result computes the type of the stage's value (`stage.<name>`) from
	// the checked parameters. Datasets are DatasetType(record type). Nil
	// means the operator yields a dataset with its input's record type.
	Result func(c *Check) (cty.Type, hcl.Diagnostics)
}

// Param returns the named parameter, or nil.
func (s *Signature) Param(name string) *Param {
	for _, p := range s.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Registry is the compiler's view of the operator library: signatures only.
// Package stdlib implements it; tests may provide their own.
type Registry interface {
	Operator(name string) (*Signature, bool)
	OperatorNames() []string
	Provider(name string) (*Signature, bool)
	ProviderNames() []string
}

// Check is what a signature's Result and Vars functions see while a stage
// is type-checked.
type Check struct {
	Stage string // address of the stage being checked, for messages
	// Types holds the type of every ModeValue parameter present, or its
	// default. Values holds the value, which may be unknown at check time.
	Types  map[string]cty.Type
	Values map[string]cty.Value
	// ItemTypes holds the result type of every per-item parameter present.
	ItemTypes map[string]cty.Type
	Patterns  map[string]*pattern.Pattern
	Schemas   map[string]cty.Type // ModeType parameters
	Ranges    map[string]hcl.Range
	// Exprs holds the expression of every parameter given, for a
	// diagnostic about part of it (a field of a type expression).
	Exprs     map[string]hcl.Expression
	DeclRange hcl.Range
}

// Has reports whether the parameter was given in the spec (or has a default).
func (c *Check) Has(name string) bool {
	if _, ok := c.Types[name]; ok {
		return true
	}
	if _, ok := c.ItemTypes[name]; ok {
		return true
	}
	if _, ok := c.Patterns[name]; ok {
		return true
	}
	_, ok := c.Schemas[name]
	return ok
}

// Elem returns the record type of a dataset parameter, or cty.DynamicPseudoType.
func (c *Check) Elem(param string) cty.Type {
	if t, ok := c.Types[param]; ok && IsDatasetType(t) {
		return DatasetElem(t)
	}
	return cty.DynamicPseudoType
}

// Range returns the range of a parameter's expression, or the stage's.
func (c *Check) Range(param string) *hcl.Range {
	if r, ok := c.Ranges[param]; ok {
		return &r
	}
	r := c.DeclRange
	return &r
}

// Known returns the value of a parameter when it is known at compile time.
func (c *Check) Known(param string) (cty.Value, bool) {
	v, ok := c.Values[param]
	if !ok || !v.IsWhollyKnown() || v.IsNull() {
		return cty.NilVal, false
	}
	return v, true
}
