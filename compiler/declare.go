package compiler

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/ouroloop/ouro/lang"
)

type nodeKind int

const (
	tLocal nodeKind = iota
	tModel
	tDataset
	tStage
	tRounds // loop.L.rounds
	tInit   // loop.L.init: the round-0 state expression
	tState  // loop.L.state: the state inside a round
	tNext   // loop.L.next
	tUntil  // loop.L.until
	tLoop   // loop.L: the loop's result
	tOutput
	tGroup  // stage.x, model.x, dataset.x of a repeated block: all its instances
	tVar    // module.M.var.x: a module's variable, the caller's argument
	tModule // module.M: a module instance, the object of its outputs
)

// tnode is a node of the template graph: one declared object, with loops
// not yet unrolled.
type tnode struct {
	addr  string
	kind  nodeKind
	name  string
	loop  *lang.Loop // enclosing loop, for loop stages and loop parts
	decl  hcl.Range
	sig   *Signature
	op    string // operator or provider name
	exprs []*texpr
	deps  []*tnode
	depOf map[*tnode]*ref // first reference that made each dependency

	typ   cty.Type
	val   cty.Value
	check *Check

	rounds int // tRounds: the known number of rounds

	typJSON json.RawMessage // MarshalType(typ), set by passEmit

	// mod is the scope the node's expressions resolve in: the module
	// instance that declares it, or for a module's variable (tVar) and the
	// module node itself (tModule), the caller. call is a tModule's or
	// tVar's module instance; variable a tVar's declaration.
	mod      *scope
	call     *scope
	variable *lang.Variable

	stage *lang.Stage
	queue string // stages: `resources { queue }`, the task queue of a distributed run

	// unroll is the loop whose rounds repeat the node: a loop's stages,
	// and every node of a module block inside a loop. loop (above) is set
	// only where the node's expressions are in the loop's scope (they may
	// read round, state and the round's stages): a loop's stages, and a
	// loop module's variables, instance and group, not the module's own
	// objects.
	unroll *lang.Loop

	inst  *instance // an instance of a repeated block; nil otherwise
	group *tnode    // an instance's group

	// tGroup: the instances in key order, how they are keyed, and whether
	// count or for_each failed to evaluate (then the group is dynamic).
	members    []*tnode
	forEach    bool
	failed     bool
	memberKind nodeKind
}

// texpr is one expression of a node: a parameter of an operator, or the
// node's only expression.
type texpr struct {
	name  string // parameter name; "" for single-expression nodes
	param *Param
	expr  hcl.Expression
	refs  []*ref
	// deferred are root names left for the per-item scope (item, scores, …).
	deferred []hcl.Traversal
	typ      cty.Type
	// broken marks an expression with a reference that did not resolve
	// (already reported); the type checker skips it.
	broken bool

	// Set by passEmit the first time the expression is emitted.
	emitted bool
	typJSON json.RawMessage
	// src is shared by the instances of a repeated block, which have the
	// same source: its parts are computed once for all of them.
	src *exprSource
}

// exprSource is what an expression's source gives, whatever its instance.
type exprSource struct {
	done       bool
	src        string
	normalized string
	// indexed and splatted are the ranges of the plain references read
	// through an index, a splat or a `for` (indexedRefs), computed when
	// the expression reads a repeated block.
	indexed, splatted map[hcl.Range]bool
	// logicChecked: checkLogic has rewritten the (shared) syntax tree.
	logicChecked bool
	// ctx is the evaluation context of the instances of a repeated block
	// without count and each: they read the same nodes, so it is built
	// once and each instance evaluates in a child of it.
	ctx *hcl.EvalContext
}

// source returns the expression's shared source parts.
func (e *texpr) source() *exprSource {
	if e.src == nil {
		e.src = &exprSource{}
	}
	return e.src
}

// ref is one resolved reference.
type ref struct {
	key    string // "stage.tune", "var.rounds", "state", "round", "loop.star"
	root   string
	name   string
	target string // template address; "" for var and round
	rng    hcl.Range
}

func (c *compiler) passVariables() {
	c.vars = map[string]cty.Value{}
	c.root.static = c.vars
	c.changedVars = map[string]bool{}
	decl := map[string]*lang.Variable{}
	for _, v := range c.cfg.Variables {
		decl[v.Name] = v
	}
	given := map[string]VarInput{}
	for _, in := range c.opts.Vars {
		if _, ok := decl[in.Name]; !ok {
			var names []string
			for n := range decl {
				names = append(names, n)
			}
			detail := fmt.Sprintf("A value was given for %q, but the spec declares no variable of that name.", in.Name)
			if s := suggest(in.Name, names); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			}
			var rng *hcl.Range
			if in.FromFile {
				rng = in.Range.Ptr()
			}
			c.errorf(rng, "Value for undeclared variable", "%s", detail)
			continue
		}
		given[in.Name] = in
	}
	for _, v := range c.cfg.Variables {
		if v.Kind != "" {
			c.errorf(v.TypeRange.Ptr(), "Variable of type "+v.Kind+" in a spec", "var.%s is a %s, which only a module's caller can give (module \"name\" { %s = … }); a spec run on its own cannot take one from -var. Declare a %s block instead.", v.Name, v.Kind, v.Name, v.Kind)
			continue
		}
		var val cty.Value
		var subject *hcl.Range
		if in, ok := given[v.Name]; ok {
			subject = in.Range.Ptr()
			if in.IsRaw && v.Type.IsPrimitiveType() {
				// A command-line value for a string, number or bool is the
				// literal text, converted below, as Terraform has it: so
				// -var rounds=abc is "abc is not a number", not an HCL
				// parse of abc.
				val = cty.StringVal(in.Raw)
			} else {
				expr := in.Expr
				var d hcl.Diagnostics
				if in.IsRaw {
					expr, d = hclsyntax.ParseExpression([]byte(in.Raw), fmt.Sprintf("<value for var.%s>", v.Name), hcl.InitialPos)
				}
				if !d.HasErrors() {
					val, d = expr.Value(nil)
				}
				if d.HasErrors() {
					if in.IsRaw {
						c.errorf(v.DeclRange.Ptr(), "Invalid value for variable", "-var %s=%s: var.%s wants %s, written as an HCL value%s; %q is not one (%s).", v.Name, in.Raw, v.Name, typeDescription(v.Type), hclExample(v.Type), in.Raw, firstDetail(d))
					} else {
						c.diags = append(c.diags, d...)
					}
					continue
				}
			}
			if v.Defaults != nil {
				val = v.Defaults.Apply(val)
			}
			conv, err := convert.Convert(val, v.Type)
			if err != nil {
				if in.IsRaw {
					c.errorf(v.DeclRange.Ptr(), "Invalid value for variable", "-var %s=%s: var.%s wants %s, and %q is not one: %s.", v.Name, in.Raw, v.Name, typeDescription(v.Type), in.Raw, err)
					continue
				}
				c.errorf(subject, "Invalid value for variable", "The value given for var.%s is not compatible with its type %s: %s.", v.Name, typeexpr.TypeString(v.Type), err)
				continue
			}
			val = conv
			if !sameAsDefault(v, val) {
				c.changedVars[v.Name] = true
			}
			if !in.FromFile {
				subject = nil
			}
		} else if v.Default != cty.NilVal {
			val = v.Default
		} else {
			c.errorf(v.DeclRange.Ptr(), "No value for required variable", "The variable %q has no default, so a value must be given with -var %s=… or -var-file.", v.Name, v.Name)
			continue
		}
		c.vars[v.Name] = val
		for _, rule := range v.Validations {
			ctx := &hcl.EvalContext{
				Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{v.Name: val})},
				Functions: c.opts.Functions,
			}
			ok, d := rule.Condition.Value(ctx)
			c.diags = append(c.diags, d...)
			if d.HasErrors() {
				continue
			}
			if ok.Type() != cty.Bool || !ok.IsKnown() || ok.IsNull() {
				c.errorf(rule.Condition.Range().Ptr(), "Invalid validation condition", "A validation condition must be a known boolean; this one is %s.", TypeString(ok.Type()))
				continue
			}
			if ok.True() {
				continue
			}
			msg, d := rule.ErrorMessage.Value(ctx)
			c.diags = append(c.diags, d...)
			text := "The value is invalid."
			if !d.HasErrors() && msg.Type() == cty.String && msg.IsKnown() && !msg.IsNull() {
				text = msg.AsString()
			}
			rng := rule.Condition.Range().Ptr()
			if subject != nil {
				rng = subject
			}
			c.errorf(rng, "Invalid value for variable", "var.%s: %s\n\nThis was checked by the validation rule at %s.", v.Name, text, rule.DeclRange)
		}
	}
	if c.cfg.Settings != nil && c.cfg.Settings.Seed != nil {
		v, d := c.cfg.Settings.Seed.Value(c.varContext())
		c.diags = append(c.diags, d...)
		if !d.HasErrors() {
			if n, err := convert.Convert(v, cty.Number); err != nil || !n.IsKnown() || n.IsNull() {
				c.errorf(c.cfg.Settings.Seed.Range().Ptr(), "Invalid seed", "The seed must be a known whole number.")
			} else {
				bf := n.AsBigFloat()
				if i, acc := bf.Int64(); acc != 0 {
					c.errorf(c.cfg.Settings.Seed.Range().Ptr(), "Invalid seed", "The seed must be a whole number.")
				} else {
					c.seed = i
				}
			}
		}
	}
}

// varContext is an evaluation context holding only variables and functions.
func (c *compiler) varContext() *hcl.EvalContext {
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(c.cur.static)},
		Functions: c.opts.Functions,
	}
}

func (c *compiler) passDeclare() { c.declareScope(c.root) }

// declareScope declares the objects of one spec: the root's, or a module
// instance's, whose addresses start with s.prefix.
func (c *compiler) declareScope(s *scope) {
	saved := c.cur
	c.cur = s
	defer func() { c.cur = saved }()
	p := s.prefix
	for _, l := range s.cfg.Locals {
		c.add(&tnode{addr: p + "local." + l.Name, kind: tLocal, name: l.Name, decl: l.DeclRange,
			exprs: []*texpr{{expr: l.Expr}}})
	}
	for _, m := range s.cfg.Models {
		c.declareRepeated(p+"model."+m.Name, m.Repeat, func(addr string) *tnode {
			n := c.add(&tnode{addr: addr, kind: tModel, name: m.Name, decl: m.DeclRange})
			c.declareModel(n, m)
			return n
		})
	}
	for _, ds := range s.cfg.Datasets {
		c.declareRepeated(p+"dataset."+ds.Name, ds.Repeat, func(addr string) *tnode {
			n := c.add(&tnode{addr: addr, kind: tDataset, name: ds.Name, decl: ds.DeclRange, op: "dataset"})
			sig, ok := c.opts.Registry.Operator("dataset")
			if !ok {
				c.errorf(ds.DeclRange.Ptr(), "No dataset operator", "The operator library has no `dataset` operator.")
				return n
			}
			n.sig = sig
			n.exprs = c.decodeBody(ds.Body, sig)
			return n
		})
	}
	declareStage := func(st *lang.Stage) {
		base := p + "stage." + st.Name
		if st.Loop != nil {
			base = "loop." + st.Loop.Name + "." + base
		}
		c.declareRepeated(base, st.Repeat, func(addr string) *tnode {
			n := c.add(&tnode{addr: addr, kind: tStage, name: st.Name, loop: st.Loop, unroll: st.Loop, decl: st.DeclRange, op: st.Operator, stage: st})
			c.declareStage(n, st)
			return n
		})
	}
	for _, st := range s.cfg.Stages {
		declareStage(st)
	}
	for _, m := range s.cfg.Modules {
		if m.Loop == nil {
			c.declareModule(s, m)
		}
	}
	for _, l := range s.cfg.Loops {
		if s.prefix != "" {
			c.errorf(l.DeclRange.Ptr(), "Loop in a module", "A module cannot hold a loop yet: call the module from inside the caller's loop instead, or keep the loop in the spec that uses the module (docs/decisions.md).")
			continue
		}
		p := "loop." + l.Name
		if l.Rounds != nil {
			c.add(&tnode{addr: p + ".rounds", kind: tRounds, name: l.Name, loop: l, decl: l.Rounds.Range(), exprs: []*texpr{{expr: l.Rounds}}})
		}
		if l.State != nil {
			c.add(&tnode{addr: p + ".init", kind: tInit, name: l.Name, loop: l, decl: l.State.Range(), exprs: []*texpr{{expr: l.State}}})
			c.add(&tnode{addr: p + ".state", kind: tState, name: l.Name, loop: l, decl: l.State.Range()})
		}
		for _, st := range l.Stages {
			declareStage(st)
		}
		for _, m := range l.Modules {
			// Every node of the instance repeats with the rounds; those
			// evaluated in the caller's scope (its arguments, the
			// instance, the group) are in the loop's scope too.
			saved := len(c.order)
			c.declareModule(s, m)
			for _, n := range c.order[saved:] {
				n.unroll = l
				if n.mod == s && (n.kind == tVar || n.kind == tModule || n.kind == tGroup) {
					n.loop = l
				}
			}
		}
		if l.Next != nil {
			c.add(&tnode{addr: p + ".next", kind: tNext, name: l.Name, loop: l, decl: l.Next.Range(), exprs: []*texpr{{expr: l.Next}}})
		}
		if l.Until != nil {
			c.add(&tnode{addr: p + ".until", kind: tUntil, name: l.Name, loop: l, decl: l.Until.Range(), exprs: []*texpr{{expr: l.Until}}})
		}
		c.add(&tnode{addr: p, kind: tLoop, name: l.Name, loop: l, decl: l.DeclRange})
	}
	for _, o := range s.cfg.Outputs {
		n := c.add(&tnode{addr: s.prefix + "output." + o.Name, kind: tOutput, name: o.Name, decl: o.DeclRange})
		if o.Value != nil {
			n.exprs = []*texpr{{expr: o.Value}}
		}
	}
}

// declareModel finds a model's provider and decodes its body.
func (c *compiler) declareModel(n *tnode, m *lang.Model) {
	if m.Provider == nil {
		return
	}
	pv, d := m.Provider.Value(c.varContext())
	if d.HasErrors() {
		c.errorf(m.Provider.Range().Ptr(), "Invalid provider", "The provider must be known before the run: a string literal, or an expression of variables only.")
		return
	}
	if pv.Type() != cty.String || !pv.IsKnown() || pv.IsNull() {
		c.errorf(m.Provider.Range().Ptr(), "Invalid provider", "The provider must be a string, such as \"builtin\" or \"openai\".")
		return
	}
	name := pv.AsString()
	sig, ok := c.opts.Registry.Provider(name)
	if !ok {
		detail := fmt.Sprintf("There is no model provider named %q. Providers: %s.", name, strings.Join(c.opts.Registry.ProviderNames(), ", "))
		if s := suggest(name, c.opts.Registry.ProviderNames()); s != "" {
			detail += fmt.Sprintf(" Did you mean %q?", s)
		}
		c.errorf(m.Provider.Range().Ptr(), "Unknown model provider", "%s", detail)
		return
	}
	n.sig, n.op = sig, name
	n.exprs = c.decodeBody(m.Body, sig)
}

// declareStage finds a stage's operator and decodes its body.
func (c *compiler) declareStage(n *tnode, s *lang.Stage) {
	sig, ok := c.opts.Registry.Operator(s.Operator)
	if !ok || s.Operator == "dataset" {
		names := c.opts.Registry.OperatorNames()
		detail := fmt.Sprintf("There is no operator named %q.", s.Operator)
		if s.Operator == "dataset" {
			detail = "Datasets are declared with a `dataset \"name\" { … }` block, not as a stage."
		} else if sg := suggest(s.Operator, names); sg != "" {
			detail += fmt.Sprintf(" Did you mean %q?", sg)
		} else {
			detail += " Operators: " + strings.Join(names, ", ") + "."
		}
		c.errorf(s.OperatorRange.Ptr(), "Unknown operator", "%s", detail)
		return
	}
	n.sig = sig
	var rest hcl.Body
	n.exprs, rest = c.decodeStageBody(s.Body, sig)
	n.queue = c.decodeResources(rest)
}

// bodySchema is the HCL schema of an operator's arguments.
func bodySchema(sig *Signature) *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, p := range sig.Params {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: p.Name, Required: p.Required})
	}
	for _, name := range slices.Sorted(maps.Keys(sig.Removed)) {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: name})
	}
	return s
}

// removedArgs reports each argument the signature names as removed.
func (c *compiler) removedArgs(content *hcl.BodyContent, sig *Signature) {
	for _, name := range slices.Sorted(maps.Keys(sig.Removed)) {
		if a, ok := content.Attributes[name]; ok {
			c.errorf(a.NameRange.Ptr(), "Unsupported argument", "%s", sig.Removed[name])
		}
	}
}

// resourcesSchema is the schema of a stage's `resources` block: where a
// distributed run runs the stage. It is no operator argument and never part
// of the stage's cache key: it does not change the result.
var resourcesSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "queue"}},
}

// decodeStageBody is decodeBody for a stage, which may also hold one
// `resources` block; rest holds what is left of the body (that block).
func (c *compiler) decodeStageBody(body hcl.Body, sig *Signature) ([]*texpr, hcl.Body) {
	schema := bodySchema(sig)
	schema.Blocks = append(schema.Blocks, hcl.BlockHeaderSchema{Type: "resources"})
	content, d := body.Content(schema)
	c.diags = append(c.diags, d...)
	c.removedArgs(content, sig)
	var blocks hcl.Blocks
	for _, b := range content.Blocks {
		if b.Type != "resources" {
			continue
		}
		if len(blocks) > 0 {
			c.errorf(b.DefRange.Ptr(), "Duplicate resources block", "A stage has at most one `resources` block; the first is at %s.", blocks[0].DefRange)
			continue
		}
		blocks = append(blocks, b)
	}
	var out []*texpr
	for _, p := range sig.Params {
		if a, ok := content.Attributes[p.Name]; ok {
			out = append(out, &texpr{name: p.Name, param: p, expr: a.Expr})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return lang.RangeLess(out[i].expr.Range(), out[j].expr.Range())
	})
	if len(blocks) == 0 {
		return out, nil
	}
	return out, blocks[0].Body
}

// decodeResources reads a `resources` block: `queue` is a string known
// before anything runs (a literal, or made of variables).
func (c *compiler) decodeResources(body hcl.Body) string {
	if body == nil {
		return ""
	}
	content, d := body.Content(resourcesSchema)
	c.diags = append(c.diags, d...)
	a, ok := content.Attributes["queue"]
	if !ok {
		return ""
	}
	v, d := a.Expr.Value(&hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(c.cur.static)}})
	if d.HasErrors() {
		c.errorf(a.Expr.Range().Ptr(), "Invalid queue", "`queue` must be known before anything runs: a string made of constants and variables (%s).", d.Errs()[0])
		return ""
	}
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.String || v.AsString() == "" {
		c.errorf(a.Expr.Range().Ptr(), "Invalid queue", "`queue` must be a non-empty string, the name of the task queue that `ouro worker --queue NAME` serves.")
		return ""
	}
	q := v.AsString()
	for _, r := range q {
		if !(r == '-' || r == '_' || r == '.' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			c.errorf(a.Expr.Range().Ptr(), "Invalid queue", "Queue name %q may hold only letters, digits, '-', '_' and '.'.", q)
			return ""
		}
	}
	return q
}

// decodeBody decodes an operator body by the signature's schema, so unknown
// arguments get "Did you mean" and missing required ones are reported.
func (c *compiler) decodeBody(body hcl.Body, sig *Signature) []*texpr {
	content, d := body.Content(bodySchema(sig))
	c.diags = append(c.diags, d...)
	c.removedArgs(content, sig)
	var out []*texpr
	for _, p := range sig.Params {
		if a, ok := content.Attributes[p.Name]; ok {
			out = append(out, &texpr{name: p.Name, param: p, expr: a.Expr})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return lang.RangeLess(out[i].expr.Range(), out[j].expr.Range())
	})
	return out
}

// typeDescription names a type constraint as a sentence wants it: "a
// number", "a list(string)".
func typeDescription(t cty.Type) string {
	switch t {
	case cty.Number:
		return "a number"
	case cty.Bool:
		return "a bool (true or false)"
	case cty.String:
		return "a string"
	case cty.DynamicPseudoType:
		return "any value"
	}
	s := typeexpr.TypeString(t)
	if strings.HasPrefix(s, "object") {
		return "an " + s
	}
	return "a " + s
}

// firstDetail is the first error's detail (or summary) of diags, without
// its closing full stop.
func firstDetail(d hcl.Diagnostics) string {
	for _, e := range d {
		if e.Severity == hcl.DiagError {
			msg := e.Detail
			if msg == "" {
				msg = e.Summary
			}
			return strings.TrimSuffix(msg, ".")
		}
	}
	return ""
}

// hclExample shows how a value of a collection or structural type is
// written on the command line.
func hclExample(t cty.Type) string {
	switch {
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		return ` such as ["a", "b"]`
	case t.IsMapType() || t.IsObjectType():
		return ` such as { key = "value" }`
	}
	return ""
}

// sameAsDefault reports whether val, a value given for v, equals v's
// default.
func sameAsDefault(v *lang.Variable, val cty.Value) bool {
	if v.Default == cty.NilVal {
		return false
	}
	def := v.Default
	if v.Defaults != nil {
		def = v.Defaults.Apply(def)
	}
	def, err := convert.Convert(def, v.Type)
	return err == nil && val.RawEquals(def)
}
