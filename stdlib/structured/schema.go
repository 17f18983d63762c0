// Package structured is ouro's structured output: the JSON Schema of a
// stage's `schema` (a record type), the conversion of a model's answer to
// a typed value, and the constrained decoder that lets the builtin model
// emit only documents of the schema.
//
// # One schema, three users
//
// The compiler checks a spec against a cty type (`schema = object({…})`);
// FromType turns that type into a JSON Schema document (JSON), which
// travels with every request (runtime.GenRequest.Schema: part of the
// per-request memo key) and which the openai provider sends as
// `response_format: json_schema`. The builtin provider and `ouro serve`
// read the same document back with Parse, so the three agree by
// construction: a spec runs the same locally and against a server.
//
// # The subset
//
// A draft 2020-12 subset, the one OpenAI's strict mode accepts: the root is
// an object; objects list `properties`, every one `required`, and
// `additionalProperties: false`; `string`, `number`, `integer`, `boolean`
// and `array` (with `items`). cty's string, number, bool, list(T) and
// object({…}) map onto it; map, set, tuple, any and optional attributes do
// not, and FromType refuses them (the compiler reports where).
//
// # Constrained decoding
//
// Decoder is a pushdown automaton over characters that accepts exactly the
// compact documents of a schema: properties in the schema's order (sorted
// by name for derived schemas), no whitespace anywhere, strings with
// JSON's escapes, numbers and integers in JSON's grammar. At each step the
// builtin sampler asks it which characters may come next and masks the
// others; a character is allowed only if the document can still be closed
// within the tokens left (Decoder.MinClose), so a sample always ends as a
// complete document when max_tokens allows the shortest one.
package structured

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Kind is the JSON type of a schema node.
type Kind int

const (
	Object Kind = iota
	Array
	String
	Number
	Integer
	Bool
	// Any, Dict and Null are only for json_object mode (JSONObject): any
	// value, an object with any keys, null. No schema has them.
	Any
	Dict
	Null
)

func (k Kind) String() string {
	return [...]string{"object", "array", "string", "number", "integer", "boolean", "any", "object", "null"}[k]
}

// The nodes of json_object mode.
var (
	anyNode  = &Node{Kind: Any}
	dictNode = &Node{Kind: Dict}
	anyArray = &Node{Kind: Array, Items: anyNode}
	anyKinds = map[rune]*Node{'{': dictNode, '[': anyArray, '"': {Kind: String}, 't': {Kind: Bool}, 'f': {Kind: Bool}, 'n': {Kind: Null}}
	anyNum   = &Node{Kind: Number}
)

// JSONObject is what OpenAI's json_object mode asks for: any JSON object.
// It is no schema: Decode and JSON do not take it; Compile does.
func JSONObject() *Node { return dictNode }

// Node is a schema of the subset.
type Node struct {
	Kind  Kind
	Props []Prop // Object: in document order
	Items *Node  // Array
}

// Prop is a property of an object schema.
type Prop struct {
	Name string
	Node *Node
}

// TypeError says why a cty type has no JSON Schema of the subset; Path is
// where in the type (`reasoning`, `steps[]`), empty at the top.
type TypeError struct {
	Path, Reason string
}

func (e *TypeError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Reason)
}

// FromType is the schema of values of cty type t, which must be an object
// type. Properties are in name order.
func FromType(t cty.Type) (*Node, error) {
	if !t.IsObjectType() {
		return nil, &TypeError{Reason: fmt.Sprintf("a structured response is an object, such as object({ answer = number }), not %s", t.FriendlyName())}
	}
	return fromType(t, "")
}

func fromType(t cty.Type, path string) (*Node, error) {
	switch {
	case t == cty.String:
		return &Node{Kind: String}, nil
	case t == cty.Number:
		return &Node{Kind: Number}, nil
	case t == cty.Bool:
		return &Node{Kind: Bool}, nil
	case t.IsListType():
		items, err := fromType(t.ElementType(), path+"[]")
		if err != nil {
			return nil, err
		}
		return &Node{Kind: Array, Items: items}, nil
	case t.IsObjectType():
		n := &Node{Kind: Object}
		names := make([]string, 0, len(t.AttributeTypes()))
		for k := range t.AttributeTypes() {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if t.AttributeOptional(k) {
				return nil, &TypeError{Path: p, Reason: "optional attributes have no structured-output equivalent: every field of a structured response is required (JSON Schema strict mode); drop optional()"}
			}
			c, err := fromType(t.AttributeType(k), p)
			if err != nil {
				return nil, err
			}
			n.Props = append(n.Props, Prop{k, c})
		}
		return n, nil
	}
	var reason string
	switch {
	case t == cty.DynamicPseudoType:
		reason = "any has no JSON Schema equivalent here: give the field a type (string, number, bool, list(T) or object({…}))"
	case t.IsMapType():
		reason = "map types have no JSON Schema equivalent in strict mode (its keys are not known): use object({…}) with named fields"
	case t.IsSetType():
		reason = "set types have no JSON Schema equivalent here: use list(T)"
	case t.IsTupleType():
		reason = "tuple types have no JSON Schema equivalent here: use list(T) or object({…})"
	default:
		reason = fmt.Sprintf("%s has no JSON Schema equivalent", t.FriendlyName())
	}
	return nil, &TypeError{Path: path, Reason: reason}
}

// JSON is the schema as a JSON Schema document: compact, keys sorted, so
// the same schema always has the same bytes (they are part of request
// keys).
func (n *Node) JSON() []byte {
	var b bytes.Buffer
	n.write(&b)
	return b.Bytes()
}

func (n *Node) write(b *bytes.Buffer) {
	switch n.Kind {
	case Object:
		b.WriteString(`{"additionalProperties":false,"properties":{`)
		props := append([]Prop(nil), n.Props...)
		sort.Slice(props, func(i, j int) bool { return props[i].Name < props[j].Name })
		for i, p := range props {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(p.Name)
			b.Write(k)
			b.WriteByte(':')
			p.Node.write(b)
		}
		b.WriteString(`},"required":[`)
		for i, p := range n.Props {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(p.Name)
			b.Write(k)
		}
		b.WriteString(`],"type":"object"}`)
	case Array:
		b.WriteString(`{"items":`)
		n.Items.write(b)
		b.WriteString(`,"type":"array"}`)
	default:
		fmt.Fprintf(b, `{"type":%q}`, n.Kind.String())
	}
}

// Type is the cty type of the values of n (integer is a number).
func (n *Node) Type() cty.Type {
	switch n.Kind {
	case Object:
		attrs := map[string]cty.Type{}
		for _, p := range n.Props {
			attrs[p.Name] = p.Node.Type()
		}
		return cty.Object(attrs)
	case Array:
		return cty.List(n.Items.Type())
	case String:
		return cty.String
	case Bool:
		return cty.Bool
	}
	return cty.Number
}

// UnsupportedError is a schema document outside the subset: Keyword is the
// JSON Schema keyword (or "type" for an unsupported type), Path where it
// is (`properties.steps.items`).
type UnsupportedError struct {
	Keyword, Path, Reason string
}

func (e *UnsupportedError) Error() string {
	at := ""
	if e.Path != "" {
		at = " at " + e.Path
	}
	return fmt.Sprintf("unsupported JSON Schema keyword %q%s: %s", e.Keyword, at, e.Reason)
}

// annotations are keywords that do not constrain a document.
var annotations = map[string]bool{"title": true, "description": true, "$schema": true, "$id": true, "$comment": true, "examples": true}

// Parse reads a JSON Schema document of the subset (what JSON writes, and
// what OpenAI's strict mode accepts), keeping the properties in document
// order. Anything else is an *UnsupportedError naming the keyword.
func Parse(doc []byte) (*Node, error) {
	n, err := parse(json.RawMessage(doc), "")
	if err != nil {
		return nil, err
	}
	if n.Kind != Object {
		return nil, &UnsupportedError{Keyword: "type", Reason: fmt.Sprintf("the root of a structured response must be an object, not %s", n.Kind)}
	}
	return n, nil
}

func parse(raw json.RawMessage, path string) (*Node, error) {
	keys, vals, err := objectFields(raw)
	if err != nil {
		return nil, &UnsupportedError{Keyword: "type", Path: path, Reason: "a schema must be a JSON object: " + err.Error()}
	}
	fields := map[string]json.RawMessage{}
	for i, k := range keys {
		fields[k] = vals[i]
	}
	var typ string
	if t, ok := fields["type"]; !ok {
		return nil, &UnsupportedError{Keyword: "type", Path: path, Reason: "every schema needs a type (string, number, integer, boolean, array or object)"}
	} else if json.Unmarshal(t, &typ) != nil {
		return nil, &UnsupportedError{Keyword: "type", Path: path, Reason: "type must be one string (a list of types is not supported)"}
	}
	allowed := map[string]bool{"type": true}
	n := &Node{}
	switch typ {
	case "string":
		n.Kind = String
	case "number":
		n.Kind = Number
	case "integer":
		n.Kind = Integer
	case "boolean":
		n.Kind = Bool
	case "array":
		n.Kind = Array
		allowed["items"] = true
		it, ok := fields["items"]
		if !ok {
			return nil, &UnsupportedError{Keyword: "items", Path: path, Reason: "an array schema needs items"}
		}
		if n.Items, err = parse(it, join(path, "items")); err != nil {
			return nil, err
		}
	case "object":
		n.Kind = Object
		allowed["properties"], allowed["required"], allowed["additionalProperties"] = true, true, true
		if ap, ok := fields["additionalProperties"]; ok && !bytes.Equal(bytes.TrimSpace(ap), []byte("false")) {
			return nil, &UnsupportedError{Keyword: "additionalProperties", Path: path, Reason: "only additionalProperties: false is supported"}
		}
		if props, ok := fields["properties"]; ok {
			pk, pv, err := objectFields(props)
			if err != nil {
				return nil, &UnsupportedError{Keyword: "properties", Path: path, Reason: "properties must be an object"}
			}
			for i, k := range pk {
				c, err := parse(pv[i], join(path, "properties."+k))
				if err != nil {
					return nil, err
				}
				n.Props = append(n.Props, Prop{k, c})
			}
		}
		if req, ok := fields["required"]; ok {
			var names []string
			if json.Unmarshal(req, &names) != nil {
				return nil, &UnsupportedError{Keyword: "required", Path: path, Reason: "required must be a list of property names"}
			}
			for _, r := range names {
				found := false
				for _, p := range n.Props {
					found = found || p.Name == r
				}
				if !found {
					return nil, &UnsupportedError{Keyword: "required", Path: path, Reason: fmt.Sprintf("%q is required but not among the properties", r)}
				}
			}
		}
	default:
		return nil, &UnsupportedError{Keyword: "type", Path: path, Reason: fmt.Sprintf("type %q is not supported (string, number, integer, boolean, array, object)", typ)}
	}
	for _, k := range keys {
		if !allowed[k] && !annotations[k] {
			return nil, &UnsupportedError{Keyword: k, Path: path, Reason: "ouro's constrained decoder supports type, properties, required, additionalProperties: false and items"}
		}
	}
	return n, nil
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// objectFields returns a JSON object's keys in document order and their
// raw values; a repeated key is an error.
func objectFields(raw json.RawMessage) ([]string, []json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	t, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, nil, fmt.Errorf("not an object")
	}
	var keys []string
	var vals []json.RawMessage
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k := t.(string)
		if seen[k] {
			return nil, nil, fmt.Errorf("key %q repeated", k)
		}
		seen[k] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
		vals = append(vals, v)
	}
	return keys, vals, nil
}

// Decode reads a model's answer as a document of schema n and returns it
// as a value of n.Type(). Whitespace around and inside the document is
// accepted (servers differ); a document that does not parse, or does not
// conform (a missing or unknown property, a wrong type, null, text after
// the document), is an error saying where.
func Decode(text string, n *Node) (cty.Value, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if strings.TrimSpace(text) == "" {
			return cty.NilVal, fmt.Errorf("the response is empty, not a JSON document")
		}
		return cty.NilVal, fmt.Errorf("the response is not JSON: %v", err)
	}
	if rest, _ := io.ReadAll(dec.Buffered()); len(bytes.TrimSpace(rest)) > 0 || dec.More() {
		return cty.NilVal, fmt.Errorf("the response has text after its JSON document")
	}
	return toValue(v, n, "")
}

func toValue(v any, n *Node, path string) (cty.Value, error) {
	at := func(format string, args ...any) error {
		msg := fmt.Sprintf(format, args...)
		if path == "" {
			return fmt.Errorf("the response does not match the schema: %s", msg)
		}
		return fmt.Errorf("the response does not match the schema: %s: %s", path, msg)
	}
	if v == nil {
		return cty.NilVal, at("null, want %s", n.Kind)
	}
	switch n.Kind {
	case Object:
		m, ok := v.(map[string]any)
		if !ok {
			return cty.NilVal, at("want an object, found %s", jsonKind(v))
		}
		attrs := map[string]cty.Value{}
		for _, p := range n.Props {
			pv, ok := m[p.Name]
			if !ok {
				return cty.NilVal, at("property %q is missing", p.Name)
			}
			c, err := toValue(pv, p.Node, join(path, p.Name))
			if err != nil {
				return cty.NilVal, err
			}
			attrs[p.Name] = c
		}
		if len(m) > len(attrs) {
			var extra []string
			for k := range m {
				if _, ok := attrs[k]; !ok {
					extra = append(extra, k)
				}
			}
			sort.Strings(extra)
			return cty.NilVal, at("property %q is not in the schema", extra[0])
		}
		return cty.ObjectVal(attrs), nil
	case Array:
		a, ok := v.([]any)
		if !ok {
			return cty.NilVal, at("want an array, found %s", jsonKind(v))
		}
		if len(a) == 0 {
			return cty.ListValEmpty(n.Items.Type()), nil
		}
		vals := make([]cty.Value, len(a))
		for i, e := range a {
			c, err := toValue(e, n.Items, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return cty.NilVal, err
			}
			vals[i] = c
		}
		return cty.ListVal(vals), nil
	case String:
		s, ok := v.(string)
		if !ok {
			return cty.NilVal, at("want a string, found %s", jsonKind(v))
		}
		return cty.StringVal(s), nil
	case Bool:
		b, ok := v.(bool)
		if !ok {
			return cty.NilVal, at("want a boolean, found %s", jsonKind(v))
		}
		return cty.BoolVal(b), nil
	default:
		num, ok := v.(json.Number)
		if !ok {
			return cty.NilVal, at("want %s, found %s", map[Kind]string{Number: "a number", Integer: "an integer"}[n.Kind], jsonKind(v))
		}
		c, err := cty.ParseNumberVal(string(num))
		if err != nil {
			return cty.NilVal, at("%s is not a number", num)
		}
		if f, _ := c.AsBigFloat().Float64(); math.IsInf(f, 0) {
			return cty.NilVal, at("%s is out of range (beyond ±1.8e308)", num)
		}
		if n.Kind == Integer && !c.AsBigFloat().IsInt() {
			return cty.NilVal, at("want an integer, found %s", num)
		}
		return c, nil
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	}
	return "null"
}
