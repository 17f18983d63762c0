package compiler

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/ouroloop/ouro/lang"
)

// Options are the compiler's inputs besides the configuration.
type Options struct {
	Registry  Registry
	Functions map[string]function.Function
	// Vars are values for input variables, from -var and -var-file, in the
	// order given; later ones win.
	Vars []VarInput
}

// VarInput is one value given for an input variable.
type VarInput struct {
	Name string
	// Expr is the value as an expression; for -var on a string variable it
	// is a literal. Range points at where the value was given.
	Expr hcl.Expression
	// Raw, when set, is taken literally if the variable's type is string
	// (the -var name=value form), and parsed as an expression otherwise.
	Raw      string
	IsRaw    bool
	Range    hcl.Range
	FromFile bool
}

// Result is what Compile produces: the plan when the spec is valid, and the
// template graph (one node per declared object, loops folded) for `ouro
// graph`, present even when the spec has errors such as cycles.
type Result struct {
	Plan  *Plan
	Graph *Graph
}

// pass is one named step of the compiler. Passes run in order. A pass with
// afterErrors set still runs when earlier passes reported errors, working
// around what is broken, so a user sees every mistake of a spec at once;
// the others run only on an error-free spec.
type pass struct {
	name        string
	run         func(c *compiler)
	afterErrors bool
}

// passes lists the compiler's steps in order, with why the order matters.
var passes = []pass{
	// Variables first: their values are known at compile time and other
	// passes (provider names, loop rounds) may need them.
	{"variables", (*compiler).passVariables, false},
	// Declare every object under its address; decode operator bodies
	// against signatures (needs known variables for model providers).
	{"declare", (*compiler).passDeclare, true},
	// Resolve every reference of every expression to a declared address,
	// reporting dangling and misplaced ones (needs the declarations).
	{"resolve", (*compiler).passResolve, true},
	// Cycles are checked on the resolved graph before any evaluation, which
	// would otherwise recurse forever.
	{"cycles", (*compiler).passCycles, true},
	// Type-check in topological order, evaluating with unknown values.
	// Expressions whose references did not resolve are skipped, and
	// nothing is checked when there is a cycle (there is no order).
	{"typecheck", (*compiler).passTypecheck, true},
	// Unroll loops into per-round subgraphs and emit the immutable plan.
	{"emit", (*compiler).passEmit, false},
}

// PassNames lists the compiler's passes in the order they run.
func PassNames() []string {
	out := make([]string, len(passes))
	for i, p := range passes {
		out[i] = p.name
	}
	return out
}

// Compile checks a decoded configuration and compiles it into a Plan.
func Compile(cfg *lang.Config, opts Options) (*Result, hcl.Diagnostics) {
	if opts.Functions == nil {
		opts.Functions = map[string]function.Function{}
	}
	c := &compiler{cfg: cfg, opts: opts, nodes: map[string]*tnode{}}
	for _, p := range passes {
		if c.diags.HasErrors() && !p.afterErrors {
			break
		}
		p.run(c)
	}
	res := &Result{Graph: c.graph()}
	if !c.diags.HasErrors() {
		res.Plan = c.plan
	}
	return res, c.diags
}

type compiler struct {
	cfg   *lang.Config
	opts  Options
	diags hcl.Diagnostics

	vars  map[string]cty.Value
	nodes map[string]*tnode
	order []*tnode // declaration order
	topo  []*tnode // topological order (after cycles)
	plan  *Plan
	seed  int64

	cycleEdges map[[2]string]bool
	hasCycle   bool
}

func (c *compiler) errorf(rng *hcl.Range, summary, detail string, args ...any) {
	c.diags = append(c.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detail, args...),
		Subject:  rng,
	})
}

func (c *compiler) add(n *tnode) *tnode {
	c.nodes[n.addr] = n
	c.order = append(c.order, n)
	return n
}
