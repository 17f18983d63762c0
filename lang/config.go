package lang

import (
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
)

// Config is the decoded content of one spec: a single file or every
// *.loop.hcl file of a directory, merged.
type Config struct {
	// Files maps each parsed file name to its parsed form; Sources holds the
	// raw bytes. Both are what diagnostic writers need to print snippets.
	Files   map[string]*hcl.File
	Sources map[string][]byte

	Variables []*Variable
	Locals    []*Local
	Models    []*Model
	Datasets  []*Dataset
	Stages    []*Stage // top-level stages; loop stages live in Loop.Stages
	Loops     []*Loop
	Outputs   []*Output
	Moved     []*Moved
	Modules   []*Module
	Settings  *Settings

	// Dir is the folder of the spec: the directory given, or the folder of
	// the file; relative paths in the spec (and module sources) start
	// there. Paths are the spec's own files, without its modules'.
	Dir   string
	Paths []string
}

// Variable is a `variable "name" { ... }` block: an input set with -var,
// -var-file or its default.
type Variable struct {
	Name        string
	Description string
	// Type is the declared type constraint (cty.DynamicPseudoType when the
	// block has no type); Defaults holds optional() attribute defaults.
	Type        cty.Type
	Defaults    *typeexpr.Defaults
	Default     cty.Value // cty.NilVal when there is no default (the variable is required)
	Sensitive   bool
	Validations []*Validation
	// Kind is "dataset" or "model" for a variable of type
	// dataset(object({…})) or model, an input only a module's caller can
	// give (then Type is the dataset's record type, or cty.DynamicPseudoType
	// for a model); "" for a plain value.
	Kind string

	DeclRange hcl.Range
	TypeRange hcl.Range
}

// Validation is a `validation { condition = …, error_message = … }` rule of a
// variable, evaluated by the compiler once the variable's value is known.
type Validation struct {
	Condition    hcl.Expression
	ErrorMessage hcl.Expression
	DeclRange    hcl.Range
}

// Local is one attribute of a `locals { … }` block.
type Local struct {
	Name      string
	Expr      hcl.Expression
	DeclRange hcl.Range
}

// Model is a `model "name" { provider = … }` block. Its other arguments
// depend on the provider and are decoded by the compiler.
type Model struct {
	Name     string
	Provider hcl.Expression // required; usually a literal string, may use variables
	Body     hcl.Body       // the remaining, provider-specific arguments
	Repeat
	DeclRange hcl.Range
	NameRange hcl.Range
}

// Repeat holds the meta-arguments `count` and `for_each` of a model,
// dataset or stage block: "N of these". Both are nil when the block is
// declared once; the compiler evaluates them and reports a block with both.
// Neither reaches the provider's or the operator's body.
type Repeat struct {
	Count   hcl.Expression
	ForEach hcl.Expression
}

// Repeated reports whether the block has `count` or `for_each`.
func (r Repeat) Repeated() bool { return r.Count != nil || r.ForEach != nil }

// Dataset is a `dataset "name" { … }` block. Its arguments are those of the
// `dataset` operator and are decoded by the compiler.
type Dataset struct {
	Name string
	Body hcl.Body
	Repeat
	DeclRange hcl.Range
	NameRange hcl.Range
}

// Stage is a `stage "<operator>" "<name>" { … }` block, at top level or
// inside a loop.
type Stage struct {
	Operator string
	Name     string
	Body     hcl.Body // operator-specific arguments
	Loop     *Loop    // the enclosing loop, nil at top level
	Repeat

	DeclRange     hcl.Range
	OperatorRange hcl.Range
	NameRange     hcl.Range
}

// Loop is a `loop "name" { … }` block: stages repeated for a number of
// rounds, with state carried from one round to the next.
type Loop struct {
	Name   string
	Rounds hcl.Expression // number of rounds (an upper bound when Until is set)
	State  hcl.Expression // initial state object (round 0); nil when absent
	Next   hcl.Expression // state for the following round; nil when absent
	Until  hcl.Expression // stop condition evaluated after each round; nil when absent
	Stages []*Stage
	// Modules are the module blocks inside the loop, run once per round;
	// Config.Modules holds them too.
	Modules []*Module

	DeclRange hcl.Range
	NameRange hcl.Range
}

// Output is an `output "name" { value = … }` block.
type Output struct {
	Name        string
	Description string
	Value       hcl.Expression
	DeclRange   hcl.Range
}

// Moved is a `moved { from = stage.a  to = stage.b[1] }` block: the stage
// (or dataset) declared at To was declared at From before the spec was
// edited, and keeps the identity it had there. Both are references; the
// compiler checks them.
type Moved struct {
	From, To  hcl.Expression
	DeclRange hcl.Range
}

// Settings is the optional `settings { … }` block of run-wide options.
type Settings struct {
	Seed        hcl.Expression // nil when absent
	Parallelism hcl.Expression // nil when absent
	Description string
	DeclRange   hcl.Range
}

// AllStages returns every stage of the spec: top-level first, then each
// loop's, in source order.
func (c *Config) AllStages() []*Stage {
	out := append([]*Stage(nil), c.Stages...)
	for _, l := range c.Loops {
		out = append(out, l.Stages...)
	}
	return out
}

// FileNames returns the parsed file names, sorted.
func (c *Config) FileNames() []string {
	names := make([]string, 0, len(c.Files))
	for n := range c.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
