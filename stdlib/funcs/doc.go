// Package funcs is the function table of ouro's spec language: every function
// a `.loop.hcl` expression may call, from `mean(scores)` in a metric to
// `extract_number(item.completion)` in a per-item score.
//
// The table is the go-cty standard library (numbers, strings, collections,
// JSON/CSV encoding, type conversion), `try` and `can` from hcl's tryfunc
// extension, and ouro's own functions for working with model output: answer
// extraction (extract_number, extract_int, extract_json), aggregates and
// metrics (mean, median, stddev, majority, agreement, pass_at_k, ...) and
// string helpers (normalize, startswith, word_count, lines, ...).
// [Table] hands out a fresh map; [Docs] describes every entry and is the
// source of docs/functions.md.
//
// Where the job stops: every function here is pure. No I/O, no clock, no
// randomness, no models, no knowledge of datasets or stages; the same
// arguments always give the same result. Operators (generate, filter, sft...)
// live in the stdlib operator packages, and deciding *where* a function may be
// called is the compiler's business, not this package's.
//
// Type checking. The compiler checks a spec by evaluating its expressions with
// cty.UnknownVal of the right type, so every function here answers an unknown
// argument of an acceptable type with an unknown result of its exact result
// type (a dynamic-typed argument gives the static result type when there is
// one), and rejects an argument of a wrong type during that same evaluation.
// Aggregates accept a list, a set or a tuple; an unknown element anywhere in
// the argument makes the result unknown.
//
// Nulls and empties. Extraction functions take a null string and return null,
// and return null when nothing is found. Aggregates that have no defined value
// on an empty collection (mean, median, stddev, fraction, majority, agreement)
// return a null number (or a null of the element type, for majority) instead
// of failing, so `coalesce(mean(xs), 0)` states a default where one is wanted;
// sum and count_true of an empty collection are 0. Null elements inside a
// numeric or boolean aggregate are an error; majority and agreement treat a
// null element as an abstention. All other functions reject null arguments as
// cty does by default. Marked values are unmarked for the call and the marks
// are carried over to the result.
package funcs
