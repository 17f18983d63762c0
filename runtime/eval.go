package runtime

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang/pattern"
)

// parseExpr re-parses a plan expression at its original position, so
// runtime diagnostics point at the spec.
func parseExpr(e *compiler.Expr) (hcl.Expression, error) {
	x, diags := hclsyntax.ParseExpression([]byte(e.Source), e.Range.Filename, e.Range.Start)
	if diags.HasErrors() {
		return nil, DiagnosticsError{diags}
	}
	return x, nil
}

// scope builds the evaluation context of an expression from the values of
// the nodes it references.
func (r *run) scope(n *compiler.Node, e *compiler.Expr) (*hcl.EvalContext, error) {
	vars := map[string]cty.Value{}
	objs := map[string]map[string]cty.Value{}
	for key, target := range e.Refs {
		root, name, _ := strings.Cut(key, ".")
		var v cty.Value
		if root == "var" && target == key { // a module's variable is a node
			v = r.vars[name]
		} else {
			st := r.state(target)
			if st == nil || st.status != statusDone {
				return nil, fmt.Errorf("%s reads %s, which has no value", n.Address, target)
			}
			v = st.value
		}
		if name == "" {
			vars[root] = v
			continue
		}
		if objs[root] == nil {
			objs[root] = map[string]cty.Value{}
		}
		objs[root][name] = v
	}
	for root, m := range objs {
		vars[root] = cty.ObjectVal(m)
	}
	if n.Round >= 0 {
		round := n.Round
		if n.Kind == compiler.KindState && n.Round > 0 {
			round = n.Round - 1 // `next` is evaluated at the end of the previous round
		}
		vars["round"] = cty.NumberIntVal(int64(round))
	}
	if in := n.Instance; in != nil {
		if in.EachValue != nil {
			ev, err := instanceEachValue(in)
			if err != nil {
				return nil, fmt.Errorf("%s: each.value: %w", n.Address, err)
			}
			vars["each"] = cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(in.EachKey), "value": ev})
		} else {
			vars["count"] = cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(int64(in.Index))})
		}
	}
	return &hcl.EvalContext{Variables: vars, Functions: r.opts.Functions}, nil
}

// instanceEachValue decodes each.value of a for_each instance.
func instanceEachValue(in *compiler.Instance) (cty.Value, error) {
	t, err := ctyjson.UnmarshalType(in.EachValue.Type)
	if err != nil {
		return cty.NilVal, err
	}
	return ctyjson.Unmarshal(in.EachValue.Value, t)
}

// evalExpr evaluates one expression of a node with real values.
func (r *run) evalExpr(n *compiler.Node, e *compiler.Expr) (cty.Value, error) {
	if v, ok := r.refValue(e); ok {
		return v, nil
	}
	x, err := parseExpr(e)
	if err != nil {
		return cty.NilVal, err
	}
	ctx, err := r.scope(n, e)
	if err != nil {
		return cty.NilVal, err
	}
	v, diags := x.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, DiagnosticsError{diags}
	}
	return v, nil
}

// refValue is the fast path of evalExpr for an expression that is nothing
// but one reference ("stage.tune", "var.n", "state"): its value is the
// referenced node's value, with no parsing. ok is false otherwise.
func (r *run) refValue(e *compiler.Expr) (cty.Value, bool) {
	src := strings.TrimSpace(e.Source)
	target, ok := e.Refs[src]
	if !ok || !isPlainRef(src) {
		return cty.NilVal, false
	}
	root, name, _ := strings.Cut(src, ".")
	if root == "var" && target == src {
		v, ok := r.vars[name]
		return v, ok && name != ""
	}
	st := r.state(target)
	if st == nil || st.status != statusDone {
		return cty.NilVal, false // evalExpr reports it
	}
	return st.value, true
}

// isPlainRef reports whether s is one identifier or two joined by a dot.
func isPlainRef(s string) bool {
	parts := 0
	for _, p := range strings.Split(s, ".") {
		parts++
		if p == "" || !hclsyntax.ValidIdentifier(p) {
			return false
		}
	}
	return parts <= 2
}

// prepared is a stage's evaluated arguments and its cache key.
type prepared struct {
	exec   *Exec
	key    string
	params map[string]string // param -> digest, for explain
	inputs map[string]string // dataset/model params -> digest
	kinds  map[string]string // dataset/model params -> "dataset" or "model"
	// complete finishes exec (per-item closures, patterns) for a stage that
	// will run; a cache hit never needs it.
	complete []func() error
}

// finish runs the deferred parts of prepare.
func (p *prepared) finish() error {
	for _, f := range p.complete {
		if err := f(); err != nil {
			return err
		}
	}
	p.complete = nil
	return nil
}

// prepare evaluates a stage's (or dataset's, or model's) arguments and
// computes its cache key: hash of operator name and version, canonical
// evaluated parameters (datasets and models by content digest), normalised
// per-item sources, patterns and types, and the stage seed.
func (r *run) prepare(n *compiler.Node, sig *compiler.Signature, opName string, version int) (*prepared, error) {
	x := &Exec{
		Node: n, Sig: sig,
		Params:   map[string]cty.Value{},
		Items:    map[string]*ItemExpr{},
		Patterns: map[string]*pattern.Pattern{},
		Schemas:  map[string]cty.Type{},
		Blobs:    r.blobs,
		Env:      r.nodeEnv(n),
		Seed:     stageSeed(r.plan.Seed, seedAddress(n)),
	}
	p := &prepared{exec: x, params: map[string]string{}, inputs: map[string]string{}, kinds: map[string]string{}}
	p.complete = append(p.complete, func() error {
		x.Log = r.log.With("stage", n.Address)
		return nil
	})
	keyParts := map[string]any{}
	given := map[string]*compiler.ParamExpr{}
	for _, pe := range n.Params {
		given[pe.Name] = pe
	}
	for _, sp := range sig.Params {
		unset := func() {
			def := sp.Default
			if def == cty.NilVal {
				t := sp.Type
				if t == cty.NilType {
					t = cty.DynamicPseudoType
				}
				def = cty.NullVal(t)
			}
			x.Params[sp.Name] = def
		}
		pe, ok := given[sp.Name]
		if !ok {
			if sp.Mode == compiler.ModeValue {
				unset()
			}
			continue
		}
		switch sp.Mode {
		case compiler.ModeValue:
			v, err := r.evalExpr(n, pe.Expr)
			if err != nil {
				return nil, err
			}
			if v.IsNull() {
				// As in Terraform, null is "not set": the default applies
				// and the key is that of a stage without the argument.
				unset()
				continue
			}
			if !compiler.IsDatasetType(sp.Type) && !compiler.IsModelType(sp.Type) && sp.Type != cty.NilType {
				if cv, err := convert.Convert(v, sp.Type); err == nil {
					v = cv
				}
			}
			x.Params[sp.Name] = v
			enc, err := r.keyValue(n, sp.Name, v)
			if err != nil {
				return nil, fmt.Errorf("%s: argument %s: %w", n.Address, sp.Name, err)
			}
			keyParts[sp.Name] = enc
			d := digestJSON(enc)
			p.params[sp.Name] = d
			switch {
			case compiler.IsDatasetType(sp.Type):
				p.kinds[sp.Name] = "dataset"
			case compiler.IsModelType(sp.Type):
				p.kinds[sp.Name] = "model"
			}
			if len(referencedBlobs(v)) > 0 {
				p.inputs[sp.Name] = d
			}
		case compiler.ModePerItem:
			ctx, err := r.scope(n, pe.Expr)
			if err != nil {
				return nil, err
			}
			name, src := sp.Name, pe.Expr
			p.complete = append(p.complete, func() error {
				expr, err := parseExpr(src)
				if err != nil {
					return err
				}
				x.Items[name] = &ItemExpr{Name: name, Expr: expr, Scope: ctx}
				return nil
			})
			// The normalised source and the values it reads from its scope.
			scopeVals := map[string]any{}
			for k := range pe.Expr.Refs {
				root, name, _ := strings.Cut(k, ".")
				v := ctx.Variables[root]
				if name != "" && v.Type().IsObjectType() {
					v = v.GetAttr(name)
				}
				enc, err := r.keyValue(n, k, v)
				if err != nil {
					return nil, err
				}
				scopeVals[k] = enc
			}
			part := map[string]any{"src": pe.Expr.Normalized, "scope": scopeVals}
			if strings.Contains(pe.Expr.Normalized, "round") {
				part["round"] = n.Round
			}
			if n.Instance != nil && (strings.Contains(pe.Expr.Normalized, "count") || strings.Contains(pe.Expr.Normalized, "each")) {
				part["instance"] = n.Instance.Key
				if v, ok := ctx.Variables["each"]; ok {
					enc, err := keyJSONable(v)
					if err != nil {
						return nil, err
					}
					part["each"] = enc
				}
			}
			keyParts[sp.Name] = part
			p.params[sp.Name] = digestJSON(part)
		case compiler.ModePattern:
			name, src := sp.Name, pe.Expr
			p.complete = append(p.complete, func() error {
				expr, err := parseExpr(src)
				if err != nil {
					return err
				}
				pat, diags := pattern.ParseExpr(expr)
				if diags.HasErrors() {
					return DiagnosticsError{diags}
				}
				x.Patterns[name] = pat
				return nil
			})
			keyParts[sp.Name] = map[string]any{"pattern": pe.Expr.Normalized}
			p.params[sp.Name] = digestJSON(keyParts[sp.Name])
		case compiler.ModeType:
			t, err := compiler.UnmarshalType(pe.Expr.Type)
			if err != nil {
				return nil, err
			}
			x.Schemas[sp.Name] = t
			keyParts[sp.Name] = map[string]any{"type": pe.Expr.Normalized}
			p.params[sp.Name] = digestJSON(keyParts[sp.Name])
		}
	}
	key := map[string]any{"op": opName, "version": version, "params": keyParts, "seed": x.Seed, "kind": n.Kind}
	p.key = digestJSON(key)
	return p, nil
}

// keyValue is the canonical, key-safe encoding of an argument value:
// datasets and models by content; files named by `source`/`checkpoint` by
// their contents, not their paths.
func (r *run) keyValue(n *compiler.Node, name string, v cty.Value) (any, error) {
	if (name == "source" || name == "checkpoint") && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
		pattern := v.AsString()
		if n.Dir != "" && !filepath.IsAbs(pattern) {
			// A module's file: relative to the module's folder, recorded
			// relative to the spec's like every other.
			pattern = filepath.Join(filepath.FromSlash(n.Dir), pattern)
		}
		d, err := fileDigests(r.opts.SpecDir, pattern)
		if err == nil {
			r.filesMu.Lock()
			r.files[pattern] = digestJSON(d)
			r.filesMu.Unlock()
		}
		return d, err
	}
	return keyJSONable(v)
}

func keyJSONable(v cty.Value) (any, error) {
	if v.IsKnown() && !v.IsNull() && compiler.IsModelType(v.Type()) {
		ref := *v.EncapsulatedValue().(*compiler.ModelRef)
		return map[string]any{"model": ref.Digest, "provider": ref.Provider, "config": ref.Config}, nil
	}
	if v.IsKnown() && !v.IsNull() && compiler.IsDatasetType(v.Type()) {
		return datasetKey(v.EncapsulatedValue().(*compiler.DatasetRef).Digest), nil
	}
	if v.IsKnown() && !v.IsNull() && (v.Type().IsObjectType() || v.Type().IsTupleType() || v.Type().IsListType() || v.Type().IsMapType()) {
		if len(referencedBlobs(v)) > 0 {
			var out []any
			for it := v.ElementIterator(); it.Next(); {
				k, e := it.Element()
				j, err := keyJSONable(e)
				if err != nil {
					return nil, err
				}
				out = append(out, []any{k.GoString(), j})
			}
			return out, nil
		}
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

func datasetKey(blob string) any { return map[string]any{"dataset": blob} }

// DatasetInputDigest is the digest a stage entry's Inputs (and Params)
// hold for a parameter whose value is exactly the dataset stored in blob:
// how a reader of the store (ouro report) finds which stage's output a
// stage read, without the plan.
func DatasetInputDigest(blob string) string { return digestJSON(datasetKey(blob)) }

// FileDigest is the digest under which the files a `source` or
// `checkpoint` path or glob names (relative to specDir) go into stage keys;
// Result.Files holds the ones a run read.
func FileDigest(specDir, pattern string) (string, error) {
	d, err := fileDigests(specDir, pattern)
	if err != nil {
		return "", err
	}
	return digestJSON(d), nil
}

// fileDigests hashes the files a path or glob names (relative to the spec),
// each with its extension.
func fileDigests(specDir, pattern string) (any, error) {
	path := pattern
	if !filepath.IsAbs(path) {
		path = filepath.Join(specDir, path)
	}
	matches, err := filepath.Glob(path)
	if err != nil {
		return nil, err
	}
	if len(matches) == 0 {
		return map[string]any{"missing": pattern}, nil
	}
	sort.Strings(matches)
	var out []string
	for _, m := range matches {
		sum, err := hashFile(m)
		if err != nil {
			return nil, err
		}
		// The extension too: a reader picks the format by it (format =
		// "auto"), so the same bytes as .csv and as .jsonl are not the
		// same dataset.
		out = append(out, strings.ToLower(filepath.Ext(m))+" "+sum)
	}
	return map[string]any{"files": out}, nil
}

// hashFile streams a file through SHA-256, so a large data file costs no
// memory.
func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func digestJSON(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// seedAddress is the address a node's seed is made from: its seed
// address (see Node.SeedAddr) inside its module, so that a module's stages have the same keys however
// the module instance is named.
func seedAddress(n *compiler.Node) string {
	if n.Module == "" {
		return n.SeedAddr()
	}
	return strings.TrimPrefix(n.SeedAddr(), n.Module+".")
}

// nodeEnv is the Env a node's operator or provider sees: the run's, with
// SpecDir set to the module's folder for a module's node.
func (r *run) nodeEnv(n *compiler.Node) *Env {
	if n.Dir == "" || r.env == nil {
		return r.env
	}
	e := *r.env
	e.SpecDir = filepath.Join(e.SpecDir, filepath.FromSlash(n.Dir))
	return &e
}

// stageSeed mixes the spec's seed with the node's address.
func stageSeed(seed int64, addr string) uint64 {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:])
	h.Write([]byte(addr))
	return binary.LittleEndian.Uint64(h.Sum(nil)[:8])
}
