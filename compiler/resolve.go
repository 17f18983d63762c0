package compiler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
)

// The resolve pass turns every reference of every expression into a ref
// and a dependency edge of its node, after declare has created every node
// and before cycles orders them.
//
// A reference is an hcl.Traversal; its root name decides where it points:
//
//	var.x                      an input variable (a value, no node)
//	local.x, model.x,
//	dataset.x, stage.x         the declared object of that address
//	loop.L                     a loop's result, from outside the loop only
//	state, round               the current round, inside a loop's stages,
//	                           next and until only
//
// Inside loop L, stage.x names L's own stage x of this round when there is
// one, and a top-level stage otherwise; a stage of another loop has no
// single value and is an error. Only `state` crosses rounds, so neither the
// round-0 state nor rounds may read the loop's stages. In a per-item
// argument, names that are no root (item, scores, …) are deferred: the type
// checker binds them from the parameter's ItemOf or Vars. Elsewhere they are
// unknown names, with "Did you mean" when one is close.
//
// Every error marks its expression broken, so typecheck skips it instead of
// reporting the same mistake again. Type and pattern arguments are static
// syntax and are not resolved. Some edges come from structure, not from an
// expression: a loop's state depends on its round-0 state, and a loop's
// result on all its parts.
//
// passCycles, at the end of this file, then searches the resolved graph.

// rootNames are the names an expression may start with, besides per-item
// names.
var rootNames = []string{"var", "local", "model", "dataset", "stage", "loop", "state", "round", "count", "each", "module"}

func (c *compiler) passResolve() {
	for _, n := range c.order {
		before := len(c.diags)
		for _, e := range n.exprs {
			if e.param != nil && (e.param.Mode == ModeType || e.param.Mode == ModePattern) {
				continue // static syntax, not references
			}
			for _, t := range e.expr.Variables() {
				before := len(c.diags)
				c.resolve(n, e, t)
				if len(c.diags) > before {
					e.broken = true
				}
			}
		}
		c.dedupeInstance(n, before)
		// Structural dependencies that no expression spells out.
		switch n.kind {
		case tGroup:
			for _, m := range n.members {
				c.depend(n, m, nil)
			}
		case tModule:
			if n.call != nil {
				for _, o := range n.call.cfg.Outputs {
					c.depend(n, c.nodes[n.call.prefix+"output."+o.Name], nil)
				}
			}
		case tState:
			c.depend(n, c.nodes["loop."+n.name+".init"], nil)
		case tLoop:
			p := "loop." + n.name
			for _, part := range []string{".rounds", ".state", ".next", ".until"} {
				if d := c.nodes[p+part]; d != nil {
					c.depend(n, d, nil)
				}
			}
			for _, s := range n.loop.Stages {
				if d := c.nodes[p+".stage."+s.Name]; d != nil {
					c.depend(n, d, nil)
				}
			}
			for _, m := range n.loop.Modules {
				if d := c.nodes[p+".module."+m.Name]; d != nil {
					c.depend(n, d, nil)
				}
			}
		}
	}
}

func (c *compiler) depend(n, on *tnode, r *ref) {
	if on == nil || on == n {
		return
	}
	if n.depOf == nil {
		n.depOf = map[*tnode]*ref{}
	}
	if _, ok := n.depOf[on]; ok {
		return
	}
	n.depOf[on] = r
	n.deps = append(n.deps, on)
}

func traversalHead(t hcl.Traversal) (name string, rng hcl.Range, ok bool) {
	if len(t) < 2 {
		return "", t.SourceRange(), false
	}
	switch s := t[1].(type) {
	case hcl.TraverseAttr:
		return s.Name, hcl.RangeBetween(t[0].SourceRange(), s.SrcRange), true
	}
	return "", t.SourceRange(), false
}

func (c *compiler) resolve(n *tnode, e *texpr, t hcl.Traversal) {
	root := t.RootName()
	perItem := e.param != nil && e.param.Mode == ModePerItem
	inRound := n.loop != nil && (n.kind == tStage || n.kind == tNext || n.kind == tUntil || n.kind == tVar)
	add := func(r *ref) {
		e.refs = append(e.refs, r)
		if r.target != "" {
			c.depend(n, c.nodes[r.target], r)
		}
	}
	switch root {
	case "count", "each":
		c.resolveInstanceName(n, e, t, add)
		return
	case "round":
		if !inRound {
			c.errorf(t.SourceRange().Ptr(), "Invalid reference to round", "`round` (the index of the current round) is only available inside a loop's stages, `next` and `until`.")
			return
		}
		add(&ref{key: "round", root: root, rng: t.SourceRange()})
		return
	case "state":
		if !inRound {
			detail := "`state` is only available inside a loop's stages, `next` and `until`."
			if n.kind == tInit {
				detail = "The round-0 `state` of a loop cannot refer to itself."
			}
			c.errorf(t.SourceRange().Ptr(), "Invalid reference to state", "%s", detail)
			return
		}
		if c.nodes["loop."+n.loop.Name+".state"] == nil {
			c.errorf(t.SourceRange().Ptr(), "Loop has no state", "Loop %q declares no `state`, so `state` is not available. Declare its round-0 value with `state = { … }`.", n.loop.Name)
			return
		}
		add(&ref{key: "state", root: root, target: "loop." + n.loop.Name + ".state", rng: t.SourceRange()})
		return
	}
	isRoot := false
	for _, r := range rootNames {
		if r == root {
			isRoot = true
		}
	}
	if !isRoot {
		if perItem {
			e.deferred = append(e.deferred, t)
			return
		}
		detail := fmt.Sprintf("There is no name %q in this scope.", root)
		if root == "item" {
			detail = "`item` (the current record) is only available in per-item arguments, such as a filter's `where` or a generate's `prompt`."
		} else if s := suggest(root, rootNames); s != "" {
			detail += fmt.Sprintf(" Did you mean %q?", s)
		}
		c.errorf(t.SourceRange().Ptr(), "Unknown name", "%s", detail)
		return
	}
	name, rng, ok := traversalHead(t)
	if !ok {
		c.errorf(t.SourceRange().Ptr(), "Invalid reference", "A reference to %s must be followed by a name, like %s.example.", root, root)
		return
	}
	r := &ref{key: root + "." + name, root: root, name: name, rng: rng}
	s := n.mod
	switch root {
	case "module":
		if !c.resolveModule(n, t, r) {
			return
		}
	case "var":
		if s.prefix != "" {
			if !c.resolveModuleVar(n, e, r) {
				return
			}
			break
		}
		if _, ok := c.vars[name]; !ok {
			for _, v := range c.cfg.Variables {
				if v.Name == name {
					// Declared, but its value was invalid (already reported).
					e.broken = true
					return
				}
			}
			c.undeclared(rng, "input variable", "var", name, c.varNames())
			return
		}
	case "local", "model", "dataset":
		r.target = s.prefix + root + "." + name
		if c.nodes[r.target] == nil {
			c.undeclared(rng, map[string]string{"local": "local value", "model": "model", "dataset": "dataset"}[root], root, name, c.prefixed(s.prefix+root+"."))
			return
		}
	case "loop":
		r.target = s.prefix + "loop." + name
		tn := c.nodes[r.target]
		if tn == nil || tn.kind != tLoop {
			c.undeclared(rng, "loop", "loop", name, c.loopNames(s))
			return
		}
		if n.loop != nil && n.loop.Name == name {
			c.errorf(rng.Ptr(), "Reference to a later round", "This expression belongs to loop %q, so it cannot read loop.%s: the loop's rounds are not finished while it runs. Only `state` crosses rounds; carry values forward with `next`.", name, name)
			return
		}
	case "stage":
		local := ""
		if n.loop != nil {
			local = "loop." + n.loop.Name + ".stage." + name
		}
		switch {
		case local != "" && c.nodes[local] != nil:
			if n.kind == tInit || n.kind == tRounds {
				c.errorf(rng.Ptr(), "Reference to a later round", "The %s of loop %q cannot use stage.%s: the loop's stages run after it is set. Only `next` carries a stage's result into the following round.", map[nodeKind]string{tInit: "round-0 state", tRounds: "round count"}[n.kind], n.loop.Name, name)
				return
			}
			r.target = local
		case c.nodes[s.prefix+"stage."+name] != nil:
			r.target = s.prefix + "stage." + name
		default:
			for _, l := range c.cfg.Loops {
				if s.prefix != "" {
					break
				}
				if c.nodes["loop."+l.Name+".stage."+name] != nil {
					c.errorf(rng.Ptr(), "Reference to a stage inside a loop", "stage.%s runs once per round of loop %q, so it has no single value here. Read one round with loop.%s.rounds[i].%s, or carry values out with the loop's state (loop.%s.state).", name, l.Name, l.Name, name, l.Name)
					return
				}
			}
			names := c.prefixed(s.prefix + "stage.")
			if n.loop != nil {
				for _, s := range n.loop.Stages {
					names = append(names, s.Name)
				}
			}
			c.undeclared(rng, "stage", "stage", name, names)
			return
		}
	}
	if g := c.nodes[r.target]; g != nil && g.kind == tGroup && !c.checkInstanceRef(g, e, t, rng) {
		return
	}
	add(r)
}

// resolveInstanceName resolves count.index, each.key and each.value: the
// instance of a repeated block whose expression this is.
func (c *compiler) resolveInstanceName(n *tnode, e *texpr, t hcl.Traversal, add func(*ref)) {
	root := t.RootName()
	attrs := map[string]string{"count": "index", "each": "key or value"}[root]
	name, _, _ := traversalHead(t)
	if (root == "count" && name != "index") || (root == "each" && name != "key" && name != "value") {
		c.errorf(t.SourceRange().Ptr(), "Invalid reference to "+root, "`%s` has only %s: %s.%s.", root, attrs, root, strings.ReplaceAll(attrs, " or ", ", "+root+"."))
		return
	}
	if n.inst == nil || n.inst.forEach != (root == "each") {
		detail := "`count.index` is only available in the arguments of a block with `count`."
		if root == "each" {
			detail = fmt.Sprintf("`each.%s` is only available in the arguments of a block with `for_each`.", name)
		}
		if n.inst != nil {
			detail += map[string]string{"count": " This block has `for_each`: use each.key or each.value.", "each": " This block has `count`: use count.index."}[root]
		}
		c.errorf(t.SourceRange().Ptr(), "Invalid reference to "+root, "%s", detail)
		return
	}
	add(&ref{key: root, root: root, rng: t.SourceRange()})
}

func (c *compiler) undeclared(rng hcl.Range, what, root, name string, candidates []string) {
	detail := fmt.Sprintf("There is no %s named %q.", what, name)
	if s := suggest(name, candidates); s != "" {
		detail += fmt.Sprintf(" Did you mean %s.%s?", root, s)
	}
	c.errorf(rng.Ptr(), "Reference to undeclared "+what, "%s", detail)
}

func (c *compiler) prefixed(prefix string) []string {
	var out []string
	for _, n := range c.order {
		if strings.HasPrefix(n.addr, prefix) && n.inst == nil {
			out = append(out, strings.TrimPrefix(n.addr, prefix))
		}
	}
	return out
}

func (c *compiler) loopNames(s *scope) []string {
	var out []string
	for _, l := range s.cfg.Loops {
		out = append(out, l.Name)
	}
	return out
}

func (c *compiler) varNames() []string {
	out := make([]string, 0, len(c.vars))
	for n := range c.vars {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// suggest returns the candidate closest to name, if any is close enough to
// be a likely typo.
func suggest(name string, candidates []string) string {
	best, bestDist := "", 1<<30
	for _, cand := range candidates {
		d := levenshtein.Distance(name, cand, nil)
		if d < 3 && d < bestDist {
			best, bestDist = cand, d
		}
	}
	return best
}

// passCycles finds dependency cycles, reporting each with its full path,
// and computes the topological order used by the later passes.
func (c *compiler) passCycles() {
	const (
		white = iota
		grey
		black
	)
	color := map[*tnode]int{}
	var stack []*tnode
	c.cycleEdges = map[[2]string]bool{}
	reported := map[string]bool{}
	var visit func(n *tnode)
	visit = func(n *tnode) {
		color[n] = grey
		stack = append(stack, n)
		for _, d := range n.deps {
			switch color[d] {
			case white:
				visit(d)
			case grey:
				// Back edge n -> d: the cycle is d … n -> d.
				i := len(stack) - 1
				for stack[i] != d {
					i--
				}
				cycle := stack[i:]
				var path []string
				for j, m := range cycle {
					path = append(path, m.addr)
					next := d
					if j+1 < len(cycle) {
						next = cycle[j+1]
					}
					c.cycleEdges[[2]string{m.addr, next.addr}] = true
				}
				path = append(path, d.addr)
				key := canonicalCycle(cycle)
				if reported[key] {
					continue
				}
				reported[key] = true
				c.hasCycle = true
				rng := n.decl
				if r := n.depOf[d]; r != nil {
					rng = r.rng
				}
				c.errorf(rng.Ptr(), "Dependency cycle", "These objects depend on each other, so none of them can run first:\n  %s", strings.Join(path, " → "))
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		c.topo = append(c.topo, n)
	}
	for _, n := range c.order {
		if color[n] == white {
			visit(n)
		}
	}
}

func canonicalCycle(cycle []*tnode) string {
	addrs := make([]string, len(cycle))
	for i, n := range cycle {
		addrs[i] = n.addr
	}
	sort.Strings(addrs)
	return strings.Join(addrs, "|")
}
