// Package pattern implements ouro's extraction patterns: a small language
// that turns free-form model output into typed fields.
//
//	Reasoning: {why:line}[ Confidence: {conf:int}]
//
// A pattern is literal text with {name:type} captures and optional groups
// in [ ]; \{ \} \[ \] \\ escape the five special characters. The capture
// types are number, int, string, word, line and json; ObjectType derives
// the cty object type of the extracted fields, so the compiler can
// type-check every downstream expression against what the model is asked to
// emit, before anything runs. docs/patterns.md is the user reference.
//
// # Parsing
//
// Parse is a participle grammar over a two-state lexer (outside and inside
// a capture). Because every byte sequence lexes, all errors are found by
// this package's own checks and carry exact byte offsets into the source:
// unbalanced braces and brackets and bad escapes on the token stream,
// names, types (with a "did you mean") and duplicates on the tree. All
// errors are reported at once, as an ErrorList. ParseExpr does the same for
// a pattern written as an HCL string literal and maps each error to the
// hcl.Range of the offending characters inside the string, escapes
// included.
//
// # Matching
//
// A pattern compiles once into a flat program run by a backtracking
// matcher; an optional group is a split that prefers its body. Match finds
// the leftmost match. Literal text matches exactly (case-sensitive) except
// that any whitespace run matches any whitespace run. number, int, line and
// json are possessive: they take the longest text of their form and never
// give any back; word is greedy and gives back; string is lazy, and must be
// followed by something that consumes text unless it reaches the end of the
// text, which makes "{s:string}[ ...]" take the text up to the group or to
// the end rather than nothing. The matcher memoises failed states once a
// search gets long, which keeps adversarial inputs polynomial.
//
// # Boundaries
//
// The package neither evaluates HCL nor does I/O: it receives a string (or
// an unevaluated literal expression) and a text, and returns cty values.
// Deciding which attribute holds a pattern, and using the extracted values,
// is the compiler's and the operators' job.
package pattern
