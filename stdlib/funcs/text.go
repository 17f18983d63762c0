package funcs

import (
	"math/big"
	"strings"
	"unicode"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

func strParam(name, desc string) function.Parameter {
	return function.Parameter{Name: name, Description: desc, Type: cty.String, AllowDynamicType: true}
}

// NormalizeFunc canonicalises a short answer for comparison.
var NormalizeFunc = function.New(&function.Spec{
	Description:  "Returns the string made comparable as a short answer: lowercased (Unicode), every run of whitespace collapsed to one space, and whitespace and punctuation (Unicode category P, e.g. . , ! ? \" ' * ( )) removed from both ends; punctuation inside is kept. normalize(\"  **Paris**.\\n\") is \"paris\"; normalize(\"The  Answer: 42!\") is \"the answer: 42\".",
	Params:       []function.Parameter{strParam("str", "The string to normalize.")},
	Type:         function.StaticReturnType(cty.String),
	RefineResult: notNull,
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		s := strings.Join(strings.Fields(strings.ToLower(args[0].AsString())), " ")
		s = strings.TrimFunc(s, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSpace(r) })
		return cty.StringVal(s), nil
	},
})

func strPredicate(desc, second string, pred func(s, t string) bool) function.Function {
	return function.New(&function.Spec{
		Description: desc,
		Params: []function.Parameter{
			strParam("str", "The string to test."),
			strParam(second, "The string to look for."),
		},
		Type:         function.StaticReturnType(cty.Bool),
		RefineResult: notNull,
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(pred(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

// ContainsStrFunc tests for a substring.
var ContainsStrFunc = strPredicate(
	"Returns true if substr occurs in str (case-sensitive, byte-exact; combine with lower or normalize for looser matching). An empty substr is always found. For lists use contains.",
	"substr", strings.Contains)

// StartsWithFunc tests for a prefix.
var StartsWithFunc = strPredicate(
	"Returns true if str begins with prefix (case-sensitive, byte-exact). An empty prefix always matches.",
	"prefix", strings.HasPrefix)

// EndsWithFunc tests for a suffix.
var EndsWithFunc = strPredicate(
	"Returns true if str ends with suffix (case-sensitive, byte-exact). An empty suffix always matches.",
	"suffix", strings.HasSuffix)

// StrlenFunc counts user-perceived characters.
var StrlenFunc = stdlib.StrlenFunc.WithNewDescriptions(
	"Returns the number of Unicode characters in the string, counted as user-perceived characters (grapheme clusters): \"é\" is 1 whether written as one code point or as e plus a combining accent, and an emoji with modifiers is 1. This is the unit substr and strrev use; it is not the byte length.",
	[]string{"The string to measure."})

// ReverseStrFunc reverses a string by user-perceived characters.
var ReverseStrFunc = stdlib.ReverseFunc.WithNewDescriptions(
	"Returns the string with its Unicode characters (grapheme clusters, as counted by strlen) in reverse order, so combining accents stay on their letter. The same function as strrev, under the name used next to strlen and word_count.",
	[]string{"The string to reverse."})

// WordCountFunc counts whitespace-separated words.
var WordCountFunc = function.New(&function.Spec{
	Description:  "Returns the number of words in the string: maximal runs of non-whitespace characters, with whitespace as Unicode defines it (spaces, tabs, newlines, no-break space...). Punctuation is part of the word it touches: \"Hello, world!\" has 2 words. 0 for an empty or all-whitespace string.",
	Params:       []function.Parameter{strParam("str", "The string to count the words of.")},
	Type:         function.StaticReturnType(cty.Number),
	RefineResult: nonNegative,
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.NumberIntVal(int64(len(strings.Fields(args[0].AsString())))), nil
	},
})

// LinesFunc splits a string into lines.
var LinesFunc = function.New(&function.Spec{
	Description: "Returns the lines of the string as a list of strings: split at \"\\n\", with a \"\\r\" before it removed (Windows line endings), and a final newline ending the last line rather than starting an empty one. lines(\"\") is []; lines(\"a\\n\\nb\\n\") is [\"a\", \"\", \"b\"].",
	Params:      []function.Parameter{strParam("str", "The string to split.")},
	Type:        function.StaticReturnType(cty.List(cty.String)),
	RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder {
		return b.NotNull().CollectionLengthLowerBound(0)
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		s := strings.TrimSuffix(args[0].AsString(), "\n")
		if args[0].AsString() == "" {
			return cty.ListValEmpty(cty.String), nil
		}
		parts := strings.Split(s, "\n")
		vals := make([]cty.Value, len(parts))
		for i, p := range parts {
			vals[i] = cty.StringVal(strings.TrimSuffix(p, "\r"))
		}
		return cty.ListVal(vals), nil
	},
})

// DigitsFunc counts the decimal digits of an integer.
var DigitsFunc = function.New(&function.Spec{
	Description: "Returns the number of decimal digits of a whole number, ignoring its sign: digits(0) is 1, digits(-120) is 3. Arbitrarily large integers are counted exactly. A number with a fractional part is an error.",
	Params: []function.Parameter{{
		Name:             "num",
		Description:      "A whole number.",
		Type:             cty.Number,
		AllowDynamicType: true,
	}},
	Type: function.StaticReturnType(cty.Number),
	RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder {
		return b.NotNull().NumberRangeLowerBound(cty.NumberIntVal(1), true)
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		f := args[0].AsBigFloat()
		if f.IsInf() || !f.IsInt() {
			return cty.NilVal, function.NewArgErrorf(0, "digits needs a whole number, got %s", f.Text('g', -1))
		}
		i, _ := f.Int(nil)
		return cty.NumberIntVal(int64(len(new(big.Int).Abs(i).String()))), nil
	},
})
