package lang

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "model", LabelNames: []string{"name"}},
		{Type: "dataset", LabelNames: []string{"name"}},
		{Type: "stage", LabelNames: []string{"operator", "name"}},
		{Type: "loop", LabelNames: []string{"name"}},
		{Type: "output", LabelNames: []string{"name"}},
		{Type: "module", LabelNames: []string{"name"}},
		{Type: "settings"},
		{Type: "moved"},
	},
}

// declared tracks names per namespace so duplicates are reported once, with
// a pointer at the first declaration.
type declared map[string]hcl.Range

func (d declared) add(kind, name string, rng hcl.Range) *hcl.Diagnostic {
	if prev, ok := d[name]; ok {
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Duplicate %s %q", kind, name),
			Detail:   fmt.Sprintf("A %s named %q was already declared at %s. Names must be unique within a spec.", kind, name, prev.String()),
			Subject:  rng.Ptr(),
		}
	}
	d[name] = rng
	return nil
}

func decodeFiles(files []*hcl.File) (*Config, hcl.Diagnostics) {
	cfg := &Config{}
	var diags hcl.Diagnostics
	names := map[string]declared{}
	seen := func(kind string) declared {
		if names[kind] == nil {
			names[kind] = declared{}
		}
		return names[kind]
	}
	addName := func(kind, name string, rng hcl.Range) {
		if !hclIdent(name) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Invalid %s name", kind),
				Detail:   fmt.Sprintf("%q is not a valid name: a name starts with a letter or underscore and contains only letters, digits, underscores and dashes.", name),
				Subject:  rng.Ptr(),
			})
			return
		}
		if d := seen(kind).add(kind, name, rng); d != nil {
			diags = append(diags, d)
		}
	}

	for _, f := range files {
		content, cd := f.Body.Content(fileSchema)
		diags = append(diags, cd...)
		for _, b := range content.Blocks {
			switch b.Type {
			case "variable":
				v, d := decodeVariable(b)
				diags = append(diags, d...)
				addName("variable", v.Name, b.LabelRanges[0])
				cfg.Variables = append(cfg.Variables, v)
			case "locals":
				attrs, d := b.Body.JustAttributes()
				diags = append(diags, d...)
				for _, a := range sortedAttrs(attrs) {
					addName("local value", a.Name, a.NameRange)
					cfg.Locals = append(cfg.Locals, &Local{Name: a.Name, Expr: a.Expr, DeclRange: a.Range})
				}
			case "model":
				m, d := decodeModel(b)
				diags = append(diags, d...)
				addName("model", m.Name, m.NameRange)
				cfg.Models = append(cfg.Models, m)
			case "dataset":
				ds := &Dataset{Name: b.Labels[0], DeclRange: b.DefRange, NameRange: b.LabelRanges[0]}
				ds.Repeat, ds.Body = decodeRepeat(b.Body)
				addName("dataset", ds.Name, ds.NameRange)
				cfg.Datasets = append(cfg.Datasets, ds)
			case "stage":
				s := decodeStage(b, nil)
				addName("stage", s.Name, s.NameRange)
				cfg.Stages = append(cfg.Stages, s)
			case "loop":
				l, d := decodeLoop(b)
				diags = append(diags, d...)
				addName("loop", l.Name, l.NameRange)
				for _, s := range l.Stages {
					addName("stage", s.Name, s.NameRange)
				}
				for _, m := range l.Modules {
					addName("module", m.Name, m.NameRange)
					cfg.Modules = append(cfg.Modules, m)
				}
				cfg.Loops = append(cfg.Loops, l)
			case "output":
				o, d := decodeOutput(b)
				diags = append(diags, d...)
				addName("output", o.Name, b.LabelRanges[0])
				cfg.Outputs = append(cfg.Outputs, o)
			case "moved":
				m, d := decodeMoved(b)
				diags = append(diags, d...)
				cfg.Moved = append(cfg.Moved, m)
			case "module":
				m, d := decodeModule(b)
				diags = append(diags, d...)
				addName("module", m.Name, m.NameRange)
				cfg.Modules = append(cfg.Modules, m)
			case "settings":
				if cfg.Settings != nil {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Duplicate settings block",
						Detail:   fmt.Sprintf("A settings block was already declared at %s; a spec has at most one.", cfg.Settings.DeclRange),
						Subject:  b.DefRange.Ptr(),
					})
					continue
				}
				s, d := decodeSettings(b)
				diags = append(diags, d...)
				cfg.Settings = s
			}
		}
	}
	return cfg, diags
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
		{Name: "sensitive"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "condition", Required: true},
		{Name: "error_message", Required: true},
	},
}

func decodeVariable(b *hcl.Block) (*Variable, hcl.Diagnostics) {
	v := &Variable{Name: b.Labels[0], Type: cty.DynamicPseudoType, DeclRange: b.DefRange, TypeRange: b.DefRange}
	content, diags := b.Body.Content(variableSchema)
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, gohcl.DecodeExpression(a.Expr, nil, &v.Description)...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		diags = append(diags, gohcl.DecodeExpression(a.Expr, nil, &v.Sensitive)...)
	}
	if a, ok := content.Attributes["type"]; ok && valueKind(a.Expr) != "" {
		v.Kind, v.TypeRange = valueKind(a.Expr), a.Expr.Range()
		if v.Kind == "dataset" {
			call, _ := hcl.ExprCall(a.Expr)
			if len(call.Arguments) != 1 {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid type", Detail: "dataset(…) takes one argument, the record type: dataset(object({ question = string })).", Subject: a.Expr.Range().Ptr()})
			} else {
				ty, d := typeexpr.TypeConstraint(call.Arguments[0])
				diags = append(diags, d...)
				v.Type = ty
			}
		}
		if d, ok := content.Attributes["default"]; ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid default value for variable", Detail: fmt.Sprintf("A %s variable has no default: it is an input of a module, given by the module block that uses it.", v.Kind), Subject: d.Expr.Range().Ptr()})
			delete(content.Attributes, "default")
		}
	} else if ok {
		ty, defaults, d := typeexpr.TypeConstraintWithDefaults(a.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			v.Type, v.Defaults = ty, defaults
		}
		v.TypeRange = a.Expr.Range()
	}
	if a, ok := content.Attributes["default"]; ok {
		val, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if v.Defaults != nil {
				val = v.Defaults.Apply(val)
			}
			conv, err := convert.Convert(val, v.Type)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid default value for variable",
					Detail:   fmt.Sprintf("This default value is not compatible with the variable's type constraint %s: %s.", typeexpr.TypeString(v.Type), err),
					Subject:  a.Expr.Range().Ptr(),
				})
			} else {
				v.Default = conv
			}
		}
	}
	for _, vb := range content.Blocks {
		vc, d := vb.Body.Content(validationSchema)
		diags = append(diags, d...)
		val := &Validation{DeclRange: vb.DefRange}
		if a, ok := vc.Attributes["condition"]; ok {
			val.Condition = a.Expr
		}
		if a, ok := vc.Attributes["error_message"]; ok {
			val.ErrorMessage = a.Expr
		}
		if val.Condition != nil && val.ErrorMessage != nil {
			v.Validations = append(v.Validations, val)
		}
	}
	return v, diags
}

// valueKind recognises the type expressions of the values that are not
// plain data, `model` and `dataset(…)`, which ext/typeexpr does not know.
func valueKind(expr hcl.Expression) string {
	if hcl.ExprAsKeyword(expr) == "model" {
		return "model"
	}
	if call, d := hcl.ExprCall(expr); !d.HasErrors() && call.Name == "dataset" {
		return "dataset"
	}
	return ""
}

var modelSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "provider", Required: true}, {Name: "count"}, {Name: "for_each"}},
}

func decodeModel(b *hcl.Block) (*Model, hcl.Diagnostics) {
	m := &Model{Name: b.Labels[0], DeclRange: b.DefRange, NameRange: b.LabelRanges[0]}
	content, remain, diags := b.Body.PartialContent(modelSchema)
	if a, ok := content.Attributes["provider"]; ok {
		m.Provider = a.Expr
	}
	m.Repeat = repeatOf(content)
	m.Body = remain
	return m, diags
}

// repeatSchema holds the meta-arguments every repeatable block may have.
var repeatSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "count"}, {Name: "for_each"}},
}

// decodeRepeat takes `count` and `for_each` out of a block's body and
// returns the rest, which the compiler decodes by the block's signature.
// PartialContent only fails on a duplicate attribute or a block named like
// one, which decoding the rest reports again, so its diagnostics are dropped.
func decodeRepeat(body hcl.Body) (Repeat, hcl.Body) {
	content, remain, _ := body.PartialContent(repeatSchema)
	return repeatOf(content), remain
}

func repeatOf(content *hcl.BodyContent) Repeat {
	var r Repeat
	if a, ok := content.Attributes["count"]; ok {
		r.Count = a.Expr
	}
	if a, ok := content.Attributes["for_each"]; ok {
		r.ForEach = a.Expr
	}
	return r
}

func decodeStage(b *hcl.Block, loop *Loop) *Stage {
	s := &Stage{
		Operator:      b.Labels[0],
		Name:          b.Labels[1],
		Loop:          loop,
		DeclRange:     b.DefRange,
		OperatorRange: b.LabelRanges[0],
		NameRange:     b.LabelRanges[1],
	}
	s.Repeat, s.Body = decodeRepeat(b.Body)
	return s
}

var loopSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "rounds", Required: true},
		{Name: "state"},
		{Name: "next"},
		{Name: "until"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "stage", LabelNames: []string{"operator", "name"}},
		{Type: "module", LabelNames: []string{"name"}},
	},
}

func decodeLoop(b *hcl.Block) (*Loop, hcl.Diagnostics) {
	l := &Loop{Name: b.Labels[0], DeclRange: b.DefRange, NameRange: b.LabelRanges[0]}
	content, diags := b.Body.Content(loopSchema)
	if a, ok := content.Attributes["rounds"]; ok {
		l.Rounds = a.Expr
	}
	if a, ok := content.Attributes["state"]; ok {
		l.State = a.Expr
	}
	if a, ok := content.Attributes["next"]; ok {
		l.Next = a.Expr
	}
	if a, ok := content.Attributes["until"]; ok {
		l.Until = a.Expr
	}
	if l.Next != nil && l.State == nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing loop state",
			Detail:   "A loop with `next` must declare its round-0 `state`.",
			Subject:  content.Attributes["next"].NameRange.Ptr(),
		})
	}
	for _, sb := range content.Blocks {
		if sb.Type == "module" {
			m, d := decodeModule(sb)
			diags = append(diags, d...)
			m.Loop = l
			l.Modules = append(l.Modules, m)
			continue
		}
		l.Stages = append(l.Stages, decodeStage(sb, l))
	}
	return l, diags
}

var outputSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "value", Required: true},
		{Name: "description"},
	},
}

func decodeOutput(b *hcl.Block) (*Output, hcl.Diagnostics) {
	o := &Output{Name: b.Labels[0], DeclRange: b.DefRange}
	content, diags := b.Body.Content(outputSchema)
	if a, ok := content.Attributes["value"]; ok {
		o.Value = a.Expr
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, gohcl.DecodeExpression(a.Expr, nil, &o.Description)...)
	}
	return o, diags
}

var movedSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "from", Required: true},
		{Name: "to", Required: true},
	},
}

func decodeMoved(b *hcl.Block) (*Moved, hcl.Diagnostics) {
	m := &Moved{DeclRange: b.DefRange}
	content, diags := b.Body.Content(movedSchema)
	if a, ok := content.Attributes["from"]; ok {
		m.From = a.Expr
	}
	if a, ok := content.Attributes["to"]; ok {
		m.To = a.Expr
	}
	return m, diags
}

var settingsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "seed"},
		{Name: "parallelism"},
		{Name: "description"},
	},
}

func decodeSettings(b *hcl.Block) (*Settings, hcl.Diagnostics) {
	s := &Settings{DeclRange: b.DefRange}
	content, diags := b.Body.Content(settingsSchema)
	if a, ok := content.Attributes["seed"]; ok {
		s.Seed = a.Expr
	}
	if a, ok := content.Attributes["parallelism"]; ok {
		s.Parallelism = a.Expr
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, gohcl.DecodeExpression(a.Expr, nil, &s.Description)...)
	}
	return s, diags
}

// sortedAttrs returns attributes in source order (hcl.Attributes is a map).
func sortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	SortAttributes(out)
	return out
}

// SortAttributes orders attributes by their position in the source.
func SortAttributes(attrs []*hcl.Attribute) {
	sortByRange(attrs, func(a *hcl.Attribute) hcl.Range { return a.Range })
}

func hclIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
		case i > 0 && (r == '-' || (r >= '0' && r <= '9')):
		default:
			return false
		}
	}
	return true
}
