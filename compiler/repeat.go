package compiler

import (
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/ouroloop/ouro/lang"
)

// Repeated blocks: `count` and `for_each` on models, datasets and stages.
//
// declare evaluates a block's `count` or `for_each` once, from variables,
// locals and constants (staticValue), and expands the block into one
// template node per instance, addressed like Terraform's: stage.s[0] for
// count, stage.s["a"] for for_each, loop.L.stage.s[1] inside a loop (and
// loop.L[r].stage.s[1] once unrolled). Each instance is an ordinary node:
// its arguments are resolved and type-checked with count.index (or
// each.key and each.value) known, and its address, hence its seed and cache
// key, carries its key. One more node, the group (tGroup, address
// stage.s), depends on every instance and stands for all of them: a
// reference to stage.s targets it. For count its value is the tuple of the
// instances' values, for for_each the object of them keyed by each.key.
//
// A counted block is read through an index (stage.s[0],
// stage.s[count.index]), a splat (stage.s[*].model) or a `for`; a bare
// stage.s is an error, so `stage.s.model` gets a hint rather than "this
// value has no attributes". A for_each block is read by key or as the
// object it is (values(stage.s), keys(stage.s)). A literal index is checked
// against the instances at resolve time.
//
// The instances of one block share their source, so a mistake in it would
// be reported once per instance: dedupeInstance keeps the first of each.

// instance is one instance of a repeated block.
type instance struct {
	key     string    // the address suffix: [0] or ["a"]
	index   int       // count.index; the position in key order for for_each
	forEach bool      // keyed by for_each
	eachKey string    // each.key
	eachVal cty.Value // each.value

	vars cty.Value // count or each as an object, made once (scopeVars)
}

// maxInstances bounds one block's count: a plan holds at most MaxPlanNodes
// nodes, so a larger count is a typo; it is refused before anything is
// allocated for it.
const maxInstances = MaxPlanNodes

// instances evaluates a block's count or for_each. ok is false after an
// error (already reported); one is true when the block is not repeated.
func (c *compiler) instances(addr string, rep lang.Repeat) (insts []*instance, forEach, ok bool) {
	switch {
	case rep.Count != nil && rep.ForEach != nil:
		c.errorf(rep.ForEach.Range().Ptr(), "Invalid combination of count and for_each", "%s has both `count` and `for_each`; a block is repeated by one of them.", addr)
		return nil, false, false
	case rep.Count != nil:
		v, good := c.staticValue(rep.Count, "count")
		if !good {
			return nil, false, false
		}
		rng := rep.Count.Range().Ptr()
		num, err := convert.Convert(v, cty.Number)
		if err != nil || num.IsNull() {
			c.errorf(rng, "Invalid count", "`count` must be a whole number, not %s.", TypeString(v.Type()))
			return nil, false, false
		}
		bf := num.AsBigFloat()
		n, acc := bf.Int64()
		if acc != big.Exact || n < 0 {
			c.errorf(rng, "Invalid count", "`count` must be a whole number ≥ 0; got %s.", bf.Text('g', -1))
			return nil, false, false
		}
		if n > maxInstances {
			c.errorf(rng, "Invalid count", "`count` is %d; a plan holds at most %d nodes.", n, MaxPlanNodes)
			return nil, false, false
		}
		insts = make([]*instance, n)
		for i := range insts {
			insts[i] = &instance{key: "[" + strconv.Itoa(i) + "]", index: i}
		}
		return insts, false, true
	case rep.ForEach != nil:
		v, good := c.staticValue(rep.ForEach, "for_each")
		if !good {
			return nil, true, false
		}
		insts, good = c.forEachInstances(rep.ForEach.Range().Ptr(), v)
		return insts, true, good
	}
	return nil, false, true
}

func (c *compiler) forEachInstances(rng *hcl.Range, v cty.Value) ([]*instance, bool) {
	ty := v.Type()
	bad := func(detail string, args ...any) ([]*instance, bool) {
		c.errorf(rng, "Invalid for_each", detail, args...)
		return nil, false
	}
	if v.IsNull() {
		return bad("`for_each` must be a map or a set of strings, not null.")
	}
	if v.LengthInt() > maxInstances {
		return bad("`for_each` has %d elements; a plan holds at most %d nodes.", v.LengthInt(), MaxPlanNodes)
	}
	var out []*instance
	switch {
	case ty.IsMapType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); { // sorted by key
			k, e := it.Element()
			out = append(out, &instance{eachKey: k.AsString(), eachVal: e})
		}
	case ty.IsSetType() || ty.IsListType() || ty.IsTupleType():
		seen := map[string]bool{}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			s, err := convert.Convert(e, cty.String)
			if err != nil || s.IsNull() || !s.IsKnown() || e.Type() != cty.String {
				return bad("`for_each` over a set or list needs strings (the instances' keys); this element is %s.", TypeString(e.Type()))
			}
			k := s.AsString()
			if seen[k] {
				return bad("`for_each` lists %q twice; the instances' keys must be unique (toset(…) drops duplicates).", k)
			}
			seen[k] = true
			out = append(out, &instance{eachKey: k, eachVal: s})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].eachKey < out[j].eachKey })
	default:
		return bad("`for_each` must be a map, an object or a set of strings, not %s.", TypeString(ty))
	}
	for i, in := range out {
		in.index, in.forEach = i, true
		in.key = "[" + strconv.Quote(in.eachKey) + "]"
		if !in.eachVal.IsWhollyKnown() {
			return bad("`for_each` must be known before anything runs; the value for %q is not.", in.eachKey)
		}
	}
	return out, true
}

// staticValue evaluates a count or for_each expression before anything is
// declared: it may read variables, locals that are themselves static, and
// constants. Anything else (a stage's result, count.index) is not known
// before the run, which decides the plan's shape.
func (c *compiler) staticValue(expr hcl.Expression, what string) (cty.Value, bool) {
	ctx, ok := c.staticContext(expr, what, nil, "", map[string]bool{})
	if !ok {
		return cty.NilVal, false
	}
	v, d := expr.Value(ctx)
	if d.HasErrors() {
		c.diags = append(c.diags, d...)
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		c.errorf(expr.Range().Ptr(), "Invalid "+what, "`%s` must be known before anything runs (the plan's shape depends on it): use constants, variables or locals of those.", what)
		return cty.NilVal, false
	}
	return v, true
}

// outer is the count or for_each expression when expr is a local's, which
// chain names (local.n, or local.a via local.b).
func (c *compiler) staticContext(expr hcl.Expression, what string, outer hcl.Expression, chain string, visiting map[string]bool) (*hcl.EvalContext, bool) {
	locals := map[string]cty.Value{}
	for _, t := range expr.Variables() {
		root := t.RootName()
		if root == "var" {
			continue // an undeclared one is reported by evaluation
		}
		name, rng, _ := traversalHead(t)
		if root == "local" && name != "" {
			if _, done := locals[name]; done {
				continue
			}
			top, ch := outer, "local."+name
			if top == nil {
				top = expr
			} else {
				ch = chain + " via local." + name
			}
			v, ok := c.staticLocal(name, what, rng, top, ch, visiting)
			if !ok {
				return nil, false
			}
			locals[name] = v
			continue
		}
		ref := root
		if name != "" {
			ref += "." + name
		}
		subject, via := t.SourceRange(), ""
		if outer != nil {
			// Inside a local: point at the count, and say which local
			// reads what.
			subject = outer.Range()
			via = fmt.Sprintf(" (which %s reads at %s)", chain, t.SourceRange())
		}
		c.errorf(subject.Ptr(), "Invalid "+what, "`%s` must be known before anything runs (the plan's shape depends on it), so it may read only constants, variables and locals of those, not %s%s.", what, ref, via)
		return nil, false
	}
	ctx := c.varContext()
	ctx.Variables["local"] = cty.ObjectVal(locals)
	return ctx, true
}

func (c *compiler) staticLocal(name, what string, rng hcl.Range, outer hcl.Expression, chain string, visiting map[string]bool) (cty.Value, bool) {
	if c.cur.staticLocals == nil {
		c.cur.staticLocals = map[string]cty.Value{}
	}
	if v, ok := c.cur.staticLocals[name]; ok {
		return v, v != cty.NilVal
	}
	var l *lang.Local
	for _, x := range c.cur.cfg.Locals {
		if x.Name == name {
			l = x
		}
	}
	if l == nil {
		c.undeclared(rng, "local value", "local", name, c.localNames())
		return cty.NilVal, false
	}
	if visiting[name] {
		return cty.NilVal, false // a cycle, reported by passCycles
	}
	visiting[name] = true
	defer delete(visiting, name)
	ctx, ok := c.staticContext(l.Expr, what, outer, chain, visiting)
	if !ok {
		c.cur.staticLocals[name] = cty.NilVal
		return cty.NilVal, false
	}
	v, d := l.Expr.Value(ctx)
	if d.HasErrors() {
		// Reported when the local itself is type-checked.
		c.cur.staticLocals[name] = cty.NilVal
		return cty.NilVal, false
	}
	c.cur.staticLocals[name] = v
	return v, true
}

func (c *compiler) localNames() []string {
	out := make([]string, 0, len(c.cur.cfg.Locals))
	for _, l := range c.cur.cfg.Locals {
		out = append(out, l.Name)
	}
	return out
}

// declareRepeated declares a model, dataset or stage: one node at base when
// it is not repeated, else a node per instance and the group. mk makes the
// first node, whose body it decodes; the other instances share its decoded
// expressions (cloned, as each resolves and type-checks on its own).
func (c *compiler) declareRepeated(base string, rep lang.Repeat, mk func(addr string) *tnode) {
	if !rep.Repeated() {
		mk(base)
		return
	}
	insts, forEach, ok := c.instances(base, rep)
	var first *tnode
	var members []*tnode
	for _, in := range insts {
		var n *tnode
		if first == nil {
			n = mk(base + in.key)
			first = n
		} else {
			n = c.add(first.clone(base + in.key))
		}
		n.inst = in
		members = append(members, n)
	}
	if first == nil {
		// No instance (count = 0, an empty for_each or an error): declare
		// the body anyway, off the graph, so its mistakes are reported.
		saved := len(c.order)
		probe := mk(base + "[]")
		delete(c.nodes, probe.addr)
		c.order = c.order[:saved]
		first = probe
	}
	g := &tnode{addr: base, kind: tGroup, name: first.name, loop: first.loop, unroll: first.unroll, decl: first.decl, op: first.op,
		members: members, forEach: forEach, failed: !ok, memberKind: first.kind}
	for _, m := range members {
		m.group = g
	}
	c.add(g)
}

// clone is a fresh instance node of the same block: same declaration and
// decoded expressions, nothing resolved or checked yet.
func (n *tnode) clone(addr string) *tnode {
	m := &tnode{addr: addr, kind: n.kind, name: n.name, loop: n.loop, unroll: n.unroll, decl: n.decl, sig: n.sig, op: n.op, stage: n.stage, queue: n.queue, mod: n.mod}
	m.exprs = make([]*texpr, len(n.exprs))
	for i, e := range n.exprs {
		m.exprs[i] = &texpr{name: e.name, param: e.param, expr: e.expr, src: e.source()}
	}
	return m
}

// dedupeInstance drops the diagnostics that instance n added since before
// when an earlier instance of its block reported the same mistake at the
// same place.
func (c *compiler) dedupeInstance(n *tnode, before int) {
	if n.group == nil || len(c.diags) == before {
		return
	}
	if c.instDiags == nil {
		c.instDiags = map[string]bool{}
	}
	kept := c.diags[:before]
	for _, d := range c.diags[before:] {
		k := n.group.addr + "\x00" + d.Summary
		if d.Subject != nil {
			k += "\x00" + d.Subject.String()
		}
		if c.instDiags[k] {
			continue
		}
		c.instDiags[k] = true
		kept = append(kept, d)
	}
	c.diags = kept
}

// checkInstanceRef checks a reference t to the group g of a repeated
// block: an index of the right kind and in range, and no bare reference to
// a counted block outside a splat, an index or a `for`.
func (c *compiler) checkInstanceRef(g *tnode, e *texpr, t hcl.Traversal, rng hcl.Range) bool {
	what := strings.TrimPrefix(g.addr, "loop."+loopName(g)+".")
	if len(t) > 2 {
		if ix, ok := t[2].(hcl.TraverseIndex); ok {
			if g.failed || !ix.Key.IsKnown() || ix.Key.IsNull() {
				return true
			}
			full := hcl.RangeBetween(rng, ix.SrcRange).Ptr()
			if !g.forEach {
				if ix.Key.Type() != cty.Number {
					c.errorf(full, "Invalid instance key", "%s is repeated with `count`, so its instances are numbered: %s[0] to %s[%d]. A string key is for a block with `for_each`.", what, what, what, len(g.members)-1)
					return false
				}
				bf := ix.Key.AsBigFloat()
				i, acc := bf.Int64()
				if acc != big.Exact || i < 0 || i >= int64(len(g.members)) {
					c.errorf(full, "Instance index out of range", "%s has count = %d, so there is no %s[%s]%s.", what, len(g.members), what, bf.Text('g', -1), instanceRange(what, len(g.members)))
					return false
				}
				return true
			}
			if ix.Key.Type() != cty.String {
				c.errorf(full, "Invalid instance key", "%s is repeated with `for_each`, so its instances are keyed by strings (%s). A number is for a block with `count`.", what, instanceKeys(what, g.members))
				return false
			}
			k := ix.Key.AsString()
			var keys []string
			for _, m := range g.members {
				if m.inst.eachKey == k {
					return true
				}
				keys = append(keys, m.inst.eachKey)
			}
			detail := fmt.Sprintf("%s has no instance %q; its instances are %s.", what, k, instanceKeys(what, g.members))
			if s := suggest(k, keys); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			}
			c.errorf(full, "No such instance", "%s", detail)
			return false
		}
	}
	src := e.source()
	if src.indexed == nil {
		src.indexed, src.splatted = indexedRefs(e.expr)
	}
	if g.forEach {
		if src.splatted[t.SourceRange()] {
			c.errorf(rng.Ptr(), "Splat of a for_each block", "%s is repeated with `for_each`: it is an object of its instances keyed by each.key, and a splat would wrap that object in a one-element tuple. Use values(%s) for the instances in key order, or %s[\"key\"] for one.", what, what, what)
			return false
		}
		return true
	}
	if len(t) == 2 && src.indexed[t.SourceRange()] {
		return true
	}
	c.errorf(rng.Ptr(), "Reference to a counted block without an index", "%s is repeated with `count`, so it stands for %d instances. Use an index for one (%s[0], %s[count.index]) or a splat for a tuple of all (%s[*]%s).", what, len(g.members), what, what, what, splatTail(t))
	return false
}

func loopName(n *tnode) string {
	if n.loop == nil {
		return ""
	}
	return n.loop.Name
}

func instanceRange(what string, n int) string {
	if n == 0 {
		return ": it has no instances"
	}
	return fmt.Sprintf(": its instances are %s[0] to %s[%d]", what, what, n-1)
}

func instanceKeys(what string, members []*tnode) string {
	if len(members) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, m := range members {
		if i == 3 && len(members) > 4 {
			fmt.Fprintf(&b, ", … (%d in all)", len(members))
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(what + m.inst.key)
	}
	return b.String()
}

// splatTail suggests the splat form of a bare reference: stage.s.model
// becomes stage.s[*].model.
func splatTail(t hcl.Traversal) string {
	var b strings.Builder
	for _, s := range t[2:] {
		if a, ok := s.(hcl.TraverseAttr); ok {
			b.WriteString("." + a.Name)
		} else {
			break
		}
	}
	return b.String()
}

// indexedRefs finds the plain references (root.name) of an expression that
// are read through an index (x[i]), a splat (x[*], x.*) or as the
// collection of a `for`, by the ranges of their traversals; splatted holds
// the splat sources alone.
func indexedRefs(expr hcl.Expression) (indexed, splatted map[hcl.Range]bool) {
	indexed, splatted = map[hcl.Range]bool{}, map[hcl.Range]bool{}
	x, ok := expr.(hclsyntax.Expression)
	if !ok {
		return indexed, splatted
	}
	mark := func(e hclsyntax.Expression, splat bool) {
		for {
			p, ok := e.(*hclsyntax.ParenthesesExpr)
			if !ok {
				break
			}
			e = p.Expression
		}
		if st, ok := e.(*hclsyntax.ScopeTraversalExpr); ok {
			indexed[st.Traversal.SourceRange()] = true
			if splat {
				splatted[st.Traversal.SourceRange()] = true
			}
		}
	}
	hclsyntax.VisitAll(x, func(n hclsyntax.Node) hcl.Diagnostics {
		switch e := n.(type) {
		case *hclsyntax.SplatExpr:
			mark(e.Source, true)
		case *hclsyntax.IndexExpr:
			mark(e.Collection, false)
		case *hclsyntax.ForExpr:
			mark(e.CollExpr, false)
		}
		return nil
	})
	return indexed, splatted
}

// planInstance is an instance's plan form.
func (in *instance) plan() (*Instance, error) {
	if in == nil {
		return nil, nil
	}
	pi := &Instance{Key: in.key, Index: in.index}
	if in.forEach {
		tj, err := ctyjson.MarshalType(in.eachVal.Type())
		if err != nil {
			return nil, err
		}
		vj, err := ctyjson.Marshal(in.eachVal, in.eachVal.Type())
		if err != nil {
			return nil, err
		}
		pi.EachKey = in.eachKey
		pi.EachValue = &TypedValue{Type: tj, Value: vj}
	}
	return pi, nil
}

// scopeVars are count and each as an instance's expressions see them.
func (in *instance) scopeVars(vars map[string]cty.Value) {
	if in == nil {
		return
	}
	if in.vars == cty.NilVal {
		if in.forEach {
			in.vars = cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(in.eachKey), "value": in.eachVal})
		} else {
			in.vars = cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(int64(in.index))})
		}
	}
	if in.forEach {
		vars["each"] = in.vars
	} else {
		vars["count"] = in.vars
	}
}
