package compiler

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// This file is what the compiler tells tools about a spec besides its
// diagnostics and plan: where each reference points and what a per-item
// argument sees. The language server (ouro lsp) answers go-to-definition,
// find-references and completion after `item.` from it, so editors follow
// the same scope rules as the compiler instead of a second copy of them.

// Reference is one resolved reference of the spec.
type Reference struct {
	// Name is the reference's head: "stage.tune", "var.rounds",
	// "dataset.problems", "loop.star" or "state".
	Name string
	// Range is the head's source range: `stage.tune` of
	// `stage.tune.model`, `state` of `state.policy`.
	Range hcl.Range
	// Target is the range of the declaration it names: the block header of
	// a variable, model, dataset, stage or loop, the attribute of a local,
	// and a loop's round-0 `state` expression for `state`.
	Target hcl.Range
}

// References returns every resolved reference of the spec in declaration
// order of the expressions holding them. References that did not resolve
// (reported as errors) and `round`, which names no declaration, are left
// out. It is set whether or not the spec has errors.
func (r *Result) References() []Reference { return r.refs }

// ItemScope returns the names a per-item argument of a stage sees besides
// the stage's own scope, with their types: `item` (the record type of the
// operator's input) and whatever the operator adds, such as `scores`.
// stage is a template address ("stage.x", or "loop.L.stage.x" inside loop
// L) and param an argument name of its operator, given in the spec or not.
// It returns nil when the stage's value arguments did not type-check, so
// the record type is not known.
func (r *Result) ItemScope(stage, param string) map[string]cty.Type {
	return r.scopes[[2]string{stage, param}]
}

// references collects the resolved references of every node.
func (c *compiler) references() []Reference {
	vars := map[string]hcl.Range{}
	for _, v := range c.cfg.Variables {
		vars[v.Name] = v.DeclRange
	}
	var out []Reference
	for _, n := range c.order {
		for _, e := range n.exprs {
			for _, r := range e.refs {
				var target hcl.Range
				switch {
				case r.target != "" && c.nodes[r.target] != nil:
					target = c.nodes[r.target].decl
				case r.root == "var":
					rng, ok := vars[r.name]
					if !ok {
						continue
					}
					target = rng
				case r.target != "" && c.nodes[r.target] != nil:
					target = c.nodes[r.target].decl
				default:
					continue
				}
				out = append(out, Reference{Name: r.key, Range: r.rng, Target: target})
			}
		}
	}
	return out
}
