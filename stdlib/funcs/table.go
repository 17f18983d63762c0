package funcs

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/ext/customdecode"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Categories, in the order docs/functions.md lists them.
const (
	catExtraction = "Answer extraction"
	catAggregate  = "Aggregates and metrics"
	catText       = "Text helpers"
	catString     = "Strings"
	catNumber     = "Numbers"
	catCollection = "Collections"
	catEncoding   = "Encoding"
	catConversion = "Type conversion"
	catErrors     = "Error handling"
)

// categoryOrder fixes the order of sections in the generated documentation.
var categoryOrder = []string{
	catExtraction, catAggregate, catText, catString, catNumber,
	catCollection, catEncoding, catConversion, catErrors,
}

// entry is one row of the table: a function, its category, and — only where
// the spec's parameter types cannot say it (a parameter typed "any" that
// really takes "list of number") — the types to show in its signature.
type entry struct {
	name     string
	category string
	fn       function.Function
	params   []string // doc types for Params then VarParam; nil: from the spec
	returns  string   // doc result type; "": derived from the spec
}

func entries() []entry {
	e := func(name, cat string, fn function.Function) entry {
		return entry{name: name, category: cat, fn: fn}
	}
	withDoc := func(x entry, params []string, returns string) entry {
		x.params, x.returns = params, returns
		return x
	}
	numSeq := []string{"list of number"}
	boolSeq := []string{"list of bool"}
	anySeq := []string{"list of any"}

	return []entry{
		// go-cty stdlib: numbers.
		e("abs", catNumber, stdlib.AbsoluteFunc),
		e("ceil", catNumber, stdlib.CeilFunc),
		e("floor", catNumber, stdlib.FloorFunc),
		e("log", catNumber, stdlib.LogFunc),
		e("max", catNumber, stdlib.MaxFunc),
		e("min", catNumber, stdlib.MinFunc),
		e("pow", catNumber, stdlib.PowFunc),
		e("signum", catNumber, stdlib.SignumFunc),
		e("parseint", catNumber, stdlib.ParseIntFunc),

		// go-cty stdlib: strings.
		e("chomp", catString, stdlib.ChompFunc),
		e("format", catString, stdlib.FormatFunc),
		e("formatlist", catString, stdlib.FormatListFunc),
		e("indent", catString, stdlib.IndentFunc),
		e("join", catString, stdlib.JoinFunc),
		e("lower", catString, stdlib.LowerFunc),
		e("upper", catString, stdlib.UpperFunc),
		e("regex", catString, stdlib.RegexFunc),
		e("regexall", catString, stdlib.RegexAllFunc),
		e("regexreplace", catString, stdlib.RegexReplaceFunc),
		e("replace", catString, stdlib.ReplaceFunc),
		e("split", catString, stdlib.SplitFunc),
		e("strrev", catString, stdlib.ReverseFunc),
		e("substr", catString, stdlib.SubstrFunc),
		e("title", catString, stdlib.TitleFunc),
		e("trim", catString, stdlib.TrimFunc),
		e("trimprefix", catString, stdlib.TrimPrefixFunc),
		e("trimsuffix", catString, stdlib.TrimSuffixFunc),
		e("trimspace", catString, stdlib.TrimSpaceFunc),
		e("formatdate", catString, stdlib.FormatDateFunc),
		e("timeadd", catString, stdlib.TimeAddFunc),

		// go-cty stdlib: collections.
		e("chunklist", catCollection, stdlib.ChunklistFunc),
		e("coalesce", catCollection, stdlib.CoalesceFunc),
		e("coalescelist", catCollection, stdlib.CoalesceListFunc),
		e("compact", catCollection, stdlib.CompactFunc),
		e("concat", catCollection, stdlib.ConcatFunc),
		withDoc(e("contains", catCollection, stdlib.ContainsFunc), nil, "bool"),
		e("distinct", catCollection, stdlib.DistinctFunc),
		e("element", catCollection, stdlib.ElementFunc),
		e("flatten", catCollection, stdlib.FlattenFunc),
		e("keys", catCollection, stdlib.KeysFunc),
		e("length", catCollection, stdlib.LengthFunc),
		e("lookup", catCollection, stdlib.LookupFunc),
		e("merge", catCollection, stdlib.MergeFunc),
		e("range", catCollection, stdlib.RangeFunc),
		e("reverse", catCollection, stdlib.ReverseListFunc),
		e("setintersection", catCollection, stdlib.SetIntersectionFunc),
		e("setproduct", catCollection, stdlib.SetProductFunc),
		e("setsubtract", catCollection, stdlib.SetSubtractFunc),
		e("setsymmetricdifference", catCollection, stdlib.SetSymmetricDifferenceFunc),
		e("setunion", catCollection, stdlib.SetUnionFunc),
		e("slice", catCollection, stdlib.SliceFunc),
		e("sort", catCollection, stdlib.SortFunc),
		e("values", catCollection, stdlib.ValuesFunc),
		e("zipmap", catCollection, stdlib.ZipmapFunc),

		// go-cty stdlib: encoding.
		e("jsonencode", catEncoding, stdlib.JSONEncodeFunc),
		e("jsondecode", catEncoding, stdlib.JSONDecodeFunc),
		e("csvdecode", catEncoding, stdlib.CSVDecodeFunc),

		// Type conversion.
		e("tostring", catConversion, stdlib.MakeToFunc(cty.String)),
		e("tonumber", catConversion, stdlib.MakeToFunc(cty.Number)),
		e("tobool", catConversion, stdlib.MakeToFunc(cty.Bool)),
		e("tolist", catConversion, stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType))),
		e("toset", catConversion, stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType))),
		e("tomap", catConversion, stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType))),

		// hcl tryfunc: these take unevaluated expressions.
		withDoc(e("try", catErrors, tryfunc.TryFunc.WithNewDescriptions(
			"Evaluates each argument expression in turn and returns the value of the first one that evaluates without errors; fails with all the errors if none does. Only errors are caught: an unknown value is returned as unknown.",
			[]string{"Expressions to try, in order."})), nil, "any"),
		e("can", catErrors, tryfunc.CanFunc.WithNewDescriptions(
			"Evaluates the argument expression and returns true if it evaluates without errors, false otherwise.",
			[]string{"The expression to test."})),

		// ours: answer extraction.
		e("extract_number", catExtraction, ExtractNumberFunc),
		e("extract_int", catExtraction, ExtractIntFunc),
		e("extract_json", catExtraction, ExtractJSONFunc),

		// ours: aggregates.
		withDoc(e("mean", catAggregate, MeanFunc), numSeq, ""),
		withDoc(e("sum", catAggregate, SumFunc), numSeq, ""),
		withDoc(e("median", catAggregate, MedianFunc), numSeq, ""),
		withDoc(e("stddev", catAggregate, StddevFunc), numSeq, ""),
		withDoc(e("count_true", catAggregate, CountTrueFunc), boolSeq, ""),
		withDoc(e("fraction", catAggregate, FractionFunc), boolSeq, ""),
		withDoc(e("majority", catAggregate, MajorityFunc), anySeq, "any"),
		withDoc(e("agreement", catAggregate, AgreementFunc), anySeq, ""),
		e("pass_at_k", catAggregate, PassAtKFunc),

		// ours: text helpers.
		e("normalize", catText, NormalizeFunc),
		e("contains_str", catText, ContainsStrFunc),
		e("startswith", catText, StartsWithFunc),
		e("endswith", catText, EndsWithFunc),
		e("strlen", catText, StrlenFunc),
		e("word_count", catText, WordCountFunc),
		e("lines", catText, LinesFunc),
		e("reverse_str", catText, ReverseStrFunc),
		e("digits", catNumber, DigitsFunc),
	}
}

// Table returns the functions available in spec expressions, by name. The
// map is fresh on every call: callers may add or remove entries.
func Table() map[string]function.Function {
	es := entries()
	t := make(map[string]function.Function, len(es))
	for _, e := range es {
		t[e.name] = e.fn
	}
	return t
}

// Doc describes one function of the table.
type Doc struct {
	Name        string
	Signature   string // e.g. "mean(list of number) number"; variadic as "...T"
	Description string
	Category    string
}

// Docs describes every function of [Table], sorted by name. Signatures and
// descriptions come from the function specs themselves.
func Docs() []Doc {
	es := entries()
	docs := make([]Doc, 0, len(es))
	for _, e := range es {
		docs = append(docs, Doc{
			Name:        e.name,
			Signature:   signature(e),
			Description: e.fn.Description(),
			Category:    e.category,
		})
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].Name < docs[j].Name })
	return docs
}

func signature(e entry) string {
	params := e.fn.Params()
	vp := e.fn.VarParam()
	var parts []string
	argTypes := make([]cty.Type, 0, len(params)+1)
	for i, p := range params {
		parts = append(parts, docTypeAt(e, i, p.Type))
		argTypes = append(argTypes, p.Type)
	}
	if vp != nil {
		parts = append(parts, "..."+docTypeAt(e, len(params), vp.Type))
		argTypes = append(argTypes, vp.Type)
	}
	ret := e.returns
	if ret == "" {
		ret = "any"
		if ty, err := returnType(e.fn, argTypes); err == nil {
			ret = typeName(ty)
		}
	}
	return fmt.Sprintf("%s(%s) %s", e.name, strings.Join(parts, ", "), ret)
}

func docTypeAt(e entry, i int, ty cty.Type) string {
	if i < len(e.params) && e.params[i] != "" {
		return e.params[i]
	}
	return typeName(ty)
}

// returnType asks the function for its result type given unknown arguments
// of its parameter types, the same question the compiler asks.
func returnType(fn function.Function, argTypes []cty.Type) (ty cty.Type, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return fn.ReturnType(argTypes)
}

// typeName is the documentation spelling of a type constraint: cty's
// friendly names, with "any" for the dynamic pseudo-type.
func typeName(ty cty.Type) string {
	switch {
	case ty == cty.DynamicPseudoType:
		return "any"
	case ty.Equals(customdecode.ExpressionClosureType):
		return "expression"
	case ty.IsListType():
		return "list of " + typeName(ty.ElementType())
	case ty.IsSetType():
		return "set of " + typeName(ty.ElementType())
	case ty.IsMapType():
		return "map of " + typeName(ty.ElementType())
	}
	return ty.FriendlyNameForConstraint()
}
