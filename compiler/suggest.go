package compiler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// suggestAttributes adds "Did you mean" to hcl's "Unsupported attribute"
// errors (item.answr, stage.s.metrics.acuracy, each.value.nmae): hcl says
// only that the object lacks the name. The diagnostic carries the
// expression and the context it was evaluated in, so the object's type is
// found again by evaluating the traversal up to the misspelt step; its
// attribute names are the candidates. When no name is close, the detail
// lists the object's attributes (at most a dozen).
func suggestAttributes(diags hcl.Diagnostics) {
	for _, d := range diags {
		if d.Severity != hcl.DiagError || d.Summary != "Unsupported attribute" || d.Subject == nil || d.Expression == nil || d.EvalContext == nil {
			continue
		}
		names, name, ok := attributesBefore(d)
		if !ok || len(names) == 0 {
			continue
		}
		if s := suggest(name, names); s != "" {
			d.Detail += fmt.Sprintf(" Did you mean %q?", s)
		} else if len(names) <= 12 {
			d.Detail += fmt.Sprintf(" It has: %s.", strings.Join(names, ", "))
		}
	}
}

// attributesBefore finds, in d's expression, the traversal step d points at
// and returns the attribute names of the object before it, and the name
// asked for.
func attributesBefore(d *hcl.Diagnostic) ([]string, string, bool) {
	expr, ok := d.Expression.(hclsyntax.Node)
	if !ok {
		return nil, "", false
	}
	var found hcl.Traversal
	hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		if t, ok := n.(*hclsyntax.ScopeTraversalExpr); ok && found == nil {
			for i, step := range t.Traversal {
				if a, ok := step.(hcl.TraverseAttr); ok && i > 0 && a.SrcRange == *d.Subject {
					found = t.Traversal[:i+1]
				}
			}
		}
		return nil
	})
	if found == nil {
		return nil, "", false
	}
	name := found[len(found)-1].(hcl.TraverseAttr).Name
	v, diags := found[:len(found)-1].TraverseAbs(d.EvalContext)
	if diags.HasErrors() {
		return nil, "", false
	}
	t := v.Type()
	if !t.IsObjectType() {
		return nil, "", false
	}
	var names []string
	for n := range t.AttributeTypes() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, name, true
}
