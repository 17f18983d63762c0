package compiler

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// HCL's && and || short-circuit on an unknown left operand: when both
// sides are unknown and the left one evaluated cleanly, the right side's
// diagnostics are dropped. Type-checking evaluates everything with unknown
// values, so `item.answer > 0 && item.answr > 1` would pass. checkedAnd and
// checkedOr behave exactly like HCL's operators except that, when both
// operands are unknown, they keep the right side's errors.
var (
	checkedAnd = strictOp(hclsyntax.OpLogicalAnd)
	checkedOr  = strictOp(hclsyntax.OpLogicalOr)
)

func strictOp(op *hclsyntax.Operation) *hclsyntax.Operation {
	sc := op.ShortCircuit
	return &hclsyntax.Operation{
		Impl: op.Impl,
		Type: op.Type,
		ShortCircuit: func(lhs, rhs cty.Value, lhsDiags, rhsDiags hcl.Diagnostics) (cty.Value, hcl.Diagnostics) {
			if !lhs.IsKnown() && !rhs.IsKnown() && rhsDiags.HasErrors() {
				return cty.NilVal, nil // evaluate normally: both sides' diagnostics
			}
			return sc(lhs, rhs, lhsDiags, rhsDiags)
		},
	}
}

// checkLogic swaps HCL's logical operators in expr for checkedAnd and
// checkedOr. It is idempotent; the runtime re-parses expressions from the
// plan's sources, so the swap never affects execution.
func checkLogic(expr hcl.Expression) {
	node, ok := expr.(hclsyntax.Node)
	if !ok {
		return
	}
	_ = hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		if b, ok := n.(*hclsyntax.BinaryOpExpr); ok {
			switch b.Op {
			case hclsyntax.OpLogicalAnd:
				b.Op = checkedAnd
			case hclsyntax.OpLogicalOr:
				b.Op = checkedOr
			}
		}
		return nil
	})
}
