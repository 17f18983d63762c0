package funcs

import (
	"math"
	"math/big"
	"sort"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// prec is the precision of aggregate arithmetic, the same as cty's own
// number arithmetic and parsing.
const prec = 512

// seqParam is a parameter taking a list, set or tuple. Its type is "any" so
// that all three reach the function unconverted; the Type callback checks
// the element types. AllowDynamicType lets an argument whose type is not yet
// known still produce a typed (unknown) result.
func seqParam(desc string) function.Parameter {
	return function.Parameter{
		Name:             "values",
		Description:      desc,
		Type:             cty.DynamicPseudoType,
		AllowDynamicType: true,
	}
}

// seqElemType checks that ty is a list, set or tuple whose elements are of
// type want (cty.DynamicPseudoType: any type, unified across a tuple's
// elements) and returns the element type. An element type that is not known
// yet (dynamic) is accepted.
func seqElemType(ty, want cty.Type) (cty.Type, error) {
	var elems []cty.Type
	switch {
	case ty == cty.DynamicPseudoType:
		return want, nil
	case ty.IsListType() || ty.IsSetType():
		elems = []cty.Type{ty.ElementType()}
	case ty.IsTupleType():
		elems = ty.TupleElementTypes()
	default:
		return cty.NilType, function.NewArgErrorf(0, "must be a list, set or tuple, not %s", ty.FriendlyName())
	}
	if want != cty.DynamicPseudoType {
		for i, et := range elems {
			if et != want && et != cty.DynamicPseudoType {
				if ty.IsTupleType() {
					return cty.NilType, function.NewArgErrorf(0, "element %d is %s; all elements must be %s", i, et.FriendlyName(), want.FriendlyName())
				}
				return cty.NilType, function.NewArgErrorf(0, "must be a collection of %s, not %s", want.FriendlyName(), ty.FriendlyName())
			}
		}
		return want, nil
	}
	switch len(elems) {
	case 0:
		return cty.DynamicPseudoType, nil
	case 1:
		return elems[0], nil
	}
	unified, _ := convert.Unify(elems)
	if unified == cty.NilType {
		return cty.NilType, function.NewArgErrorf(0, "elements must all be of one type (or convertible to one)")
	}
	return unified, nil
}

// seqFunc builds an aggregate over a collection of elem with a static result
// type. impl sees a known collection with every element known (otherwise the
// result is unknown) and converted to elem.
func seqFunc(desc, paramDesc string, elem, result cty.Type, refine func(*cty.RefinementBuilder) *cty.RefinementBuilder, impl func(elems []cty.Value) (cty.Value, error)) function.Function {
	return function.New(&function.Spec{
		Description: desc,
		Params:      []function.Parameter{seqParam(paramDesc)},
		Type: func(args []cty.Value) (cty.Type, error) {
			if _, err := seqElemType(args[0].Type(), elem); err != nil {
				return cty.NilType, err
			}
			return result, nil
		},
		RefineResult: refine,
		Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
			if !args[0].IsWhollyKnown() {
				return cty.UnknownVal(retType), nil
			}
			elems, err := elements(args[0], elem, false)
			if err != nil {
				return cty.NilVal, err
			}
			return impl(elems)
		},
	})
}

// elements returns the elements of a known list, set or tuple, converted to
// elem. Null elements are an error unless allowNull.
func elements(v cty.Value, elem cty.Type, allowNull bool) ([]cty.Value, error) {
	out := make([]cty.Value, 0, v.LengthInt())
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, ev := it.Element()
		if ev.IsNull() {
			if !allowNull {
				return nil, function.NewArgErrorf(0, "element %d is null", i)
			}
			out = append(out, cty.NullVal(elem))
			continue
		}
		cv, err := convert.Convert(ev, elem)
		if err != nil {
			return nil, function.NewArgErrorf(0, "element %d: %s", i, err)
		}
		out = append(out, cv)
	}
	return out, nil
}

func floats(elems []cty.Value) []*big.Float {
	fs := make([]*big.Float, len(elems))
	for i, e := range elems {
		fs[i] = new(big.Float).SetPrec(prec).Set(e.AsBigFloat())
	}
	return fs
}

func bigSum(fs []*big.Float) *big.Float {
	s := new(big.Float).SetPrec(prec)
	for _, f := range fs {
		s.Add(s, f)
	}
	return s
}

func bigMean(fs []*big.Float) *big.Float {
	n := new(big.Float).SetPrec(prec).SetInt64(int64(len(fs)))
	return new(big.Float).SetPrec(prec).Quo(bigSum(fs), n)
}

// orNull makes an aggregate that has no value for an empty collection
// return a null number for it.
func orNull(impl func(elems []cty.Value) (cty.Value, error)) func(elems []cty.Value) (cty.Value, error) {
	return func(elems []cty.Value) (cty.Value, error) {
		if len(elems) == 0 {
			return cty.NullVal(cty.Number), nil
		}
		return impl(elems)
	}
}

// share is n/of, computed exactly at prec and rounded once; null when of
// is 0.
func share(n, of int) cty.Value {
	if of == 0 {
		return cty.NullVal(cty.Number)
	}
	q := new(big.Float).SetPrec(prec).SetInt64(int64(n))
	return cty.NumberVal(q.Quo(q, new(big.Float).SetPrec(prec).SetInt64(int64(of))))
}

func notNull(b *cty.RefinementBuilder) *cty.RefinementBuilder { return b.NotNull() }

func nonNegative(b *cty.RefinementBuilder) *cty.RefinementBuilder {
	return b.NotNull().NumberRangeLowerBound(cty.Zero, true)
}

// MeanFunc is the arithmetic mean of a collection of numbers.
var MeanFunc = seqFunc(
	"Returns the arithmetic mean of a list, set or tuple of numbers, or null when it is empty (write coalesce(mean(xs), 0) for a default). A null element is an error. Computed exactly at cty's 512-bit precision.",
	"The numbers to average.",
	cty.Number, cty.Number, nil,
	orNull(func(elems []cty.Value) (cty.Value, error) {
		return cty.NumberVal(bigMean(floats(elems))), nil
	}))

// SumFunc is the sum of a collection of numbers.
var SumFunc = seqFunc(
	"Returns the sum of a list, set or tuple of numbers; 0 when it is empty. A null element is an error.",
	"The numbers to add up.",
	cty.Number, cty.Number, notNull,
	func(elems []cty.Value) (cty.Value, error) {
		return cty.NumberVal(bigSum(floats(elems))), nil
	})

// MedianFunc is the median of a collection of numbers.
var MedianFunc = seqFunc(
	"Returns the median of a list, set or tuple of numbers: the middle value once sorted, or the mean of the two middle values when the count is even. Null when empty; a null element is an error.",
	"The numbers.",
	cty.Number, cty.Number, nil,
	orNull(func(elems []cty.Value) (cty.Value, error) {
		fs := floats(elems)
		sort.SliceStable(fs, func(i, j int) bool { return fs[i].Cmp(fs[j]) < 0 })
		mid := len(fs) / 2
		if len(fs)%2 == 1 {
			return cty.NumberVal(fs[mid]), nil
		}
		return cty.NumberVal(bigMean(fs[mid-1 : mid+1])), nil
	}))

// StddevFunc is the population standard deviation of a collection of numbers.
var StddevFunc = seqFunc(
	"Returns the population standard deviation of a list, set or tuple of numbers: the square root of the mean squared distance from the mean (dividing by n, like numpy.std; 0 for one element). Null when empty; a null element is an error.",
	"The numbers.",
	cty.Number, cty.Number, nil,
	orNull(func(elems []cty.Value) (cty.Value, error) {
		fs := floats(elems)
		m := bigMean(fs)
		sq := make([]*big.Float, len(fs))
		for i, f := range fs {
			d := new(big.Float).SetPrec(prec).Sub(f, m)
			sq[i] = d.Mul(d, d)
		}
		return cty.NumberVal(new(big.Float).SetPrec(prec).Sqrt(bigMean(sq))), nil
	}))

func countTrue(elems []cty.Value) int {
	n := 0
	for _, e := range elems {
		if e.True() {
			n++
		}
	}
	return n
}

// CountTrueFunc counts the true elements of a collection of bools.
var CountTrueFunc = seqFunc(
	"Returns how many elements of a list, set or tuple of bools are true; 0 when it is empty. A null element is an error.",
	"The bools to count.",
	cty.Bool, cty.Number, nonNegative,
	func(elems []cty.Value) (cty.Value, error) {
		return cty.NumberIntVal(int64(countTrue(elems))), nil
	})

// FractionFunc is the share of true elements in a collection of bools.
var FractionFunc = seqFunc(
	"Returns the share of elements of a list, set or tuple of bools that are true, between 0 and 1 (accuracy from per-item scores). Null when empty; a null element is an error.",
	"The bools.",
	cty.Bool, cty.Number, nil,
	func(elems []cty.Value) (cty.Value, error) {
		return share(countTrue(elems), len(elems)), nil
	})

// vote returns the most common non-null element (ties: the one whose first
// occurrence comes first), how many elements equal it, and NilVal when there
// was no vote at all.
func vote(elems []cty.Value) (cty.Value, int, error) {
	counts := make(map[string]int, len(elems))
	keys := make([]string, len(elems))
	for i, e := range elems {
		if e.IsNull() {
			continue
		}
		k, err := ctyjson.Marshal(e, cty.DynamicPseudoType)
		if err != nil {
			return cty.NilVal, 0, function.NewArgErrorf(0, "element %d: %s", i, err)
		}
		keys[i] = string(k)
		counts[keys[i]]++
	}
	best, bestCount := -1, 0
	for i, e := range elems {
		// Strictly greater: among tied values the earliest one stays.
		if !e.IsNull() && counts[keys[i]] > bestCount {
			best, bestCount = i, counts[keys[i]]
		}
	}
	if best < 0 {
		return cty.NilVal, 0, nil
	}
	return elems[best], bestCount, nil
}

func voteFunc(desc string, agreement bool) function.Function {
	return function.New(&function.Spec{
		Description: desc,
		Params:      []function.Parameter{seqParam("The values to vote over, for example the extracted answers of several samples.")},
		Type: func(args []cty.Value) (cty.Type, error) {
			et, err := seqElemType(args[0].Type(), cty.DynamicPseudoType)
			if err != nil {
				return cty.NilType, err
			}
			if agreement {
				return cty.Number, nil
			}
			return et, nil
		},
		Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
			if !args[0].IsWhollyKnown() {
				return cty.UnknownVal(retType), nil
			}
			et, err := seqElemType(args[0].Type(), cty.DynamicPseudoType)
			if err != nil {
				return cty.NilVal, err
			}
			elems, err := elements(args[0], et, true)
			if err != nil {
				return cty.NilVal, err
			}
			winner, count, err := vote(elems)
			if err != nil {
				return cty.NilVal, err
			}
			if agreement {
				return share(count, len(elems)), nil
			}
			if winner == cty.NilVal {
				return cty.NullVal(retType), nil
			}
			return winner, nil
		},
	})
}

// MajorityFunc is the most common value of a collection.
var MajorityFunc = voteFunc(
	"Returns the most common value of a list, set or tuple (self-consistency voting); on a tie, the tied value that occurs first wins (a set's order is cty's set order). Values are compared by type and value, so 2 and 2.0 are the same vote. Null elements are abstentions; null when the collection is empty or all null. A tuple's elements are first converted to one common type.",
	false)

// AgreementFunc is the share of a collection equal to its majority value.
var AgreementFunc = voteFunc(
	"Returns the share of elements of a list, set or tuple equal to its majority value (see majority), between 0 and 1: a confidence for self-consistency. Null elements count in the denominator but never agree, so an all-null collection gives 0. Null when empty.",
	true)

// PassAtKFunc is the unbiased pass@k estimator of Chen et al. (2021).
var PassAtKFunc = function.New(&function.Spec{
	Description: "Returns the unbiased estimate of pass@k from Chen et al. 2021 (\"Evaluating Large Language Models Trained on Code\"): given n samples of which c are correct, the probability that at least one of k samples drawn without replacement is correct, 1 - C(n-c, k) / C(n, k), computed from the product form 1 - prod(1 - k/i, i = n-c+1..n) exactly as a fraction and rounded once (so pass_at_k(10, 3, 1) == 0.3), or in float64 when c exceeds 10000. " +
		"n, c and k must be whole numbers with 0 <= c <= n and 1 <= k <= n; the result is 1 when n - c < k. Average it over problems with mean.",
	Params: []function.Parameter{
		{Name: "n", Description: "Number of samples generated for the problem.", Type: cty.Number},
		{Name: "c", Description: "Number of those samples that are correct.", Type: cty.Number},
		{Name: "k", Description: "The k of pass@k.", Type: cty.Number},
	},
	Type: function.StaticReturnType(cty.Number),
	RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder {
		return b.NotNull().NumberRangeInclusive(cty.Zero, cty.NumberIntVal(1))
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		var v [3]int64
		for i, name := range []string{"n", "c", "k"} {
			f := args[i].AsBigFloat()
			n, acc := f.Int64()
			if !f.IsInt() || acc != big.Exact {
				return cty.NilVal, function.NewArgErrorf(i, "%s must be a whole number, got %s", name, f.Text('g', -1))
			}
			v[i] = n
		}
		n, c, k := v[0], v[1], v[2]
		switch {
		case n < 0:
			return cty.NilVal, function.NewArgErrorf(0, "n must not be negative, got %d", n)
		case c < 0 || c > n:
			return cty.NilVal, function.NewArgErrorf(1, "c must be between 0 and n (%d), got %d", n, c)
		case k < 1 || k > n:
			return cty.NilVal, function.NewArgErrorf(2, "k must be between 1 and n (%d), got %d", n, k)
		}
		if n-c < k {
			return cty.NumberIntVal(1), nil
		}
		return cty.NumberVal(passAtK(n, c, k)), nil
	},
})

// exactPassAtKLimit bounds the size of the exact computation: beyond it the
// product's integers grow to hundreds of thousands of bits and float64 is
// used instead.
const exactPassAtKLimit = 10000

// passAtK computes 1 - prod_{i=n-c+1..n} (i-k)/i for 0 <= n-c, k <= n, n-c >= k.
func passAtK(n, c, k int64) *big.Float {
	if c > exactPassAtKLimit {
		p := 1.0
		for i := n - c + 1; i <= n; i++ {
			p *= 1 - float64(k)/float64(i)
		}
		return big.NewFloat(math.Min(1, math.Max(0, 1-p)))
	}
	num, den := big.NewInt(1), big.NewInt(1)
	var t big.Int
	for i := n - c + 1; i <= n; i++ {
		num.Mul(num, t.SetInt64(i-k))
		den.Mul(den, t.SetInt64(i))
	}
	r := new(big.Rat).SetFrac(new(big.Int).Sub(den, num), den)
	return new(big.Float).SetPrec(prec).SetRat(r)
}
