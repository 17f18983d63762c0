package compiler

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/ouroloop/ouro/lang"
)

// Modules: `module "eval" { source = "./eval" … }` instantiates another
// spec, loaded by lang into Module.Config.
//
// declare expands a module instance inline, the way count expands a block:
// every object of the module's spec becomes an ordinary template node of
// this compilation, its address prefixed with the instance's
// (module.eval.stage.score, module.a.module.b.dataset.x), its expressions
// resolved in the module's own scope (a scope per instance: stage.x inside
// the module is module.eval.stage.x). Nothing else changes: the module's
// nodes are resolved, ordered, type-checked and emitted with the caller's,
// so types cross the boundary exactly, and a dataset flows from a caller's
// stage into the module's stages with its real record type.
//
// The boundary itself is two kinds of node:
//
//	module.eval.var.x   (tVar) a variable of the module: the caller's
//	                    argument expression, resolved in the caller's scope,
//	                    checked against the variable's type; inside the
//	                    module, var.x reads it.
//	module.eval         (tModule) the instance: the object of the module's
//	                    outputs; module.eval.score in the caller reads it.
//
// What must be known before the run inside a module (a provider, a count,
// a queue) may read the module's variables when the caller gives them from
// constants and its own variables: scope.static holds those values.
//
// Cache keys do not see the instance: a stage's seed is made from its
// address inside its module (Node.Module is cut off), and file arguments
// are hashed by content, relative to the module's folder (Node.Dir). So
// the same module with the same inputs has the same keys in every spec
// that uses it, whatever the instance is called and wherever it lives.

// scope is one spec's namespace: the root's, or one module instance's.
type scope struct {
	prefix string // "" for the root; "module.eval." for an instance
	cfg    *lang.Config
	call   *lang.Module // the module block; nil for the root
	parent *scope
	// static holds the variables known before the run: for the root every
	// variable (compiler.vars), for an instance those its caller gives
	// from constants and static variables, and defaults.
	static       map[string]cty.Value
	staticLocals map[string]cty.Value // locals known before declare (count, for_each); NilVal: not static
	dir          string               // the spec's folder relative to the root's, slash-separated; "" for the root
}

// addr is the instance's address: module.eval, module.a.module.b.
func (s *scope) addr() string { return strings.TrimSuffix(s.prefix, ".") }

// declareModule declares module block m called from scope caller: one
// instance, or with `count` or `for_each` one instance per key and the group
// (module.eval, the tuple or object of the instances' output objects), the
// way declareRepeated expands a stage. An instance's arguments see count.index
// or each.key and each.value; the module's own objects do not (they see its
// variables).
func (c *compiler) declareModule(caller *scope, m *lang.Module) {
	base := caller.prefix + "module." + m.Name
	if m.Loop != nil {
		base = "loop." + m.Loop.Name + "." + base
	}
	if !m.Repeated() {
		c.declareModuleInstance(caller, m, base, nil, nil)
		return
	}
	insts, forEach, ok := c.instances(base, m.Repeat)
	g := &tnode{addr: base, kind: tGroup, name: m.Name, decl: m.DeclRange, forEach: forEach, failed: !ok, memberKind: tModule}
	for _, in := range insts {
		g.members = append(g.members, c.declareModuleInstance(caller, m, base+in.key, in, g))
	}
	c.add(g)
}

// declareModuleInstance declares the instance addr of module m: one node
// per variable, the module's own objects, and the instance node, which it
// returns. in and g are the instance and its group when the block is
// repeated.
func (c *compiler) declareModuleInstance(caller *scope, m *lang.Module, addr string, in *instance, g *tnode) *tnode {
	if m.Config == nil {
		// Not loaded (reported by lang): a node whose value is dynamic, so
		// module.x.y does not cascade into more errors.
		return c.add(&tnode{addr: addr, kind: tModule, name: m.Name, decl: m.DeclRange, inst: in, group: g})
	}
	ms := &scope{prefix: addr + ".", cfg: m.Config, call: m, parent: caller, static: map[string]cty.Value{}}
	if rel, err := filepath.Rel(c.root.cfg.Dir, m.Config.Dir); err == nil {
		ms.dir = filepath.ToSlash(rel)
	} else {
		ms.dir = filepath.ToSlash(m.Config.Dir)
	}
	if s := m.Config.Settings; s != nil {
		c.errorf(s.DeclRange.Ptr(), "Settings in a module", "A module takes its seed and parallelism from the spec that runs it; move this settings block to that spec (module.%s is used at %s).", m.Name, m.DeclRange)
	}
	decl := map[string]*lang.Variable{}
	var names []string
	for _, v := range m.Config.Variables {
		decl[v.Name] = v
		names = append(names, v.Name)
	}
	given := map[string]*hcl.Attribute{}
	for _, a := range m.Args {
		if decl[a.Name] == nil {
			detail := fmt.Sprintf("Module %q (source %q) declares no variable named %q.", m.Name, m.Source, a.Name)
			if s := suggest(a.Name, names); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			} else if len(names) > 0 {
				detail += fmt.Sprintf(" Its variables: %s.", strings.Join(names, ", "))
			}
			c.errorf(a.NameRange.Ptr(), "Unsupported module argument", "%s", detail)
			continue
		}
		given[a.Name] = a
	}
	for _, v := range m.Config.Variables {
		n := &tnode{addr: ms.prefix + "var." + v.Name, kind: tVar, name: v.Name, decl: v.DeclRange, mod: caller, call: ms, variable: v, inst: in, group: g}
		if a, ok := given[v.Name]; ok {
			n.exprs = []*texpr{{expr: a.Expr}}
			if val, ok := c.staticArg(caller, a.Expr, v, in); ok {
				ms.static[v.Name] = val
			}
		} else if v.Default != cty.NilVal {
			ms.static[v.Name] = v.Default
			n.val, n.typ = v.Default, v.Default.Type()
		} else {
			c.errorf(m.DeclRange.Ptr(), "Missing module argument", "Module %q needs a value for its variable %q, which has no default (declared at %s): add %s = … to the module block.", m.Name, v.Name, v.DeclRange, v.Name)
			continue
		}
		c.add(n)
	}
	c.declareScope(ms)
	return c.add(&tnode{addr: addr, kind: tModule, name: m.Name, decl: m.DeclRange, mod: caller, call: ms, inst: in, group: g})
}

// staticArg is the value of a module argument when it is known before the
// run: made of constants, the caller's static variables and the instance's
// count.index or each (in, nil when the block is not repeated). It reports
// nothing; a wrong type is reported when the argument is type-checked.
func (c *compiler) staticArg(caller *scope, expr hcl.Expression, v *lang.Variable, in *instance) (cty.Value, bool) {
	if v.Kind != "" {
		return cty.NilVal, false
	}
	vars := map[string]cty.Value{"var": cty.ObjectVal(caller.static)}
	in.scopeVars(vars)
	for _, t := range expr.Variables() {
		name, _, _ := traversalHead(t)
		switch t.RootName() {
		case "var":
			if x, ok := caller.static[name]; !ok || x == cty.NilVal {
				return cty.NilVal, false
			}
		case "count", "each":
			if _, ok := vars[t.RootName()]; !ok {
				return cty.NilVal, false // reported when the argument is resolved
			}
		default:
			return cty.NilVal, false
		}
	}
	val, d := expr.Value(&hcl.EvalContext{Variables: vars, Functions: c.opts.Functions})
	if d.HasErrors() || !val.IsWhollyKnown() {
		return cty.NilVal, false
	}
	if v.Defaults != nil {
		val = v.Defaults.Apply(val)
	}
	conv, err := convert.Convert(val, v.Type)
	if err != nil {
		return cty.NilVal, false
	}
	return conv, true
}

// typecheckVar checks a module argument against its variable's type. A
// plain value is converted to the type, as Terraform does; a dataset or a
// model keeps its own type (a dataset its full record type, which must have
// every field the variable declares), so the module's stages see exactly
// what the caller passes.
func (c *compiler) typecheckVar(n *tnode) {
	if len(n.exprs) == 0 {
		return // a default, set by declare
	}
	e := n.exprs[0]
	v := c.eval(n, e, nil)
	if v == cty.NilVal {
		return
	}
	decl := n.variable
	m := n.call.call
	bad := func(format string, args ...any) {
		c.errorf(e.expr.Range().Ptr(), "Invalid value for module argument", "%s\n\nvar.%s of module %q is declared at %s with type %s.",
			fmt.Sprintf(format, args...), decl.Name, m.Name, decl.DeclRange, varTypeString(decl))
	}
	t := v.Type()
	if t == cty.DynamicPseudoType {
		n.typ, n.val = t, v
		return
	}
	switch decl.Kind {
	case "model":
		if !IsModelType(t) {
			bad("%s needs a model (such as model.base or stage.tune.model), but this is %s.", decl.Name, TypeString(t))
			return
		}
		n.typ, n.val = t, v
		return
	case "dataset":
		if !IsDatasetType(t) {
			bad("%s needs a dataset (such as dataset.problems or stage.attempts), but this is %s.", decl.Name, TypeString(t))
			return
		}
		if msg := conforms(DatasetElem(t), decl.Type); msg != "" {
			bad("The records of this dataset do not fit: %s.", msg)
			return
		}
		n.typ, n.val = t, v
		return
	}
	if (IsDatasetType(t) || IsModelType(t)) && decl.Type != cty.DynamicPseudoType {
		bad("%s must be %s, but this is %s.", decl.Name, TypeString(decl.Type), TypeString(t))
		return
	}
	if decl.Defaults != nil {
		v = decl.Defaults.Apply(v)
	}
	conv, err := convert.Convert(v, decl.Type)
	if err != nil {
		bad("%s must be %s: %s.", decl.Name, TypeString(decl.Type), err)
		return
	}
	n.typ, n.val = conv.Type(), conv
}

// conforms says why records of type have do not fit a module variable's
// record type want ("" when they do): every field want declares must be in
// have, of a type that converts to it without loss.
func conforms(have, want cty.Type) string {
	if want == cty.DynamicPseudoType || !want.IsObjectType() {
		if want != cty.DynamicPseudoType && !have.Equals(want) && convert.GetConversion(have, want) == nil {
			return fmt.Sprintf("records are %s, not %s", TypeString(have), TypeString(want))
		}
		return ""
	}
	if !have.IsObjectType() {
		return fmt.Sprintf("records are %s, not objects", TypeString(have))
	}
	for _, name := range sortedKeys(want.AttributeTypes()) {
		wt := want.AttributeType(name)
		if !have.HasAttribute(name) {
			if want.AttributeOptional(name) {
				continue
			}
			return fmt.Sprintf("they have no field %q (they have %s)", name, fieldList(have))
		}
		if ht := have.AttributeType(name); !ht.Equals(wt) && convert.GetConversion(ht, wt) == nil {
			return fmt.Sprintf("field %q is %s, not %s", name, TypeString(have.AttributeType(name)), TypeString(wt))
		}
	}
	return ""
}

func fieldList(t cty.Type) string {
	names := sortedKeys(t.AttributeTypes())
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// varTypeString writes a variable's type as declared.
func varTypeString(v *lang.Variable) string {
	switch v.Kind {
	case "model":
		return "model"
	case "dataset":
		return "dataset(" + typeexpr.TypeString(v.Type) + ")"
	}
	return typeexpr.TypeString(v.Type)
}

// typecheckModule gives a module instance its value: the object of its
// outputs.
func (c *compiler) typecheckModule(n *tnode) {
	if n.call == nil {
		n.typ, n.val = cty.DynamicPseudoType, cty.DynamicVal
		return
	}
	outs := map[string]cty.Value{}
	for _, o := range n.call.cfg.Outputs {
		if on := c.nodes[n.call.prefix+"output."+o.Name]; on != nil && on.typ != cty.NilType {
			outs[o.Name] = cty.UnknownVal(on.typ)
		} else {
			outs[o.Name] = cty.DynamicVal
		}
	}
	n.val = cty.ObjectVal(outs)
	n.typ = n.val.Type()
}

// resolveModule resolves module.NAME (and checks module.NAME.x names one of
// its outputs) from node n.
func (c *compiler) resolveModule(n *tnode, t hcl.Traversal, r *ref) bool {
	s := n.mod
	r.target = s.prefix + "module." + r.name
	if n.loop != nil && c.nodes["loop."+n.loop.Name+"."+r.target] != nil {
		// A module of the same loop: this round's instance.
		if n.kind == tInit || n.kind == tRounds {
			c.errorf(r.rng.Ptr(), "Reference to a later round", "The %s of loop %q cannot use module.%s: the loop's modules run after it is set. Only `next` carries a round's results into the following round.", map[nodeKind]string{tInit: "round-0 state", tRounds: "round count"}[n.kind], n.loop.Name, r.name)
			return false
		}
		r.target = "loop." + n.loop.Name + "." + r.target
	} else if c.nodes[r.target] == nil && s.prefix == "" {
		for _, l := range c.cfg.Loops {
			if c.nodes["loop."+l.Name+".module."+r.name] != nil {
				c.errorf(r.rng.Ptr(), "Reference to a module inside a loop", "module.%s runs once per round of loop %q, so it has no single value here. Read one round with loop.%s.rounds[i].%s, or carry values out with the loop's state (loop.%s.state).", r.name, l.Name, l.Name, r.name, l.Name)
				return false
			}
		}
	}
	mn := c.nodes[r.target]
	if mn != nil && mn.kind == tGroup && mn.memberKind == tModule {
		// module.M[i].x: the instance's output x. checkInstanceRef (by the
		// caller) checks the index; a splat's attribute is not part of
		// the traversal.
		if len(mn.members) == 0 || len(t) < 4 {
			return true
		}
		if _, ok := t[2].(hcl.TraverseIndex); !ok {
			return true
		}
		return c.checkModuleOutput(mn.members[0], r, t[3], "module."+r.name+indexString(t[2].(hcl.TraverseIndex).Key))
	}
	if mn == nil || mn.kind != tModule {
		var names []string
		for _, m := range s.cfg.Modules {
			names = append(names, m.Name)
		}
		c.undeclared(r.rng, "module", "module", r.name, names)
		return false
	}
	if len(t) < 3 {
		return true
	}
	return c.checkModuleOutput(mn, r, t[2], "module."+r.name)
}

// checkModuleOutput checks that step, read from module instance mn (written
// as shown), names one of its outputs.
func (c *compiler) checkModuleOutput(mn *tnode, r *ref, step hcl.Traverser, shown string) bool {
	a, ok := step.(hcl.TraverseAttr)
	if mn.call == nil || !ok {
		return true
	}
	var outs []string
	for _, o := range mn.call.cfg.Outputs {
		if o.Name == a.Name {
			return true
		}
		outs = append(outs, o.Name)
	}
	detail := fmt.Sprintf("Module %q (source %q) has no output named %q.", r.name, mn.call.call.Source, a.Name)
	if sg := suggest(a.Name, outs); sg != "" {
		detail += fmt.Sprintf(" Did you mean %s.%s?", shown, sg)
	} else if len(outs) > 0 {
		detail += fmt.Sprintf(" Its outputs: %s.", strings.Join(outs, ", "))
	} else {
		detail += " It declares no output blocks."
	}
	c.errorf(hcl.RangeBetween(r.rng, a.SrcRange).Ptr(), "Reference to undeclared module output", "%s", detail)
	return false
}

// indexString writes an instance key as an index: [0], ["a"].
func indexString(k cty.Value) string {
	switch {
	case !k.IsKnown() || k.IsNull():
		return "[…]"
	case k.Type() == cty.String:
		return "[" + strconv.Quote(k.AsString()) + "]"
	case k.Type() == cty.Number:
		return "[" + k.AsBigFloat().Text('g', -1) + "]"
	}
	return "[…]"
}

// resolveModuleVar resolves var.NAME inside a module instance: the node of
// the module's variable.
func (c *compiler) resolveModuleVar(n *tnode, e *texpr, r *ref) bool {
	s := n.mod
	r.target = s.prefix + "var." + r.name
	if c.nodes[r.target] != nil {
		return true
	}
	var names []string
	for _, v := range s.cfg.Variables {
		if v.Name == r.name {
			e.broken = true // declared, but not given (already reported)
			return false
		}
		names = append(names, v.Name)
	}
	c.undeclared(r.rng, "input variable", "var", r.name, names)
	return false
}

// varNode is the plan node of a module's variable: the caller's argument,
// or the default written as a literal.
func (c *compiler) varNode(n *tnode, loop string, round int) *Node {
	pn := &Node{Address: n.addr, Kind: KindVariable, Name: n.name, Round: -1, Module: n.call.addr(), Instance: c.instance(n)}
	if len(n.exprs) > 0 {
		pn.Expr = c.expr(n.exprs[0], loop, round)
		return pn
	}
	src := string(hclwrite.TokensForValue(n.val).Bytes())
	pn.Expr = &Expr{Source: src, Normalized: Normalize(src), Range: n.variable.DeclRange}
	return pn
}

// moduleNode is the plan node of a module instance: an object expression
// of its outputs, `{ "score" = output["score"] }`.
func (c *compiler) moduleNode(n *tnode, loop string, round int) *Node {
	pn := &Node{Address: n.addr, Kind: KindModule, Name: n.name, Round: -1, Module: n.mod.addr(), Instance: c.instance(n)}
	var b strings.Builder
	refs := map[string]string{}
	b.WriteString("{")
	if n.call != nil {
		for i, o := range n.call.cfg.Outputs {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %q = output[%q]", o.Name, o.Name)
			refs["output."+o.Name] = c.inRound(n.call.prefix+"output."+o.Name, loop, round)
		}
	}
	b.WriteString(" }")
	pn.Expr = &Expr{Source: b.String(), Normalized: Normalize(b.String()), Range: n.decl, Refs: refs}
	return pn
}

// moduleFiles maps each file of every module instance to its name in the
// plan: its path relative to the spec's folder.
func (c *compiler) moduleFiles() map[string]string {
	out := map[string]string{}
	for _, n := range c.order {
		if n.kind != tModule || n.call == nil {
			continue
		}
		for _, f := range n.call.cfg.Paths {
			name := filepath.ToSlash(f)
			if rel, err := filepath.Rel(c.root.cfg.Dir, f); err == nil {
				name = filepath.ToSlash(rel)
			}
			out[f] = name
		}
	}
	return out
}

// dedupeModuleDiags drops repeated diagnostics: a mistake in a module's
// source is found once per instance of the module, with the same words at
// the same place.
func (c *compiler) dedupeModuleDiags() {
	seen := map[string]bool{}
	kept := c.diags[:0]
	for _, d := range c.diags {
		k := fmt.Sprint(d.Severity) + "\x00" + d.Summary + "\x00" + d.Detail
		if d.Subject != nil {
			k += "\x00" + d.Subject.String()
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		kept = append(kept, d)
	}
	c.diags = kept
}
