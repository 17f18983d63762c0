package lineexpr

import (
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"golang.org/x/text/unicode/norm"

	"github.com/ouroloop/ouro/runtime/dataset"
)

// Kind is the kind of a Value.
type Kind uint8

const (
	// Invalid means "declined": the caller must evaluate on the general
	// path.
	Invalid Kind = iota
	Null
	Bool
	Number
	String
	// failedBool is an operation HCL would report as an error whose result
	// type is bool. Only `&&` and `||` can absorb it (HCL short-circuits
	// `false && <error>`); anywhere else it declines.
	failedBool
)

// Value is a primitive value during evaluation.
type Value struct {
	Kind Kind
	B    bool
	// F is a number's value rounded to float64 (monotone: F(x) < F(y)
	// implies x < y).
	F float64
	// Text is a number's canonical text or a string's UTF-8 bytes (NFC,
	// as every cty string). It may alias the line or the evaluator's
	// scratch: valid until the next Reset.
	Text []byte
	// canon: the number is exactly the 512-bit parse of Text, as every
	// number read from a line is; then equal texts mean equal numbers.
	canon bool
	// cv is the cty value when the Value came from one (a constant or a
	// function result); otherwise it is built from Text when needed.
	cv cty.Value
}

var declined = Value{}

// node is a compiled expression.
type node interface {
	eval(ev *Evaluator) Value
}

// Compiler compiles the per-item expressions of one operator. Expressions
// compiled by the same Compiler share one scan of each line.
type Compiler struct {
	scope  *hcl.EvalContext
	fields []string // top-level fields read, by slot
	slots  map[string]int
}

// NewCompiler returns a compiler whose non-item references are evaluated
// in scope (they are known before the stage runs).
func NewCompiler(scope *hcl.EvalContext) *Compiler {
	return &Compiler{scope: scope, slots: map[string]int{}}
}

// Program is one compiled expression.
type Program struct{ root node }

// Compile compiles e, or reports ok = false when e uses anything outside
// the subset (then always use the general path for it).
func (c *Compiler) Compile(e hcl.Expression) (p *Program, ok bool) {
	defer func() {
		if recover() != nil { // never let the fast path crash a stage
			p, ok = nil, false
		}
	}()
	se, isSyntax := e.(hclsyntax.Expression)
	if !isSyntax {
		return nil, false
	}
	n, ok := c.compile(se)
	if !ok {
		return nil, false
	}
	return &Program{root: n}, true
}

// CompileObject compiles an object constructor `{ a = …, b = … }` into one
// program per key. ok is false when e is not such a constructor with
// literal, distinct keys, or when a value does not compile.
func (c *Compiler) CompileObject(e hcl.Expression) (keys []string, progs []*Program, ok bool) {
	oe, isObj := e.(*hclsyntax.ObjectConsExpr)
	if !isObj {
		return nil, nil, false
	}
	seen := map[string]bool{}
	for _, item := range oe.Items {
		kv, isKey := item.KeyExpr.(*hclsyntax.ObjectConsKeyExpr)
		if !isKey || kv.ForceNonLiteral {
			return nil, nil, false
		}
		name := hcl.ExprAsKeyword(kv.Wrapped)
		if name == "" {
			v, diags := kv.Wrapped.Value(nil)
			if diags.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
				return nil, nil, false
			}
			name = v.AsString()
		}
		if seen[name] {
			return nil, nil, false
		}
		seen[name] = true
		p, ok := c.Compile(item.ValueExpr)
		if !ok {
			return nil, nil, false
		}
		keys = append(keys, name)
		progs = append(progs, p)
	}
	return keys, progs, true
}

func (c *Compiler) slot(name string) int {
	if i, ok := c.slots[name]; ok {
		return i
	}
	c.slots[name] = len(c.fields)
	c.fields = append(c.fields, name)
	return len(c.fields) - 1
}

func (c *Compiler) compile(e hclsyntax.Expression) (node, bool) {
	switch e := e.(type) {
	case *hclsyntax.LiteralValueExpr:
		return c.constant(e.Val)
	case *hclsyntax.ParenthesesExpr:
		return c.compile(e.Expression)
	case *hclsyntax.ScopeTraversalExpr:
		return c.traversal(e)
	case *hclsyntax.TemplateWrapExpr:
		return c.compile(e.Wrapped)
	case *hclsyntax.TemplateExpr:
		if e.IsStringLiteral() {
			v, diags := e.Value(nil)
			if diags.HasErrors() {
				return nil, false
			}
			return c.constant(v)
		}
		parts := make([]node, len(e.Parts))
		for i, p := range e.Parts {
			n, ok := c.compile(p)
			if !ok {
				return nil, false
			}
			parts[i] = n
		}
		return templateNode{parts}, true
	case *hclsyntax.UnaryOpExpr:
		v, ok := c.compile(e.Val)
		if !ok {
			return nil, false
		}
		switch e.Op {
		case hclsyntax.OpLogicalNot:
			return notNode{v}, true
		case hclsyntax.OpNegate:
			return negNode{v}, true
		}
		return nil, false
	case *hclsyntax.BinaryOpExpr:
		l, ok := c.compile(e.LHS)
		if !ok {
			return nil, false
		}
		r, ok := c.compile(e.RHS)
		if !ok {
			return nil, false
		}
		switch e.Op {
		case hclsyntax.OpEqual:
			return eqNode{l: l, r: r}, true
		case hclsyntax.OpNotEqual:
			return eqNode{l: l, r: r, not: true}, true
		case hclsyntax.OpGreaterThan, hclsyntax.OpGreaterThanOrEqual, hclsyntax.OpLessThan, hclsyntax.OpLessThanOrEqual:
			return cmpNode{op: e.Op, l: l, r: r}, true
		case hclsyntax.OpLogicalAnd:
			return logicNode{and: true, l: l, r: r}, true
		case hclsyntax.OpLogicalOr:
			return logicNode{l: l, r: r}, true
		case hclsyntax.OpAdd, hclsyntax.OpSubtract, hclsyntax.OpMultiply:
			return arithNode{op: e.Op, l: l, r: r}, true
		}
		return nil, false
	case *hclsyntax.ConditionalExpr:
		cond, ok := c.compile(e.Condition)
		if !ok {
			return nil, false
		}
		t, ok := c.compile(e.TrueResult)
		if !ok {
			return nil, false
		}
		f, ok := c.compile(e.FalseResult)
		if !ok {
			return nil, false
		}
		return condNode{cond, t, f}, true
	case *hclsyntax.FunctionCallExpr:
		return c.call(e)
	}
	return nil, false
}

// constant turns a known primitive value into a constant node.
func (c *Compiler) constant(v cty.Value) (node, bool) {
	if v.IsMarked() || !v.IsKnown() {
		return nil, false
	}
	val, ok := fromCty(v)
	if !ok {
		return nil, false
	}
	return constNode{val}, true
}

func (c *Compiler) traversal(e *hclsyntax.ScopeTraversalExpr) (node, bool) {
	if e.Traversal.RootName() != "item" {
		v, diags := e.Value(c.scope)
		if diags.HasErrors() {
			return nil, false
		}
		return c.constant(v)
	}
	var path []string
	for _, step := range e.Traversal[1:] {
		switch s := step.(type) {
		case hcl.TraverseAttr:
			path = append(path, s.Name)
		case hcl.TraverseIndex:
			if s.Key.IsNull() || !s.Key.IsKnown() || s.Key.Type() != cty.String {
				return nil, false
			}
			path = append(path, s.Key.AsString())
		default:
			return nil, false
		}
	}
	if len(path) == 0 {
		return nil, false // the whole record
	}
	return fieldNode{slot: c.slot(path[0]), path: path[1:]}, true
}

func (c *Compiler) call(e *hclsyntax.FunctionCallExpr) (node, bool) {
	if e.ExpandFinal {
		return nil, false
	}
	fn, ok := lookupFunction(c.scope, e.Name)
	if !ok {
		return nil, false
	}
	args := make([]node, len(e.Args))
	for i, a := range e.Args {
		n, ok := c.compile(a)
		if !ok {
			return nil, false
		}
		args[i] = n
	}
	params := fn.Params()
	vp := fn.VarParam()
	if len(args) < len(params) || (vp == nil && len(args) > len(params)) {
		return nil, false
	}
	kinds := make([]Kind, len(args)) // Invalid: any primitive kind
	for i := range args {
		var p *function.Parameter
		if i < len(params) {
			p = &params[i]
		} else {
			p = vp
		}
		switch p.Type {
		case cty.String:
			kinds[i] = String
		case cty.Number:
			kinds[i] = Number
		case cty.Bool:
			kinds[i] = Bool
		case cty.DynamicPseudoType:
		default:
			return nil, false
		}
	}
	n := callNode{name: e.Name, fn: fn, args: args, kinds: kinds}
	switch e.Name {
	case "upper", "lower":
		if len(args) == 1 {
			n.ascii = e.Name
		}
	}
	return n, true
}

func lookupFunction(ctx *hcl.EvalContext, name string) (function.Function, bool) {
	for ; ctx != nil; ctx = ctx.Parent() {
		if f, ok := ctx.Functions[name]; ok {
			return f, true
		}
	}
	return function.Function{}, false
}

// fromCty converts a known, unmarked primitive (or null) value.
func fromCty(v cty.Value) (Value, bool) {
	if v.IsNull() {
		return Value{Kind: Null}, true
	}
	switch v.Type() {
	case cty.Bool:
		return Value{Kind: Bool, B: v.True()}, true
	case cty.String:
		return Value{Kind: String, Text: []byte(v.AsString()), cv: v}, true
	case cty.Number:
		text, err := dataset.AppendCanonical(nil, v)
		if err != nil {
			return declined, false
		}
		f, err := strconv.ParseFloat(string(text), 64)
		if err != nil || math.IsInf(f, 0) {
			return declined, false
		}
		canon := false
		if back, err := dataset.ParseNumber(string(text)); err == nil {
			a, b := back.AsBigFloat(), v.AsBigFloat()
			canon = a.Prec() == b.Prec() && a.Cmp(b) == 0
		}
		return Value{Kind: Number, F: f, Text: text, canon: canon, cv: v}, true
	}
	return declined, false
}

// Evaluator evaluates a Compiler's programs on lines, one line at a time.
// It is not safe for concurrent use: make one per worker.
type Evaluator struct {
	c       *Compiler
	line    []byte
	scanned bool
	bad     bool
	raw     [][]byte // per slot: the field's JSON text, nil when absent
	chunk   []byte   // scratch for strings made while evaluating this line
	scratch []byte   // for unescaping
}

// NewEvaluator returns an evaluator for the programs compiled so far.
func (c *Compiler) NewEvaluator() *Evaluator {
	return &Evaluator{c: c, raw: make([][]byte, len(c.fields))}
}

// Reset starts evaluating on a new canonical line.
func (ev *Evaluator) Reset(line []byte) {
	ev.line = line
	ev.scanned = false
	ev.bad = false
	if cap(ev.chunk)-len(ev.chunk) < 256 {
		ev.chunk = make([]byte, 0, 4096)
	} else {
		ev.chunk = ev.chunk[len(ev.chunk):] // strings of the last line may still be referenced by the caller
	}
}

// Eval evaluates p on the current line. ok is false when it declines.
func (ev *Evaluator) Eval(p *Program) (v Value, ok bool) {
	defer func() {
		if recover() != nil {
			v, ok = declined, false
		}
	}()
	v = p.root.eval(ev)
	switch v.Kind {
	case Null, Bool, Number, String:
		return v, true
	}
	return declined, false
}

// Truth evaluates p as a filter condition: true keeps the record. ok is false when it declines (including a value that is not a
// bool, which the general path converts or reports).
func (ev *Evaluator) Truth(p *Program) (keep, ok bool) {
	v, ok := ev.Eval(p)
	switch {
	case !ok:
		return false, false
	case v.Kind == Bool:
		return v.B, true
	}
	// A null is false only when it is a null bool; a null of another type
	// is an error on the general path. Nulls carry no type here: decline.
	return false, false
}

// AppendCanonical evaluates p and appends the canonical encoding of its
// value as a field of type want (a primitive type): exactly the bytes the
// dataset writer would write for HCL's value. ok is false when it
// declines, including when the value is not of type want.
func (ev *Evaluator) AppendCanonical(dst []byte, p *Program, want cty.Type) ([]byte, bool) {
	v, ok := ev.Eval(p)
	if !ok {
		return dst, false
	}
	switch {
	case v.Kind == Null:
		return append(dst, "null"...), true
	case v.Kind == Bool && want == cty.Bool:
		if v.B {
			return append(dst, "true"...), true
		}
		return append(dst, "false"...), true
	case v.Kind == Number && want == cty.Number:
		return append(dst, v.Text...), true
	case v.Kind == String && want == cty.String:
		return dataset.AppendString(dst, unsafe.String(unsafe.SliceData(v.Text), len(v.Text))), true
	}
	return dst, false
}

// scan finds the fields the programs read in the current line.
func (ev *Evaluator) scan() {
	ev.scanned = true
	for i := range ev.raw {
		ev.raw[i] = nil
	}
	b := ev.line
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		ev.bad = true
		return
	}
	want := len(ev.c.fields)
	found := 0
	i := 1
	if b[i] == '}' {
		return
	}
	for found < want {
		if b[i] != '"' {
			ev.bad = true
			return
		}
		j := i + 1
		for j < len(b) && b[j] != '"' && b[j] != '\\' {
			j++
		}
		if j >= len(b) || b[j] != '"' {
			ev.bad = true // an escaped key: not worth the trouble
			return
		}
		key := b[i+1 : j]
		if j+1 >= len(b) || b[j+1] != ':' {
			ev.bad = true
			return
		}
		start := j + 2
		end, ok := skipValue(b, start)
		if !ok {
			ev.bad = true
			return
		}
		if s, hit := ev.c.slots[unsafe.String(unsafe.SliceData(key), len(key))]; hit && ev.raw[s] == nil {
			ev.raw[s] = b[start:end]
			found++
		}
		if end >= len(b) {
			ev.bad = true
			return
		}
		switch b[end] {
		case ',':
			i = end + 1
		case '}':
			if end != len(b)-1 {
				ev.bad = true
			}
			return
		default:
			ev.bad = true
			return
		}
	}
}

// skipValue returns the end of the compact JSON value starting at b[i].
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1, true
			}
		}
		return len(b), false
	case c == '{' || c == '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			case '"':
				end, ok := skipValue(b, j)
				if !ok {
					return end, false
				}
				j = end - 1
			}
		}
		return len(b), false
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
			j++
		}
		return j, j > i
	}
}

// field returns the JSON text of a record field (and nested object
// fields along path).
func (ev *Evaluator) field(slot int, path []string) ([]byte, bool) {
	if !ev.scanned {
		ev.scan()
	}
	if ev.bad {
		return nil, false
	}
	raw := ev.raw[slot]
	if raw == nil {
		return nil, false
	}
	for _, name := range path {
		if len(raw) == 0 || raw[0] != '{' {
			return nil, false
		}
		sub, ok := dataset.FieldBytes(raw, name)
		if !ok {
			return nil, false
		}
		raw = sub
	}
	return raw, true
}

// valueOf decodes a field's JSON text into a primitive Value.
func (ev *Evaluator) valueOf(raw []byte) Value {
	switch c := raw[0]; {
	case c == 'n':
		if string(raw) == "null" {
			return Value{Kind: Null}
		}
	case c == 't':
		if string(raw) == "true" {
			return Value{Kind: Bool, B: true}
		}
	case c == 'f':
		if string(raw) == "false" {
			return Value{Kind: Bool}
		}
	case c == '"':
		s, scratch, ok := dataset.UnquoteString(raw, ev.scratch)
		ev.scratch = scratch
		if !ok {
			return declined
		}
		if len(scratch) > 0 && len(s) > 0 && &s[0] == &scratch[0] {
			s = ev.keep(s) // the scratch is reused by the next string
		}
		return Value{Kind: String, Text: s}
	case c == '-' || (c >= '0' && c <= '9'):
		if len(raw) > 40 {
			return declined
		}
		f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(raw), len(raw)), 64)
		if err != nil {
			return declined
		}
		return Value{Kind: Number, F: f, Text: raw, canon: true}
	}
	return declined
}

// keep copies b into the line's scratch.
func (ev *Evaluator) keep(b []byte) []byte {
	out := ev.alloc(len(b))
	return append(out, b...)
}

// alloc returns an empty slice with capacity n that stays valid until the
// next Reset (chunks are never grown in place).
func (ev *Evaluator) alloc(n int) []byte {
	if cap(ev.chunk)-len(ev.chunk) < n {
		size := 4096
		if n > size {
			size = n
		}
		ev.chunk = make([]byte, 0, size)
	}
	l := len(ev.chunk)
	ev.chunk = ev.chunk[:l+n]
	return ev.chunk[l : l : l+n]
}

// toCty converts a primitive Value for a function call.
func toCty(v Value) (cty.Value, bool) {
	if v.cv != cty.NilVal {
		return v.cv, true
	}
	switch v.Kind {
	case Bool:
		return cty.BoolVal(v.B), true
	case String:
		return cty.StringVal(string(v.Text)), true
	case Number:
		n, err := dataset.ParseNumber(string(v.Text))
		return n, err == nil
	}
	return cty.NilVal, false
}

// ---- nodes

type constNode struct{ v Value }

func (n constNode) eval(*Evaluator) Value { return n.v }

type fieldNode struct {
	slot int
	path []string
}

func (n fieldNode) eval(ev *Evaluator) Value {
	raw, ok := ev.field(n.slot, n.path)
	if !ok || len(raw) == 0 {
		return declined
	}
	return ev.valueOf(raw)
}

type notNode struct{ v node }

func (n notNode) eval(ev *Evaluator) Value {
	v := n.v.eval(ev)
	switch v.Kind {
	case Bool:
		return Value{Kind: Bool, B: !v.B}
	case Null, failedBool:
		return Value{Kind: failedBool}
	}
	return declined
}

type negNode struct{ v node }

func (n negNode) eval(ev *Evaluator) Value {
	v := n.v.eval(ev)
	if v.Kind != Number || v.cv != cty.NilVal {
		return declined
	}
	switch {
	case string(v.Text) == "0":
		return v
	case v.Text[0] == '-':
		return Value{Kind: Number, F: -v.F, Text: v.Text[1:], canon: v.canon}
	}
	t := ev.alloc(len(v.Text) + 1)
	t = append(append(t, '-'), v.Text...)
	return Value{Kind: Number, F: -v.F, Text: t, canon: v.canon}
}

type eqNode struct {
	l, r node
	not  bool
}

func (n eqNode) eval(ev *Evaluator) Value {
	l, r := n.l.eval(ev), n.r.eval(ev)
	var eq bool
	switch {
	case l.Kind == Invalid || r.Kind == Invalid || l.Kind == failedBool || r.Kind == failedBool:
		return declined
	case l.Kind == Null || r.Kind == Null:
		eq = l.Kind == r.Kind
	case l.Kind != r.Kind:
		return declined
	case l.Kind == Bool:
		eq = l.B == r.B
	case l.Kind == String:
		eq = string(l.Text) == string(r.Text)
	default: // Number
		switch {
		case l.F != r.F:
			eq = false
		case l.canon && r.canon && string(l.Text) == string(r.Text):
			eq = true
		default:
			return declined
		}
	}
	return Value{Kind: Bool, B: eq != n.not}
}

type cmpNode struct {
	op   *hclsyntax.Operation
	l, r node
}

func (n cmpNode) eval(ev *Evaluator) Value {
	l, r := n.l.eval(ev), n.r.eval(ev)
	if l.Kind == Null || r.Kind == Null {
		if (l.Kind == Null || l.Kind == Number) && (r.Kind == Null || r.Kind == Number) {
			return Value{Kind: failedBool}
		}
		return declined
	}
	if l.Kind != Number || r.Kind != Number {
		return declined
	}
	var c int
	switch {
	case l.F < r.F:
		c = -1
	case l.F > r.F:
		c = 1
	case l.canon && r.canon && string(l.Text) == string(r.Text):
		c = 0
	default:
		return declined // too close to call in float64
	}
	var b bool
	switch n.op {
	case hclsyntax.OpGreaterThan:
		b = c > 0
	case hclsyntax.OpGreaterThanOrEqual:
		b = c >= 0
	case hclsyntax.OpLessThan:
		b = c < 0
	case hclsyntax.OpLessThanOrEqual:
		b = c <= 0
	default:
		return declined
	}
	return Value{Kind: Bool, B: b}
}

type logicNode struct {
	and  bool
	l, r node
}

func (n logicNode) eval(ev *Evaluator) Value {
	l, r := n.l.eval(ev), n.r.eval(ev)
	okKind := func(k Kind) bool { return k == Bool || k == failedBool }
	if !okKind(l.Kind) || !okKind(r.Kind) {
		return declined
	}
	// HCL: a known operand equal to the absorbing value decides, even when
	// the other side failed.
	absorbing := !n.and
	if l.Kind == Bool && l.B == absorbing {
		return Value{Kind: Bool, B: absorbing}
	}
	if r.Kind == Bool && r.B == absorbing {
		return Value{Kind: Bool, B: absorbing}
	}
	if l.Kind == failedBool || r.Kind == failedBool {
		return Value{Kind: failedBool}
	}
	return Value{Kind: Bool, B: !absorbing}
}

type arithNode struct {
	op   *hclsyntax.Operation
	l, r node
}

const maxExact = 1 << 53

func (n arithNode) eval(ev *Evaluator) Value {
	l, r := n.l.eval(ev), n.r.eval(ev)
	if l.Kind != Number || r.Kind != Number || !integral(l) || !integral(r) {
		return declined
	}
	a, ok1 := exactInt(l)
	b, ok2 := exactInt(r)
	if !ok1 || !ok2 {
		return declined
	}
	var z int64
	switch n.op {
	case hclsyntax.OpAdd:
		z = a + b
	case hclsyntax.OpSubtract:
		z = a - b
	case hclsyntax.OpMultiply:
		if a != 0 && (b > maxExact/abs(a) || b < -maxExact/abs(a)) {
			return declined
		}
		z = a * b
	default:
		return declined
	}
	if z >= maxExact || z <= -maxExact {
		return declined
	}
	t := strconv.AppendInt(ev.alloc(20), z, 10)
	return Value{Kind: Number, F: float64(z), Text: t, canon: true}
}

func abs(a int64) int64 {
	if a < 0 {
		return -a
	}
	return a
}

// integral reports whether v's text is exactly its value (an integer text
// then means an integer value).
func integral(v Value) bool {
	return v.canon || (v.cv != cty.NilVal && v.cv.AsBigFloat().IsInt())
}

// exactInt reads a canonical integer text below 2^53 in magnitude.
func exactInt(v Value) (int64, bool) {
	t := v.Text
	if len(t) == 0 || len(t) > 17 {
		return 0, false
	}
	i, neg := 0, false
	if t[0] == '-' {
		neg, i = true, 1
	}
	if i == len(t) {
		return 0, false
	}
	var z int64
	for ; i < len(t); i++ {
		c := t[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		z = z*10 + int64(c-'0')
	}
	if z >= maxExact {
		return 0, false
	}
	if neg {
		z = -z
	}
	return z, true
}

type condNode struct{ c, t, f node }

func (n condNode) eval(ev *Evaluator) Value {
	c := n.c.eval(ev)
	t, f := n.t.eval(ev), n.f.eval(ev)
	if c.Kind != Bool || t.Kind == Invalid || f.Kind == Invalid {
		return declined
	}
	// HCL unifies the two branches' types: only the same kind, or null
	// beside anything, is unified without a conversion.
	kt, kf := t.Kind, f.Kind
	if kt == failedBool {
		kt = Bool
	}
	if kf == failedBool {
		kf = Bool
	}
	if kt != kf && kt != Null && kf != Null {
		return declined
	}
	if c.B {
		return t
	}
	return f
}

type templateNode struct{ parts []node }

func (n templateNode) eval(ev *Evaluator) Value {
	size := 0
	vals := make([]Value, len(n.parts))
	for i, p := range n.parts {
		v := p.eval(ev)
		switch v.Kind {
		case String:
		case Number:
			if !v.canon || hasByte(v.Text, 'e') {
				return declined // cty formats numbers in templates its own way
			}
		case Bool:
			if v.B {
				v.Text = []byte("true")
			} else {
				v.Text = []byte("false")
			}
		default:
			return declined
		}
		vals[i] = v
		size += len(v.Text)
	}
	out := ev.alloc(size)
	ascii := true
	for _, v := range vals {
		out = append(out, v.Text...)
		if ascii && !isASCII(v.Text) {
			ascii = false
		}
	}
	if !ascii && !norm.NFC.IsNormal(out) {
		out = norm.NFC.Bytes(out)
	}
	return Value{Kind: String, Text: out}
}

type callNode struct {
	name  string
	fn    function.Function
	args  []node
	kinds []Kind
	ascii string // "upper" or "lower": computed natively on ASCII strings
}

func (n callNode) eval(ev *Evaluator) Value {
	if n.ascii != "" {
		v := n.args[0].eval(ev)
		if v.Kind == String && isASCII(v.Text) {
			out := ev.alloc(len(v.Text))
			for _, c := range v.Text {
				if n.ascii == "upper" && c >= 'a' && c <= 'z' {
					c -= 'a' - 'A'
				} else if n.ascii == "lower" && c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				out = append(out, c)
			}
			return Value{Kind: String, Text: out}
		}
	}
	args := make([]cty.Value, len(n.args))
	for i, a := range n.args {
		v := a.eval(ev)
		if v.Kind == Invalid || v.Kind == Null || v.Kind == failedBool {
			return declined
		}
		if n.kinds[i] != Invalid && n.kinds[i] != v.Kind {
			return declined // HCL would convert it first
		}
		cv, ok := toCty(v)
		if !ok {
			return declined
		}
		args[i] = cv
	}
	res, err := n.fn.Call(args)
	if err != nil || res.IsMarked() || !res.IsKnown() {
		return declined
	}
	v, ok := fromCty(res)
	if !ok {
		return declined
	}
	return v
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func hasByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}
