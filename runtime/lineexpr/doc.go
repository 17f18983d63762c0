// Package lineexpr evaluates per-item expressions (a filter's `where`, a
// map's `fields`) directly on canonical dataset lines, without building a
// cty value for the record or running HCL's evaluator.
//
// It is a fast path only, in the way runtime/dataset.Decode is: Compile
// accepts the common subset of the language (literals, `item.a.b`
// references, references to already-known values such as `var.x`,
// comparisons, `&&`, `||`, `!`, conditionals, string templates, exact
// integer arithmetic and calls of the spec's functions on primitive
// values), and for each record Eval either returns exactly the value HCL
// would (the same canonical bytes, the same truth) or declines (ok =
// false). The caller then evaluates that record on the general path, which
// also words every error. Whatever lineexpr cannot prove equal — a number
// comparison too close to call in float64, a non-ASCII string through a
// case mapping, a null operand, an expression it does not know — it
// declines. A differential test and a fuzz target compare it with HCL.
//
// It knows the canonical line format (sorted keys, no whitespace, the
// canonical number and string encodings of runtime/dataset) and nothing
// about operators: stdlib/ops decides where to use it.
package lineexpr
