package compiler

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Values that are not plain data live in capsule types, so that the type
// checker can tell a dataset from a list and a model from a string, and so
// that misuse (`length(stage.parsed)`, `model.base.name`) is a type error
// with a range before anything runs.

// ModelRef is the runtime value of a model: an identity the runtime resolves
// to a provider and, for trained models, a checkpoint blob.
type ModelRef struct {
	Address  string `json:"address"`          // the plan address that produced it
	Provider string `json:"provider"`         // provider name ("builtin", "openai", …)
	Digest   string `json:"digest"`           // content identity (checkpoint digest or provider identity hash)
	Config   string `json:"config,omitempty"` // canonical JSON of provider settings, without secrets
}

// DatasetRef is the runtime value of a dataset: a content-addressed artifact.
type DatasetRef struct {
	Digest string
	Count  int64
	Schema cty.Type
}

// ModelType is the type of every model value.
var ModelType = cty.CapsuleWithOps("model", reflect.TypeOf(ModelRef{}), &cty.CapsuleOps{
	GoString:     func(v any) string { return fmt.Sprintf("model(%s)", v.(*ModelRef).Digest) },
	TypeGoString: func(reflect.Type) string { return "compiler.ModelType" },
	RawEquals:    func(a, b any) bool { return *a.(*ModelRef) == *b.(*ModelRef) },
	Equals:       func(a, b any) cty.Value { return cty.BoolVal(*a.(*ModelRef) == *b.(*ModelRef)) },
})

type datasetElemKey struct{}

var datasetTypes sync.Map // element type GoString -> cty.Type

// DatasetType returns the type of a dataset whose records have type elem.
// Calls with equal element types return the identical capsule type, so
// cty's pointer-identity equality on capsules does the right thing.
func DatasetType(elem cty.Type) cty.Type {
	key := elem.GoString()
	if t, ok := datasetTypes.Load(key); ok {
		return t.(cty.Type)
	}
	name := "dataset(" + typeexpr.TypeString(elem) + ")"
	t := cty.CapsuleWithOps(name, reflect.TypeOf(DatasetRef{}), &cty.CapsuleOps{
		GoString:     func(v any) string { return fmt.Sprintf("dataset(%s)", v.(*DatasetRef).Digest) },
		TypeGoString: func(reflect.Type) string { return fmt.Sprintf("compiler.DatasetType(%#v)", elem) },
		RawEquals:    func(a, b any) bool { return a.(*DatasetRef).Digest == b.(*DatasetRef).Digest },
		Equals:       func(a, b any) cty.Value { return cty.BoolVal(a.(*DatasetRef).Digest == b.(*DatasetRef).Digest) },
		ExtensionData: func(key any) any {
			if key == (datasetElemKey{}) {
				return elem
			}
			return nil
		},
		// dataset(any), the type of a dataset whose records are known only
		// at run time (a source without a schema), takes every dataset: a
		// loop's round object or state declared with it holds the run's
		// concrete dataset.
		ConversionTo: func(src cty.Type) func(cty.Value, cty.Path) (any, error) {
			if elem != cty.DynamicPseudoType || !IsDatasetType(src) {
				return nil
			}
			return func(v cty.Value, _ cty.Path) (any, error) { return v.EncapsulatedValue(), nil }
		},
	})
	actual, _ := datasetTypes.LoadOrStore(key, t)
	return actual.(cty.Type)
}

// IsDatasetType reports whether t is a dataset type.
func IsDatasetType(t cty.Type) bool {
	if !t.IsCapsuleType() {
		return false
	}
	_, ok := t.CapsuleExtensionData(datasetElemKey{}).(cty.Type)
	return ok
}

// DatasetElem returns the record type of a dataset type, or cty.NilType.
func DatasetElem(t cty.Type) cty.Type {
	if !IsDatasetType(t) {
		return cty.NilType
	}
	return t.CapsuleExtensionData(datasetElemKey{}).(cty.Type)
}

// IsModelType reports whether t is the model type.
func IsModelType(t cty.Type) bool { return t.Equals(ModelType) }

// DatasetVal wraps a dataset reference as a value of its dataset type.
func DatasetVal(ref DatasetRef) cty.Value {
	r := ref
	return cty.CapsuleVal(DatasetType(ref.Schema), &r)
}

// ModelVal wraps a model reference as a model value.
func ModelVal(ref ModelRef) cty.Value {
	r := ref
	return cty.CapsuleVal(ModelType, &r)
}

// TypeString renders a type the way users write it, including ouro's
// dataset(...) and model types.
func TypeString(t cty.Type) string {
	switch {
	case t == cty.NilType:
		return "nil"
	case IsModelType(t):
		return "model"
	case IsDatasetType(t):
		return "dataset(" + TypeString(DatasetElem(t)) + ")"
	case t.IsObjectType():
		names := sortedKeys(t.AttributeTypes())
		s := "object({"
		for i, n := range names {
			if i > 0 {
				s += ", "
			}
			s += n + " = " + TypeString(t.AttributeType(n))
		}
		return s + "})"
	case t.IsListType():
		return "list(" + TypeString(t.ElementType()) + ")"
	case t.IsMapType():
		return "map(" + TypeString(t.ElementType()) + ")"
	case t.IsSetType():
		return "set(" + TypeString(t.ElementType()) + ")"
	case t.IsTupleType():
		s := "tuple(["
		for i, et := range t.TupleElementTypes() {
			if i > 0 {
				s += ", "
			}
			s += TypeString(et)
		}
		return s + "])"
	}
	return typeexpr.TypeString(t)
}

// MarshalType encodes a type as JSON, extending cty's encoding with
// ["dataset", elem] and "model".
// Encodings are cached by the type's GoString, which is exact for every
// type a plan holds (capsules: compiler.ModelType, compiler.DatasetType(elem)).
func MarshalType(t cty.Type) (json.RawMessage, error) {
	k := t.GoString()
	if b, ok := typeEncCache.Load(k); ok {
		return append(json.RawMessage(nil), b.(json.RawMessage)...), nil
	}
	v, err := typeToJSONable(t)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err == nil && typeEncCacheSize.Add(1) <= maxTypeCache {
		typeEncCache.Store(k, append(json.RawMessage(nil), b...))
	}
	return b, err
}

var (
	typeEncCache     sync.Map // t.GoString() -> json.RawMessage
	typeEncCacheSize atomic.Int64
)

func typeToJSONable(t cty.Type) (any, error) {
	switch {
	case IsModelType(t):
		return "model", nil
	case IsDatasetType(t):
		e, err := typeToJSONable(DatasetElem(t))
		return []any{"dataset", e}, err
	case t.IsObjectType():
		attrs := map[string]any{}
		for n, at := range t.AttributeTypes() {
			j, err := typeToJSONable(at)
			if err != nil {
				return nil, err
			}
			attrs[n] = j
		}
		return []any{"object", attrs}, nil
	case t.IsListType(), t.IsSetType(), t.IsMapType():
		kind := "list"
		if t.IsSetType() {
			kind = "set"
		} else if t.IsMapType() {
			kind = "map"
		}
		e, err := typeToJSONable(t.ElementType())
		return []any{kind, e}, err
	case t.IsTupleType():
		var elems []any
		for _, et := range t.TupleElementTypes() {
			j, err := typeToJSONable(et)
			if err != nil {
				return nil, err
			}
			elems = append(elems, j)
		}
		if elems == nil {
			elems = []any{}
		}
		return []any{"tuple", elems}, nil
	case t.IsCapsuleType():
		return nil, fmt.Errorf("cannot serialise capsule type %s", t.FriendlyName())
	}
	b, err := ctyjson.MarshalType(t)
	if err != nil {
		return nil, err
	}
	var v any
	err = json.Unmarshal(b, &v)
	return v, err
}

// UnmarshalType decodes a type encoded by MarshalType.
// Decoded types are cached by their encoding (types are immutable and
// decoding is deterministic): a plan repeats the same few types on every node.
func UnmarshalType(b []byte) (cty.Type, error) {
	if t, ok := typeCache.Load(string(b)); ok {
		return t.(cty.Type), nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return cty.NilType, err
	}
	t, err := typeFromJSONable(v)
	if err == nil && typeCacheSize.Add(1) <= maxTypeCache {
		typeCache.Store(string(b), t)
	}
	return t, err
}

// maxTypeCache bounds the decoded-type cache (distinct encodings).
const maxTypeCache = 4096

var (
	typeCache     sync.Map // string(encoding) -> cty.Type
	typeCacheSize atomic.Int64
)

func typeFromJSONable(v any) (cty.Type, error) {
	switch x := v.(type) {
	case string:
		if x == "model" {
			return ModelType, nil
		}
	case []any:
		if len(x) == 2 {
			kind, _ := x[0].(string)
			switch kind {
			case "dataset", "list", "set", "map":
				e, err := typeFromJSONable(x[1])
				if err != nil {
					return cty.NilType, err
				}
				switch kind {
				case "dataset":
					return DatasetType(e), nil
				case "list":
					return cty.List(e), nil
				case "set":
					return cty.Set(e), nil
				default:
					return cty.Map(e), nil
				}
			case "object":
				m, ok := x[1].(map[string]any)
				if !ok {
					return cty.NilType, fmt.Errorf("bad object type encoding")
				}
				attrs := map[string]cty.Type{}
				for n, a := range m {
					at, err := typeFromJSONable(a)
					if err != nil {
						return cty.NilType, err
					}
					attrs[n] = at
				}
				return cty.Object(attrs), nil
			case "tuple":
				l, ok := x[1].([]any)
				if !ok {
					return cty.NilType, fmt.Errorf("bad tuple type encoding")
				}
				elems := make([]cty.Type, len(l))
				for i, e := range l {
					et, err := typeFromJSONable(e)
					if err != nil {
						return cty.NilType, err
					}
					elems[i] = et
				}
				return cty.Tuple(elems), nil
			}
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return cty.NilType, err
	}
	return ctyjson.UnmarshalType(b)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
