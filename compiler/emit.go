package compiler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/ouroloop/ouro/lang"
)

// passEmit unrolls loops into per-round subgraphs and emits the plan.
// Inside round r of loop L, `stage.x` (x a stage of L) reads
// loop.L[r].stage.x and `state` reads loop.L[r].state; state r+1 is the
// previous round's `next`. Every node of round r > 0 is gated by the
// previous round's `until`.
func (c *compiler) passEmit() {
	if !c.checkPlanSize() {
		return
	}
	p := &Plan{FormatVersion: FormatVersion, Variables: map[string]TypedValue{}, Seed: c.seed}
	c.plan = p
	h := sha256.New()
	modFiles := c.moduleFiles()
	for _, name := range c.cfg.FileNames() {
		src := c.cfg.Sources[name]
		sum := sha256.Sum256(src)
		base := filepath.Base(name)
		if rel, ok := modFiles[name]; ok {
			base = rel
		}
		p.Files = append(p.Files, PlanFile{Name: base, Digest: "sha256:" + hex.EncodeToString(sum[:])})
		fmt.Fprintf(h, "%s\x00%x\x00", base, sum)
	}
	p.SpecDigest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	for name, v := range c.vars {
		tj, err := ctyjson.MarshalType(v.Type())
		if err != nil {
			c.errorf(nil, "Cannot encode variable", "var.%s: %s", name, err)
			continue
		}
		vj, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			c.errorf(nil, "Cannot encode variable", "var.%s: %s", name, err)
			continue
		}
		p.Variables[name] = TypedValue{Type: tj, Value: vj, Changed: c.changedVars[name]}
	}

	for _, n := range c.topo {
		if n.kind == tLoop {
			c.emitLoop(n)
			continue
		}
		if n.unroll != nil {
			continue // emitted once per round by emitLoop
		}
		if pn := c.objectNode(n, "", 0); pn != nil {
			c.emit(pn, n)
			if n.kind == tOutput && n.mod == c.root {
				p.Outputs = append(p.Outputs, n.addr)
			}
		}
	}
	c.applyMovedBlocks(p)
}

// objectNode is the plan node of a local, module variable, module instance,
// model, dataset, stage, group or output: at top level when loop is "",
// else in round `round` of loop `loop` (its address, its references and
// its module's address mapped into the round). It is nil for the other
// kinds, and for an output without a value.
func (c *compiler) objectNode(n *tnode, loop string, round int) *Node {
	var pn *Node
	switch n.kind {
	case tLocal:
		pn = &Node{Address: n.addr, Kind: KindLocal, Name: n.name, Round: -1, Expr: c.expr(n.exprs[0], loop, round)}
	case tVar:
		pn = c.varNode(n, loop, round)
	case tModule:
		pn = c.moduleNode(n, loop, round)
	case tModel:
		pn = &Node{Address: n.addr, Kind: KindModel, Name: n.name, Provider: n.op, Round: -1, Params: c.params(n, loop, round), Instance: c.instance(n), Module: n.mod.addr(), Dir: n.mod.dir}
	case tDataset:
		pn = &Node{Address: n.addr, Kind: KindDataset, Name: n.name, Operator: "dataset", Round: -1, Params: c.params(n, loop, round), Instance: c.instance(n), Module: n.mod.addr(), Dir: n.mod.dir}
	case tStage:
		pn = &Node{Address: n.addr, Kind: KindStage, Name: n.name, Operator: n.op, Round: -1, Queue: n.queue, Params: c.params(n, loop, round), Instance: c.instance(n), Module: n.mod.addr(), Dir: n.mod.dir}
	case tGroup:
		return c.groupNode(n, loop, round) // maps itself
	case tOutput:
		if len(n.exprs) == 0 {
			return nil
		}
		pn = &Node{Address: n.addr, Kind: KindOutput, Name: n.name, Round: -1, Expr: c.expr(n.exprs[0], loop, round), Module: n.mod.addr()}
	default:
		return nil
	}
	if loop != "" {
		pn.Address, pn.Loop, pn.Round = c.inRound(n.addr, loop, round), loop, round
		pn.Module = c.inRound(pn.Module, loop, round)
	}
	if pn.Module != "" {
		c.moduleCfg[pn.Module] = n.mod.cfg
	}
	return pn
}

// instance is the plan form of a node's instance, nil when it is none.
func (c *compiler) instance(n *tnode) *Instance {
	pi, err := n.inst.plan()
	if err != nil {
		c.errorf(n.decl.Ptr(), "Cannot encode for_each value", "%s: %s", n.addr, err)
	}
	return pi
}

// groupNode is the plan node of a repeated block's group, in round `round`
// of loop `loop` when loop is set.
func (c *compiler) groupNode(n *tnode, loop string, round int) *Node {
	pn := &Node{Address: n.addr, Kind: KindGroup, Name: n.name, Round: -1, ForEach: n.forEach}
	if loop != "" {
		pn.Address, pn.Loop, pn.Round = c.inRound(n.addr, loop, round), loop, round
	}
	for _, m := range n.members {
		a := m.addr
		if loop != "" {
			a = c.inRound(a, loop, round)
		}
		pn.Members = append(pn.Members, a)
	}
	pn.Deps = append(pn.Deps, pn.Members...)
	return pn
}

// inRound maps a template address of loop `loop` into round `round`.
func (c *compiler) inRound(addr, loop string, round int) string {
	pre := "loop." + loop + "."
	if strings.HasPrefix(addr, pre) {
		return roundAddr(loop, round, strings.TrimPrefix(addr, pre))
	}
	return addr
}

// MaxPlanNodes bounds the size of an unrolled plan. Loops multiply their
// stages by their rounds; a typo such as `rounds = 100000` on a loop of ten
// stages would otherwise build a million-node plan before anyone notices.
const MaxPlanNodes = 100000

// checkPlanSize reports loops whose unrolling would exceed MaxPlanNodes.
func (c *compiler) checkPlanSize() bool {
	total := len(c.topo)
	// A loop's stage nodes per round: instances and groups of repeated
	// stages included.
	perRound := map[*lang.Loop]int{}
	for _, n := range c.topo {
		if n.unroll != nil {
			perRound[n.unroll]++
		}
	}
	for _, l := range c.cfg.Loops {
		rn := c.nodes["loop."+l.Name+".rounds"]
		if rn == nil {
			continue
		}
		total += rn.rounds * (perRound[l] + 2)
	}
	if total <= MaxPlanNodes {
		return true
	}
	for _, l := range c.cfg.Loops {
		if rn := c.nodes["loop."+l.Name+".rounds"]; rn != nil && rn.rounds*(perRound[l]+2) > MaxPlanNodes/10 {
			c.errorf(l.Rounds.Range().Ptr(), "Plan too large", "Unrolled, this spec has about %d nodes; the limit is %d. Loop %q contributes %d rounds of %d nodes: lower its rounds (use `until` to stop early rather than a huge bound).", total, MaxPlanNodes, l.Name, rn.rounds, perRound[l])
			return false
		}
	}
	c.errorf(nil, "Plan too large", "Unrolled, this spec has about %d nodes; the limit is %d. Lower the loops' rounds.", total, MaxPlanNodes)
	return false
}

func roundAddr(loop string, round int, rest string) string {
	return fmt.Sprintf("loop.%s[%d].%s", loop, round, rest)
}

func (c *compiler) emitLoop(ln *tnode) {
	name := ln.name
	pre := "loop." + name
	rounds := 0
	if rn := c.nodes[pre+".rounds"]; rn != nil {
		rounds = rn.rounds
	}
	init, next, until := c.nodes[pre+".init"], c.nodes[pre+".next"], c.nodes[pre+".until"]
	info := &LoopInfo{Name: name, Rounds: rounds, DeclRange: ln.decl}
	for _, s := range ln.loop.Stages {
		info.Stages = append(info.Stages, s.Name)
	}
	var repeated []*tnode // the nodes each round repeats, in topological order
	for _, n := range c.topo {
		if n.unroll == ln.loop && n.kind != tLoop {
			repeated = append(repeated, n)
		}
	}
	loopNode := &Node{Address: pre, Kind: KindLoop, Name: name, Loop: name, Round: -1}
	stateAddr := func(r int) string { return roundAddr(name, r, "state") }
	for r := 0; r <= rounds; r++ {
		gate := ""
		if r > 0 && until != nil {
			gate = roundAddr(name, r-1, "until")
		}
		if init != nil {
			st := &Node{Address: stateAddr(r), Kind: KindState, Name: name, Loop: name, Round: r, Gate: gate}
			switch {
			case r == 0:
				st.Expr = c.expr(init.exprs[0], "", 0)
			case next != nil:
				st.Expr = c.expr(next.exprs[0], name, r-1)
				st.Round = r
			default:
				rng := init.decl
				st.Expr = &Expr{Source: "state", Normalized: "state", Range: rng, Refs: map[string]string{"state": stateAddr(r - 1)}}
			}
			c.emit(st, c.nodes[pre+".state"])
			if r == rounds {
				info.FinalState = st.Address
				loopNode.Deps = append(loopNode.Deps, st.Address)
			}
		}
		if r == rounds {
			break
		}
		ids := RoundIDs{}
		if init != nil {
			ids.State = stateAddr(r)
		}
		for _, s := range repeated {
			pn := c.objectNode(s, name, r)
			if pn == nil {
				continue
			}
			pn.Gate = gate
			c.emit(pn, s)
			// The round's own results: its stages and modules (a loop
			// module's own objects are read through its instance).
			if s.loop != ln.loop || (s.kind != tStage && s.kind != tGroup && s.kind != tModule) {
				continue
			}
			ids.Stages = append(ids.Stages, pn.Address)
			if s.inst == nil {
				loopNode.Deps = append(loopNode.Deps, pn.Address)
			}
		}
		if until != nil {
			u := &Node{Address: roundAddr(name, r, "until"), Kind: KindUntil, Name: name, Loop: name, Round: r, Gate: gate, Expr: c.expr(until.exprs[0], name, r)}
			c.emit(u, until)
			ids.Until = u.Address
			loopNode.Deps = append(loopNode.Deps, u.Address)
		}
		info.Round = append(info.Round, ids)
	}
	c.emit(loopNode, ln)
	c.plan.Loops = append(c.plan.Loops, info)
}

// emit finishes a node (dependencies from its references, its type, its
// range) and appends it to the plan.
func (c *compiler) emit(pn *Node, tn *tnode) {
	deps := map[string]bool{}
	for _, d := range pn.Deps {
		deps[d] = true
	}
	collect := func(e *Expr) {
		if e == nil {
			return
		}
		for _, a := range e.Refs {
			if !strings.HasPrefix(a, "var.") {
				deps[a] = true
			}
		}
	}
	collect(pn.Expr)
	for _, pe := range pn.Params {
		collect(pe.Expr)
	}
	if pn.Gate != "" {
		deps[pn.Gate] = true
	}
	delete(deps, pn.Address)
	pn.Deps = pn.Deps[:0]
	for d := range deps {
		pn.Deps = append(pn.Deps, d)
	}
	sort.Strings(pn.Deps)
	if tn != nil {
		pn.DeclRange = tn.decl
		if tn.typJSON == nil {
			if tj, err := MarshalType(tn.typ); err == nil {
				tn.typJSON = tj
			}
		}
		pn.Type = tn.typJSON
	}
	c.plan.Nodes = append(c.plan.Nodes, pn)
}

func (c *compiler) params(n *tnode, loop string, round int) []*ParamExpr {
	var out []*ParamExpr
	for _, e := range n.exprs {
		out = append(out, &ParamExpr{Name: e.name, Mode: e.param.Mode.String(), Expr: c.expr(e, loop, round)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// expr converts a checked expression into its plan form, mapping
// references into the scope of round `round` of loop `loop`.
func (c *compiler) expr(e *texpr, loop string, round int) *Expr {
	rng := e.expr.Range()
	if !e.emitted {
		// A loop's expressions are emitted once per round: compute the
		// round-independent parts once (and the source's parts once for
		// every instance of a repeated block).
		e.emitted = true
		if s := e.source(); !s.done {
			s.done = true
			if b, ok := c.cfg.Sources[rng.Filename]; ok && rng.End.Byte <= len(b) && rng.Start.Byte <= rng.End.Byte {
				s.src = string(b[rng.Start.Byte:rng.End.Byte])
			}
			s.normalized = Normalize(s.src)
		}
		if e.typ != cty.NilType {
			if tj, err := MarshalType(e.typ); err == nil {
				e.typJSON = tj
			}
		}
	}
	out := &Expr{Source: e.src.src, Normalized: e.src.normalized, Range: rng, Type: e.typJSON}
	for _, r := range e.refs {
		if r.root == "round" || r.root == "count" || r.root == "each" {
			continue
		}
		if out.Refs == nil {
			out.Refs = map[string]string{}
		}
		target := r.target
		if r.root == "var" && target == "" {
			target = r.key
		} else if loop != "" {
			pre := "loop." + loop + "."
			if strings.HasPrefix(target, pre) {
				target = roundAddr(loop, round, strings.TrimPrefix(target, pre))
			}
		}
		out.Refs[r.key] = target
	}
	return out
}

// Normalize returns an expression's source as its tokens separated by
// single spaces, without comments or newlines: two spellings that differ
// only in layout normalise to the same string, so reformatting a spec does
// not invalidate its cache.
func Normalize(src string) string {
	toks, diags := hclsyntax.LexExpression([]byte(src), "", hcl.InitialPos)
	if diags.HasErrors() {
		return strings.Join(strings.Fields(src), " ")
	}
	var parts []string
	for _, t := range toks {
		switch t.Type {
		case hclsyntax.TokenComment, hclsyntax.TokenNewline, hclsyntax.TokenEOF:
			continue
		}
		parts = append(parts, string(t.Bytes))
	}
	return strings.Join(parts, " ")
}
