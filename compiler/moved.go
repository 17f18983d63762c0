package compiler

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/lang"
)

// A stage's seed, and so its cache key, mixes the run's seed with the
// stage's address. Renaming a stage, or adding `count` to it, changes its
// address, so its work would run again with different random draws. A
// `moved` block says where a stage (or dataset, or model) used to be declared; the
// node at `to` keeps the address `from` for its seed (Node.SeedAddress),
// and with it its results and its cache. As in Terraform, `from` must no
// longer be declared, each address appears once on each side, and moves
// chain (a→b, b→c gives c the identity of a).

// movedRef is one side of a moved block: "stage.x", "stage.x[1]",
// `dataset.d["a"]` or "model.m[0]", relative to a loop's round for a stage inside a loop.
type movedRef struct {
	kind NodeKind
	name string
	key  string // "", "[1]" or `["a"]`
	rng  hcl.Range
}

func (r movedRef) String() string {
	return string(r.kind) + "." + r.name + r.key
}

// parseMovedRef reads one side of a moved block.
func (c *compiler) parseMovedRef(side string, expr hcl.Expression) (movedRef, bool) {
	rng := expr.Range()
	bad := func() (movedRef, bool) {
		c.errorf(&rng, "Invalid moved address", "`%s` must name a stage, a dataset or a model, or one instance of a repeated one: stage.x, stage.x[1], dataset.d[\"a\"], model.m[0] (for a stage inside a loop, its name alone: every round moves).", side)
		return movedRef{}, false
	}
	trav, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() || len(trav) < 2 || len(trav) > 3 {
		return bad()
	}
	var ref movedRef
	switch trav.RootName() {
	case "stage":
		ref.kind = KindStage
	case "dataset":
		ref.kind = KindDataset
	case "model":
		ref.kind = KindModel
	default:
		return bad()
	}
	attr, ok := trav[1].(hcl.TraverseAttr)
	if !ok {
		return bad()
	}
	ref.name, ref.rng = attr.Name, trav.SourceRange()
	if len(trav) == 3 {
		idx, ok := trav[2].(hcl.TraverseIndex)
		if !ok || idx.Key.IsNull() || !idx.Key.IsKnown() {
			return bad()
		}
		switch k := idx.Key; k.Type() {
		case cty.Number:
			bf := k.AsBigFloat()
			i, acc := bf.Int64()
			if !bf.IsInt() || acc != 0 || i < 0 {
				return bad()
			}
			ref.key = "[" + strconv.FormatInt(i, 10) + "]"
		case cty.String:
			ref.key = "[" + strconv.Quote(k.AsString()) + "]"
		default:
			return bad()
		}
	}
	return ref, true
}

// relAddress is a stage's or dataset's address within its round:
// loop.L[2].stage.x[1] → stage.x[1].
func relAddress(n *Node) string {
	key := ""
	if n.Instance != nil {
		key = n.Instance.Key
	}
	return string(n.Kind) + "." + n.Name + key
}

// applyMovedBlocks checks the moved blocks of the spec and of each module
// and sets SeedAddress on every node they move. The spec's blocks move the
// spec's own nodes; a module's blocks move the nodes of each of its
// instances, by their addresses inside the module (checked, and reported,
// once per module).
func (c *compiler) applyMovedBlocks(p *Plan) {
	byModule := map[string][]*Node{}
	for _, n := range p.Nodes {
		if n.Kind == KindStage || n.Kind == KindDataset || n.Kind == KindModel {
			byModule[n.Module] = append(byModule[n.Module], n)
		}
	}
	c.applyMoved(byModule[""], c.cfg.Moved, func(n *Node, id string) {
		n.SeedAddress = id
		if n.Loop != "" {
			n.SeedAddress = roundAddr(n.Loop, n.Round, id)
		}
	})
	insts := make([]string, 0, len(c.moduleCfg))
	for m, cfg := range c.moduleCfg {
		if len(cfg.Moved) > 0 {
			insts = append(insts, m)
		}
	}
	slices.Sort(insts)
	checked := map[*lang.Config]bool{}
	for _, m := range insts {
		cfg := c.moduleCfg[m]
		before := len(c.diags)
		c.applyMoved(byModule[m], cfg.Moved, func(n *Node, id string) { n.SeedAddress = m + "." + id })
		if checked[cfg] {
			c.diags = c.diags[:before] // reported for the module's first instance
		}
		checked[cfg] = true
	}
}

// applyMoved checks moved blocks against the nodes of one spec or module
// instance and calls move with every node they move and the address it
// keeps (its oldest, relative to its round and module).
func (c *compiler) applyMoved(nodes []*Node, blocks []*lang.Moved, move func(n *Node, id string)) {
	if len(blocks) == 0 {
		return
	}
	declared := map[string][]*Node{} // relative address → its nodes (one per round)
	for _, n := range nodes {
		rel := relAddress(n)
		declared[rel] = append(declared[rel], n)
	}
	back := map[string]movedRef{}    // to → from
	forward := map[string]movedRef{} // from → to
	var order []movedRef             // the `to` of each valid block, in source order
	for _, b := range blocks {
		if b.From == nil || b.To == nil {
			continue // reported by the decoder
		}
		from, ok1 := c.parseMovedRef("from", b.From)
		to, ok2 := c.parseMovedRef("to", b.To)
		if !ok1 || !ok2 {
			continue
		}
		switch {
		case from.kind != to.kind:
			c.errorf(&to.rng, "Invalid move", "A moved block moves a %s to a %s; a stage stays a stage, a dataset a dataset and a model a model.", from.kind, to.kind)
			continue
		case from.String() == to.String():
			c.errorf(&to.rng, "Invalid move", "`from` and `to` are both %s.", to)
			continue
		case len(declared[from.String()]) > 0:
			c.errorf(&from.rng, "Moved from a declared address", "%s is still declared in this spec: `from` names where the %s was before an edit, and that address must be free, or the two would share a seed and a cache.", from, from.kind)
			continue
		}
		if prev, dup := forward[from.String()]; dup {
			c.errorf(&from.rng, "Duplicate moved block", "%s was already moved to %s (at %s); an address moves to one place.", from, prev, prev.rng)
			continue
		}
		if prev, dup := back[to.String()]; dup {
			c.errorf(&to.rng, "Duplicate moved block", "%s is already the target of the move from %s (at %s).", to, prev, prev.rng)
			continue
		}
		forward[from.String()], back[to.String()] = to, from
		order = append(order, to)
	}
	// Each chain of moves must end at a declared address.
	reported := map[string]bool{}
	for _, to := range order {
		end, steps := to, 0
		for {
			next, ok := forward[end.String()]
			if !ok {
				break
			}
			if steps++; steps > len(forward) {
				c.errorf(&to.rng, "Cycle of moved blocks", "The moved blocks through %s form a cycle; an address moves from older to newer, once.", to)
				return
			}
			end = next
		}
		if len(declared[end.String()]) == 0 && !reported[end.String()] {
			reported[end.String()] = true
			c.errorf(&end.rng, "Moved to an undeclared address", "%s is not declared in this spec: `to` names where the %s is now (or the `from` of a later move).%s", end, end.kind, c.movedHint(end, declared))
		}
	}
	if c.diags.HasErrors() {
		return
	}
	for rel, moved := range declared {
		if _, ok := back[rel]; !ok {
			continue
		}
		id := rel // follow the chain back to the oldest address
		for from, ok := back[id]; ok; from, ok = back[id] {
			id = from.String()
		}
		for _, n := range moved {
			move(n, id)
		}
	}
}

// movedHint suggests the declared instances of a repeated block, or the
// nearest name, for a `to` that names nothing.
func (c *compiler) movedHint(to movedRef, declared map[string][]*Node) string {
	base := string(to.kind) + "." + to.name
	var keys []string
	for rel := range declared {
		if strings.HasPrefix(rel, base+"[") {
			keys = append(keys, rel)
		}
	}
	if len(keys) > 0 {
		return fmt.Sprintf(" %s is repeated: name one instance, such as %s.", base, slices.Min(keys))
	}
	if len(declared[base]) > 0 {
		return fmt.Sprintf(" %s is declared once, without an instance key.", base)
	}
	return ""
}
