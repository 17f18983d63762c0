package funcs

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestTextHelpers(t *testing.T) {
	strList := func(xs ...string) cty.Value {
		if len(xs) == 0 {
			return cty.ListValEmpty(cty.String)
		}
		vs := make([]cty.Value, len(xs))
		for i, x := range xs {
			vs[i] = str(x)
		}
		return cty.ListVal(vs)
	}
	unkStr := cty.UnknownVal(cty.String)
	unkBool := cty.UnknownVal(cty.Bool).RefineNotNull()
	runCases(t, []callCase{
		c("normalize", str("paris"), str("  **Paris**.\n")),
		c("normalize", str("the answer: 42"), str("The  Answer:\t42!")),
		c("normalize", str("élan vital"), str("« ÉLAN\u00a0 Vital »")),
		c("normalize", str("$5"), str("$5.")),
		c("normalize", str(""), str(" ... ")),
		c("normalize", unkStr.RefineNotNull(), unkStr),
		e("normalize", "must not be null", cty.NullVal(cty.String)),

		c("contains_str", cty.True, str("the answer is 4"), str("answer")),
		c("contains_str", cty.False, str("the answer is 4"), str("Answer")),
		c("contains_str", cty.True, str("x"), str("")),
		c("contains_str", cty.True, str("naïve café"), str("é")),
		c("contains_str", unkBool, unkStr, str("a")),
		c("startswith", cty.True, str("Answer: 4"), str("Answer:")),
		c("startswith", cty.False, str("answer: 4"), str("Answer:")),
		c("startswith", cty.True, str(""), str("")),
		c("startswith", unkBool, str("a"), unkStr),
		c("endswith", cty.True, str("done.</s>"), str("</s>")),
		c("endswith", cty.False, str("done"), str("done.")),
		e("endswith", "must not be null", str("x"), cty.NullVal(cty.String)),

		c("strlen", num(5), str("héllo")),
		c("strlen", num(1), str("e\u0301")),
		c("strlen", num(2), str("日本")),
		c("strlen", num(1), str("👍🏽")),
		c("strlen", num(0), str("")),
		c("reverse_str", str("olléh"), str("héllo")),
		c("reverse_str", str("be\u0301a"), str("ae\u0301b")),
		c("reverse_str", str(""), str("")),
		c("word_count", num(2), str("Hello, world!")),
		c("word_count", num(3), str("  one\ttwo\nthree  ")),
		c("word_count", num(2), str("a\u00a0b")),
		c("word_count", num(0), str("   ")),
		c("word_count", num(0), str("")),
		c("word_count", cty.UnknownVal(cty.Number).Refine().NotNull().NumberRangeLowerBound(cty.Zero, true).NewValue(), unkStr),

		c("lines", strList("a", "", "b"), str("a\n\nb\n")),
		c("lines", strList("a", "b"), str("a\r\nb")),
		c("lines", strList(""), str("\n")),
		c("lines", strList(), str("")),
		c("lines", strList("ünï", "cödé"), str("ünï\ncödé")),
		c("lines", cty.UnknownVal(cty.List(cty.String)).RefineNotNull(), unkStr),

		c("digits", num(1), num(0)),
		c("digits", num(3), num(-120)),
		c("digits", num(1), num(7)),
		c("digits", num(31), cty.MustParseNumberVal("1234567890123456789012345678901")),
		c("digits", num(2), numf(10.0)),
		c("digits", cty.UnknownVal(cty.Number).Refine().NotNull().NumberRangeLowerBound(num(1), true).NewValue(), cty.UnknownVal(cty.Number)),
		e("digits", "whole number", numf(1.5)),
	})
}
