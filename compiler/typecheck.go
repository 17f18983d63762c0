package compiler

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/ouroloop/ouro/lang/pattern"
)

// passTypecheck evaluates every expression in topological order with
// unknown values of the right types (Terraform's validate trick): a
// misspelt field, a wrong-typed argument or a bad operand is an error with
// a source range before anything runs.
func (c *compiler) passTypecheck() {
	if c.hasCycle {
		return
	}
	for _, n := range c.topo {
		before := len(c.diags)
		c.typecheckNode(n)
		c.dedupeInstance(n, before)
		if n.typ == cty.NilType {
			n.typ = cty.DynamicPseudoType
		}
		if n.val == cty.NilVal {
			n.val = cty.UnknownVal(n.typ)
		}
	}
}

func (c *compiler) typecheckNode(n *tnode) {
	switch n.kind {
	case tLocal, tInit, tOutput:
		if len(n.exprs) == 0 {
			return
		}
		v := c.eval(n, n.exprs[0], nil)
		n.val, n.typ = v, v.Type()
		if n.kind != tLocal {
			n.val = cty.UnknownVal(n.typ)
		}
	case tRounds:
		v := c.eval(n, n.exprs[0], nil)
		rng := n.exprs[0].expr.Range().Ptr()
		if v == cty.NilVal {
			return
		}
		num, err := convert.Convert(v, cty.Number)
		switch {
		case err != nil:
			c.errorf(rng, "Invalid rounds", "The number of rounds must be a number, not %s.", TypeString(v.Type()))
		case !num.IsWhollyKnown() || num.IsNull():
			c.errorf(rng, "Rounds not known before the run", "The number of rounds of loop %q must be known before anything runs: use a literal, variables or locals, not stage results. To stop early, use `until`.", n.name)
		default:
			bf := num.AsBigFloat()
			i, acc := bf.Int64()
			if acc != big.Exact || i < 0 || i > 100000 {
				c.errorf(rng, "Invalid rounds", "The number of rounds must be a whole number between 0 and 100000; got %s.", bf.Text('g', -1))
				return
			}
			n.rounds = int(i)
		}
		n.val, n.typ = num, cty.Number
	case tState:
		init := c.nodes["loop."+n.name+".init"]
		n.typ = init.typ
		n.val = cty.UnknownVal(n.typ)
	case tNext:
		v := c.eval(n, n.exprs[0], nil)
		st := c.nodes["loop."+n.name+".state"]
		if v == cty.NilVal || st == nil {
			return
		}
		if _, err := convert.Convert(cty.UnknownVal(v.Type()), st.typ); err != nil {
			c.errorf(n.exprs[0].expr.Range().Ptr(), "Invalid next state", "`next` must produce a value of the loop's state type %s, but this is %s: %s.", TypeString(st.typ), TypeString(v.Type()), err)
		}
		n.typ, n.val = st.typ, cty.UnknownVal(st.typ)
	case tUntil:
		v := c.eval(n, n.exprs[0], nil)
		if v == cty.NilVal {
			return
		}
		if _, err := convert.Convert(v, cty.Bool); err != nil {
			c.errorf(n.exprs[0].expr.Range().Ptr(), "Invalid stop rule", "`until` must be a boolean, not %s.", TypeString(v.Type()))
		}
		n.typ, n.val = cty.Bool, cty.UnknownVal(cty.Bool)
	case tLoop:
		round := map[string]cty.Type{"round": cty.Number}
		stateType := cty.DynamicPseudoType
		if st := c.nodes["loop."+n.name+".state"]; st != nil {
			stateType = st.typ
			round["state"] = st.typ
		}
		for _, s := range n.loop.Stages {
			if sn := c.nodes["loop."+n.name+".stage."+s.Name]; sn != nil {
				round[s.Name] = sn.typ
			}
		}
		for _, m := range n.loop.Modules {
			if mn := c.nodes["loop."+n.name+".module."+m.Name]; mn != nil && mn.typ != cty.NilType {
				round[m.Name] = mn.typ
			}
		}
		n.typ = cty.Object(map[string]cty.Type{
			"rounds": cty.List(cty.Object(round)),
			"state":  stateType,
		})
		n.val = cty.UnknownVal(n.typ)
	case tGroup:
		if n.failed {
			n.typ, n.val = cty.DynamicPseudoType, cty.DynamicVal
			return
		}
		if n.forEach {
			m := make(map[string]cty.Value, len(n.members))
			for _, in := range n.members {
				m[in.inst.eachKey] = in.val
			}
			n.val = cty.ObjectVal(m)
		} else {
			vals := make([]cty.Value, len(n.members))
			for i, in := range n.members {
				vals[i] = in.val
			}
			n.val = cty.TupleVal(vals)
		}
		n.typ = n.val.Type()
	case tVar:
		c.typecheckVar(n)
	case tModule:
		c.typecheckModule(n)
	case tModel, tDataset, tStage:
		if n.sig == nil {
			return
		}
		n.typ = c.checkParams(n)
		n.val = cty.UnknownVal(n.typ)
	}
}

// context builds the evaluation context of one expression from the values
// of exactly the objects it references, so building it costs what the
// expression reads, not what the spec holds.
func (c *compiler) context(n *tnode, e *texpr, extra map[string]cty.Type) *hcl.EvalContext {
	if n.inst != nil {
		src := e.source()
		if src.ctx == nil {
			src.ctx = c.context(&tnode{}, e, nil)
		}
		ctx := src.ctx.NewChild()
		ctx.Variables = make(map[string]cty.Value, len(extra)+1)
		n.inst.scopeVars(ctx.Variables)
		for name, ty := range extra {
			ctx.Variables[name] = cty.UnknownVal(ty)
		}
		return ctx
	}
	vars := map[string]cty.Value{}
	objs := map[string]map[string]cty.Value{}
	for _, r := range e.refs {
		switch r.root {
		case "round":
			vars["round"] = cty.UnknownVal(cty.Number)
		case "count", "each":
			n.inst.scopeVars(vars) // nil for the shared context above
		case "state":
			vars["state"] = c.nodes[r.target].val
		case "var":
			if objs["var"] == nil {
				objs["var"] = map[string]cty.Value{}
			}
			if r.target != "" { // a module's variable
				objs["var"][r.name] = c.nodes[r.target].val
				break
			}
			objs["var"][r.name] = c.vars[r.name]
		default:
			if objs[r.root] == nil {
				objs[r.root] = map[string]cty.Value{}
			}
			objs[r.root][r.name] = c.nodes[r.target].val
		}
	}
	for root, m := range objs {
		vars[root] = cty.ObjectVal(m)
	}
	for name, ty := range extra {
		vars[name] = cty.UnknownVal(ty)
	}
	return &hcl.EvalContext{Variables: vars, Functions: c.opts.Functions}
}

// eval type-checks one expression; it returns cty.NilVal after an error.
func (c *compiler) eval(n *tnode, e *texpr, extra map[string]cty.Type) cty.Value {
	if e.broken {
		return cty.NilVal
	}
	for _, t := range e.deferred {
		root := t.RootName()
		if _, ok := extra[root]; ok {
			continue
		}
		var names []string
		for k := range extra {
			names = append(names, k)
		}
		detail := fmt.Sprintf("There is no name %q in this scope.", root)
		if s := suggest(root, append(names, rootNames...)); s != "" {
			detail += fmt.Sprintf(" Did you mean %q?", s)
		}
		c.errorf(t.SourceRange().Ptr(), "Unknown name", "%s", detail)
		return cty.NilVal
	}
	if src := e.source(); !src.logicChecked {
		src.logicChecked = true
		checkLogic(e.expr)
	}
	v, d := e.expr.Value(c.context(n, e, extra))
	c.diags = append(c.diags, d...)
	if d.HasErrors() {
		return cty.NilVal
	}
	e.typ = v.Type()
	return v
}

// checkParams type-checks an operator's arguments against its signature
// and returns the type of the stage's value.
func (c *compiler) checkParams(n *tnode) cty.Type {
	sig := n.sig
	ck := &Check{
		Stage:     n.addr,
		Types:     map[string]cty.Type{},
		Values:    map[string]cty.Value{},
		ItemTypes: map[string]cty.Type{},
		Patterns:  map[string]*pattern.Pattern{},
		Schemas:   map[string]cty.Type{},
		Ranges:    map[string]hcl.Range{},
		Exprs:     map[string]hcl.Expression{},
		DeclRange: n.decl,
	}
	n.check = ck
	given := map[string]*texpr{}
	for _, e := range n.exprs {
		given[e.name] = e
		ck.Ranges[e.name] = e.expr.Range()
		ck.Exprs[e.name] = e.expr
	}
	ok := true
	for _, p := range sig.Params {
		if p.Mode == ModePerItem {
			continue
		}
		e, has := given[p.Name]
		if !has {
			if p.Default != cty.NilVal && p.Mode == ModeValue {
				ck.Types[p.Name] = p.Default.Type()
				ck.Values[p.Name] = p.Default
			}
			continue
		}
		switch p.Mode {
		case ModeValue:
			v := c.eval(n, e, nil)
			if v == cty.NilVal {
				ok = false
				continue
			}
			conv, good := c.convertParam(n, p, e, v)
			if !good {
				ok = false
				continue
			}
			ck.Types[p.Name], ck.Values[p.Name] = conv.Type(), conv
		case ModePattern:
			pat, d := pattern.ParseExpr(e.expr)
			c.diags = append(c.diags, d...)
			if d.HasErrors() {
				ok = false
				continue
			}
			ck.Patterns[p.Name] = pat
			e.typ = pat.ObjectType()
		case ModeType:
			ty, _, d := typeexpr.TypeConstraintWithDefaults(e.expr)
			c.diags = append(c.diags, d...)
			if d.HasErrors() {
				ok = false
				continue
			}
			ck.Schemas[p.Name] = ty
			e.typ = ty
		}
	}
	if !ok {
		return cty.DynamicPseudoType
	}
	for _, p := range sig.Params {
		if p.Mode != ModePerItem {
			continue
		}
		var extra map[string]cty.Type
		if p.Vars != nil {
			extra = p.Vars(ck)
		} else {
			extra = map[string]cty.Type{"item": ck.Elem(p.ItemOf)}
		}
		if c.scopes == nil {
			c.scopes = map[[2]string]map[string]cty.Type{}
		}
		c.scopes[[2]string{n.addr, p.Name}] = extra
		e, has := given[p.Name]
		if !has {
			continue
		}
		v := c.eval(n, e, extra)
		if v == cty.NilVal {
			ok = false
			continue
		}
		conv, good := c.convertParam(n, p, e, v)
		if !good {
			ok = false
			continue
		}
		ck.ItemTypes[p.Name] = conv.Type()
		e.typ = conv.Type()
	}
	if !ok {
		return cty.DynamicPseudoType
	}
	for _, p := range sig.Params {
		if _, has := given[p.Name]; p.Required && !has {
			// Already reported by decoding; Result functions may rely on
			// required parameters being present.
			return cty.DynamicPseudoType
		}
	}
	if sig.Result == nil {
		return DatasetType(ck.Elem("input"))
	}
	t, d := sig.Result(ck)
	c.diags = append(c.diags, d...)
	if t == cty.NilType {
		return cty.DynamicPseudoType
	}
	return t
}

// convertParam checks a value against a parameter's type; models and
// datasets are checked by kind, everything else by cty conversion.
func (c *compiler) convertParam(n *tnode, p *Param, e *texpr, v cty.Value) (cty.Value, bool) {
	rng := e.expr.Range().Ptr()
	want := p.Type
	if want == cty.NilType {
		want = cty.DynamicPseudoType
	}
	if v.Type() == cty.DynamicPseudoType {
		// Unknown of unknown type: nothing to check (an upstream error was
		// already reported, or the value is dynamic by nature).
		return v, true
	}
	kind := "argument"
	if p.Mode == ModePerItem {
		kind = "per-item argument"
	}
	switch {
	case IsDatasetType(want):
		if !IsDatasetType(v.Type()) {
			c.errorf(rng, "Invalid value for "+kind+" "+fmt.Sprintf("%q", p.Name), "%s of %s needs a dataset (such as dataset.problems or stage.attempts), but this is %s.", p.Name, n.addr, TypeString(v.Type()))
			return cty.NilVal, false
		}
		return v, true
	case IsModelType(want):
		if !IsModelType(v.Type()) {
			c.errorf(rng, "Invalid value for "+kind+" "+fmt.Sprintf("%q", p.Name), "%s of %s needs a model (such as model.base, state.policy or stage.tune.model), but this is %s.", p.Name, n.addr, TypeString(v.Type()))
			return cty.NilVal, false
		}
		return v, true
	}
	if IsDatasetType(v.Type()) && want != cty.DynamicPseudoType {
		c.errorf(rng, "Invalid value for "+kind+" "+fmt.Sprintf("%q", p.Name), "%s of %s must be %s, but this is a dataset.", p.Name, n.addr, TypeString(want))
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() && convert.GetConversion(v.Type(), want) == nil && convert.GetConversionUnsafe(v.Type(), want) != nil {
		// An unknown value only converts unsafely (string to bool or
		// number): whether it will succeed depends on data not seen yet,
		// so `where = item.question` would fail on every record at run
		// time. Demand the type itself.
		c.errorf(rng, "Invalid value for "+kind+" "+fmt.Sprintf("%q", p.Name), "%s of %s must be %s, but this is %s; it is only known at run time, so it cannot be checked to convert. Convert explicitly (e.g. tonumber(…), … == \"true\").", p.Name, n.addr, TypeString(want), TypeString(v.Type()))
		return cty.NilVal, false
	}
	conv, err := convert.Convert(v, want)
	if err != nil {
		c.errorf(rng, "Invalid value for "+kind+" "+fmt.Sprintf("%q", p.Name), "%s of %s must be %s: %s.", p.Name, n.addr, TypeString(want), err)
		return cty.NilVal, false
	}
	if len(p.OneOf) > 0 && conv.Type() == cty.String && conv.IsKnown() && !conv.IsNull() {
		s := conv.AsString()
		found := false
		for _, o := range p.OneOf {
			if o == s {
				found = true
			}
		}
		if !found {
			detail := fmt.Sprintf("%s must be one of %s; got %q.", p.Name, quoteList(p.OneOf), s)
			if sg := suggest(s, p.OneOf); sg != "" {
				detail += fmt.Sprintf(" Did you mean %q?", sg)
			}
			c.errorf(rng, "Invalid value for "+kind+" "+fmt.Sprintf("%q", p.Name), "%s", detail)
			return cty.NilVal, false
		}
	}
	return conv, true
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}
