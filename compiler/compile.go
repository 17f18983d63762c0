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

	refs   []Reference
	scopes map[[2]string]map[string]cty.Type
}

// Compile checks a decoded configuration and compiles it into a Plan. The
// package doc describes the passes and why they run in this order.
func Compile(cfg *lang.Config, opts Options) (*Result, hcl.Diagnostics) {
	if opts.Functions == nil {
		opts.Functions = map[string]function.Function{}
	}
	c := &compiler{cfg: cfg, opts: opts, nodes: map[string]*tnode{}, moduleCfg: map[string]*lang.Config{}}
	c.root = &scope{cfg: cfg}
	c.cur = c.root

	c.passVariables() // the value of every input variable, and the seed
	// These four also run after errors, working around what is broken, so
	// a user sees every mistake of a spec at once.
	c.passDeclare()   // a template node per declared object; bodies decoded by signature
	c.passResolve()   // each reference of each expression to a node: the dependency edges
	c.passCycles()    // the topological order, or each cycle reported once
	c.passTypecheck() // a type for every node, evaluating with unknown values
	if !c.diags.HasErrors() {
		c.passEmit() // loops unrolled into rounds: the Plan
	}

	if len(c.cfg.Modules) > 0 {
		c.dedupeModuleDiags()
	}
	suggestAttributes(c.diags)
	res := &Result{Graph: c.graph(), refs: c.references(), scopes: c.scopes}
	if !c.diags.HasErrors() {
		res.Plan = c.plan
	}
	return res, c.diags
}

// PassNames lists the compiler's passes in the order Compile runs them.
func PassNames() []string {
	return []string{"variables", "declare", "resolve", "cycles", "typecheck", "emit"}
}

type compiler struct {
	cfg   *lang.Config
	opts  Options
	diags hcl.Diagnostics

	vars map[string]cty.Value
	// changedVars holds the variables given a value other than their default.
	changedVars map[string]bool
	nodes       map[string]*tnode
	order       []*tnode // declaration order
	topo        []*tnode // topological order (after cycles)
	plan        *Plan
	seed        int64

	cycleEdges map[[2]string]bool
	hasCycle   bool

	// scopes holds the per-item names of each (stage, argument), for
	// Result.ItemScope.
	scopes    map[[2]string]map[string]cty.Type
	instDiags map[string]bool // diagnostics already reported by an instance (dedupeInstance)

	// root is the spec's scope; cur is the scope being declared (the root,
	// or a module instance, see module.go).
	root, cur *scope
	// moduleCfg is the spec of each module instance in the plan (by
	// Node.Module), for its moved blocks.
	moduleCfg map[string]*lang.Config
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
	if n.mod == nil {
		n.mod = c.cur
	}
	c.nodes[n.addr] = n
	c.order = append(c.order, n)
	return n
}
