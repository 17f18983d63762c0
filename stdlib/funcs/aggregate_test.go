package funcs

import (
	"math"
	"math/big"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestNumericAggregates(t *testing.T) {
	null := cty.NullVal(cty.Number)
	unk := cty.UnknownVal(cty.Number)
	empty := cty.ListValEmpty(cty.Number)
	set := cty.SetVal([]cty.Value{num(1), num(2), num(6)})
	tup := tuple([]cty.Value{num(1), numf(2.5)})
	withUnknown := cty.ListVal([]cty.Value{num(1), unk})
	withNull := cty.ListVal([]cty.Value{num(1), null})
	runCases(t, []callCase{
		c("mean", numf(2.5), nums(1, 2, 3, 4)),
		c("mean", num(3), set),
		c("mean", numf(1.75), tup),
		c("mean", null, empty),
		c("mean", null, cty.EmptyTupleVal),
		c("mean", null, cty.SetValEmpty(cty.Number)),
		c("mean", unk, cty.UnknownVal(cty.List(cty.Number))),
		c("mean", unk, cty.UnknownVal(cty.Set(cty.Number))),
		c("mean", unk, cty.UnknownVal(cty.Tuple([]cty.Type{cty.Number}))),
		c("mean", unk, cty.UnknownVal(cty.List(cty.DynamicPseudoType))),
		c("mean", unk, cty.DynamicVal),
		c("mean", unk, withUnknown),
		c("mean", unk, tuple([]cty.Value{num(1), cty.DynamicVal})),
		c("mean", num(2).Mark("m"), nums(1, 3).Mark("m")),
		e("mean", "element 1 is null", withNull),
		e("mean", "must not be null", cty.NullVal(cty.List(cty.Number))),
		e("mean", "must be a collection of number", cty.ListVal([]cty.Value{str("1")})),
		e("mean", "must be a collection of number", cty.UnknownVal(cty.List(cty.String))),
		e("mean", "element 1 is string", tuple([]cty.Value{num(1), str("x")})),
		e("mean", "must be a list, set or tuple", num(3)),
		e("mean", "must be a list, set or tuple", cty.MapVal(map[string]cty.Value{"a": num(1)})),

		c("sum", num(10), nums(1, 2, 3, 4)),
		c("sum", num(0), empty),
		c("sum", num(0), cty.EmptyTupleVal),
		c("sum", unk.RefineNotNull(), cty.UnknownVal(cty.List(cty.Number))),
		c("sum", numf(3.5), tup),
		e("sum", "element 0 is null", cty.ListVal([]cty.Value{null})),

		c("median", num(2), nums(3, 1, 2)),
		c("median", numf(2.5), nums(4, 1, 3, 2)),
		c("median", num(7), nums(7)),
		c("median", null, empty),
		c("median", unk, cty.UnknownVal(cty.List(cty.Number))),

		c("stddev", num(2), nums(2, 4, 4, 4, 5, 5, 7, 9)),
		c("stddev", num(0), nums(5)),
		c("stddev", null, empty),
		c("stddev", unk, cty.UnknownVal(cty.Set(cty.Number))),
	})
}

func TestBoolAggregates(t *testing.T) {
	null := cty.NullVal(cty.Number)
	unk := cty.UnknownVal(cty.Number)
	runCases(t, []callCase{
		c("count_true", num(2), bools(true, false, true)),
		c("count_true", num(0), cty.ListValEmpty(cty.Bool)),
		c("count_true", num(1), tuple([]cty.Value{cty.True, cty.False})),
		c("count_true", unk.Refine().NotNull().NumberRangeLowerBound(cty.Zero, true).NewValue(), cty.UnknownVal(cty.List(cty.Bool))),
		e("count_true", "must be a collection of bool", nums(1)),
		e("count_true", "element 1 is null", cty.ListVal([]cty.Value{cty.True, cty.NullVal(cty.Bool)})),

		c("fraction", numf(0.75), bools(true, true, false, true)),
		c("fraction", num(0), bools(false)),
		c("fraction", null, cty.ListValEmpty(cty.Bool)),
		c("fraction", unk, cty.UnknownVal(cty.List(cty.Bool))),
		c("fraction", unk, cty.ListVal([]cty.Value{cty.True, cty.UnknownVal(cty.Bool)})),
	})
}

func TestFractionOfThirds(t *testing.T) {
	got, err := FractionFunc.Call([]cty.Value{bools(true, false, false)})
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := got.AsBigFloat().Float64(); math.Abs(f-1.0/3) > 1e-15 {
		t.Fatalf("fraction = %v, want 1/3", f)
	}
}

func TestVoting(t *testing.T) {
	strs := func(xs ...string) cty.Value {
		vs := make([]cty.Value, len(xs))
		for i, x := range xs {
			vs[i] = str(x)
		}
		return cty.ListVal(vs)
	}
	nullStr := cty.NullVal(cty.String)
	withNulls := cty.ListVal([]cty.Value{nullStr, str("b"), nullStr, nullStr, str("b"), str("a")})
	allNull := cty.ListVal([]cty.Value{nullStr, nullStr})
	objs := cty.ListVal([]cty.Value{
		cty.ObjectVal(map[string]cty.Value{"x": num(1)}),
		cty.ObjectVal(map[string]cty.Value{"x": num(2)}),
		cty.ObjectVal(map[string]cty.Value{"x": num(2)}),
	})
	runCases(t, []callCase{
		c("majority", str("a"), strs("a", "b", "a")),
		c("majority", str("a"), strs("a", "b", "b", "a")), // tie: first in order
		c("majority", str("b"), strs("b", "a")),
		c("majority", num(2), tuple([]cty.Value{num(1), num(2), numf(2.0)})),
		c("majority", str("1"), tuple([]cty.Value{num(1), str("1"), str("2")})), // unified to string
		c("majority", str("b"), withNulls),
		c("majority", nullStr, allNull),
		c("majority", nullStr, cty.ListValEmpty(cty.String)),
		c("majority", cty.NullVal(cty.DynamicPseudoType), cty.EmptyTupleVal),
		c("majority", cty.ObjectVal(map[string]cty.Value{"x": num(2)}), objs),
		c("majority", cty.UnknownVal(cty.String), cty.UnknownVal(cty.List(cty.String))),
		c("majority", cty.UnknownVal(cty.Number), cty.ListVal([]cty.Value{num(1), cty.UnknownVal(cty.Number)})),
		c("majority", cty.DynamicVal, cty.DynamicVal),
		c("majority", str("x").Mark("m"), cty.ListVal([]cty.Value{str("x").Mark("m")})),
		e("majority", "one type", tuple([]cty.Value{num(1), cty.ListValEmpty(cty.String)})),

		c("agreement", numf(0.75), strs("a", "b", "a", "a")),
		c("agreement", numf(0.5), strs("a", "b", "b", "a")),
		c("agreement", num(1), strs("z")),
		c("agreement", ratio(1, 3), withNulls), // "b" twice in 6
		c("agreement", num(0), allNull),
		c("agreement", cty.NullVal(cty.Number), cty.ListValEmpty(cty.String)),
		c("agreement", cty.UnknownVal(cty.Number), cty.UnknownVal(cty.List(cty.String))),
		c("agreement", cty.UnknownVal(cty.Number), cty.DynamicVal),
	})
}

func TestPassAtK(t *testing.T) {
	unk := cty.UnknownVal(cty.Number).Refine().NotNull().NumberRangeInclusive(cty.Zero, num(1)).NewValue()
	runCases(t, []callCase{
		c("pass_at_k", num(1), num(10), num(10), num(1)),
		c("pass_at_k", num(0), num(10), num(0), num(5)),
		c("pass_at_k", cty.MustParseNumberVal("0.3"), num(10), num(3), num(1)),
		c("pass_at_k", num(1), num(10), num(8), num(3)), // n-c < k
		c("pass_at_k", unk, num(10), cty.UnknownVal(cty.Number), num(1)),
		e("pass_at_k", "k must be between 1 and n", num(10), num(3), num(11)),
		e("pass_at_k", "k must be between 1 and n", num(10), num(3), num(0)),
		e("pass_at_k", "c must be between 0 and n", num(10), num(11), num(1)),
		e("pass_at_k", "whole number", num(10), numf(2.5), num(1)),
		e("pass_at_k", "must not be null", cty.NullVal(cty.Number), num(1), num(1)),
	})
	// Against the closed form 1 - C(n-c, k)/C(n, k) for all small n.
	binom := func(n, k int) float64 {
		if k < 0 || k > n {
			return 0
		}
		r := 1.0
		for i := 1; i <= k; i++ {
			r = r * float64(n-k+i) / float64(i)
		}
		return r
	}
	for n := 1; n <= 12; n++ {
		for cc := 0; cc <= n; cc++ {
			for k := 1; k <= n; k++ {
				got, err := PassAtKFunc.Call([]cty.Value{num(int64(n)), num(int64(cc)), num(int64(k))})
				if err != nil {
					t.Fatal(err)
				}
				g, _ := got.AsBigFloat().Float64()
				want := 1 - binom(n-cc, k)/binom(n, k)
				if math.Abs(g-want) > 1e-12 {
					t.Errorf("pass_at_k(%d, %d, %d) = %v, want %v", n, cc, k, g, want)
				}
			}
		}
	}
}

// ratio is a/b at the precision of cty's number literals.
func ratio(a, b int64) cty.Value {
	f := new(big.Float).SetPrec(512).SetInt64(a)
	return cty.NumberVal(f.Quo(f, new(big.Float).SetPrec(512).SetInt64(b)))
}
