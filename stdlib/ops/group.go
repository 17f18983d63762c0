package ops

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/cespare/xxhash/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/params"
)

// groups assigns dense ids to keys in order of first appearance.
type groups struct {
	ids  map[string]int
	keys []cty.Value
	buf  []byte
}

func newGroups() *groups { return &groups{ids: map[string]int{}} }

func (g *groups) id(k cty.Value) int {
	g.buf = appendKey(g.buf[:0], k)
	if id, ok := g.ids[string(g.buf)]; ok {
		return id
	}
	id := len(g.keys)
	g.ids[string(g.buf)] = id
	g.keys = append(g.keys, k)
	return id
}

// seedOf mixes the stage seed with the operator's seed parameter.
func seedOf(x *runtime.Exec) (uint64, error) {
	s, _, err := intParam(x, "seed")
	return x.Seed ^ (uint64(s) * 0x9e3779b97f4a7c15), err
}

// choose returns k distinct indices of [0, n), sorted, drawn uniformly with
// rng (Floyd's algorithm: O(k) memory).
func choose(rng *rand.Rand, n, k int) []int {
	if k >= n {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	set := make(map[int]struct{}, k)
	for j := n - k; j < n; j++ {
		t := rng.IntN(j + 1)
		if _, ok := set[t]; ok {
			set[j] = struct{}{}
		} else {
			set[t] = struct{}{}
		}
	}
	out := make([]int, 0, k)
	for i := range set {
		out = append(out, i)
	}
	sort.Ints(out)
	return out
}

// Sample draws a seeded sample of n records or a fraction, optionally per
// stratum; the kept records stay in input order.
type Sample struct{}

func (Sample) Name() string { return "sample" }
func (Sample) Version() int { return 1 }

func (Sample) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	in, err := inputSchema(x, "input")
	if err != nil {
		return cty.NilVal, err
	}
	n, hasN, err := intParam(x, "n")
	if err != nil {
		return cty.NilVal, err
	}
	frac, hasFrac := params.Number(x, "fraction")
	if hasN == hasFrac {
		return cty.NilVal, stageError(x, "give exactly one of n or fraction")
	}
	if hasN && n < 0 || hasFrac && (frac < 0 || frac > 1) {
		return cty.NilVal, stageError(x, "n must be ≥ 0 and fraction in [0, 1]")
	}
	seed, err := seedOf(x)
	if err != nil {
		return cty.NilVal, err
	}
	// Pass 1, when stratified: the stratum of every record (one int per
	// record). Unstratified, the input's count is all it needs.
	g := newGroups()
	var strata []int32
	_, stratified := x.Items["by"]
	ref, err := x.Dataset("input")
	if err != nil {
		return cty.NilVal, err
	}
	total := int(ref.Count)
	pass2 := each
	if stratified {
		err = each(ctx, x, "input", func(i int64, rec cty.Value) error {
			k, err := item(x, "by", rec, cty.DynamicPseudoType)
			if err != nil {
				return recordError(x, i, err)
			}
			strata = append(strata, int32(g.id(k)))
			return nil
		})
		if err != nil {
			return cty.NilVal, err
		}
		if len(strata) != total {
			return cty.NilVal, stageError(x, "input has %d records, its count says %d", len(strata), total)
		}
		pass2 = eachAgain
	}
	size := func(m int) int {
		if hasN {
			return int(n)
		}
		return int(frac*float64(m) + 0.5)
	}
	keep := make([]bool, total)
	if !stratified {
		rng := rand.New(rand.NewPCG(seed, 0x5a4d))
		for _, i := range choose(rng, total, size(total)) {
			keep[i] = true
		}
	} else {
		members := make([][]int32, len(g.keys))
		for i, s := range strata {
			members[s] = append(members[s], int32(i))
		}
		var buf []byte
		for s, m := range members {
			buf = appendKey(buf[:0], g.keys[s])
			rng := rand.New(rand.NewPCG(seed, xxhash.Sum64(buf)))
			for _, j := range choose(rng, len(m), size(len(m))) {
				keep[m[j]] = true
			}
		}
	}
	return x.WriteDataset(in, func(write func(cty.Value) error) error {
		return pass2(ctx, x, "input", func(i int64, rec cty.Value) error {
			if i > int64(total) {
				return stageError(x, "input has more records than its count says (%d)", total)
			}
			if !keep[i-1] {
				return nil
			}
			return write(rec)
		})
	})
}

// Split splits records into train and test.
type Split struct{}

func (Split) Name() string { return "split" }
func (Split) Version() int { return 1 }

func (Split) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	in, err := inputSchema(x, "input")
	if err != nil {
		return cty.NilVal, err
	}
	frac, ok := params.Number(x, "fraction")
	if !ok || frac < 0 || frac > 1 {
		return cty.NilVal, stageError(x, "fraction must be in [0, 1]")
	}
	seed, err := seedOf(x)
	if err != nil {
		return cty.NilVal, err
	}
	_, byKey := x.Items["key"]
	var test map[int64]bool
	if !byKey {
		ref, err := x.Dataset("input")
		if err != nil {
			return cty.NilVal, err
		}
		rng := rand.New(rand.NewPCG(seed, 0x5b1))
		total := int(ref.Count)
		test = map[int64]bool{}
		for _, i := range choose(rng, total, int(frac*float64(total)+0.5)) {
			test[int64(i)+1] = true
		}
	}
	var buf []byte
	var testV cty.Value
	trainV, err := x.WriteDataset(in, func(writeTrain func(cty.Value) error) error {
		var err error
		testV, err = x.WriteDataset(in, func(writeTest func(cty.Value) error) error {
			return each(ctx, x, "input", func(i int64, rec cty.Value) error {
				isTest := test[i]
				if byKey {
					k, err := item(x, "key", rec, cty.DynamicPseudoType)
					if err != nil {
						return recordError(x, i, err)
					}
					buf = appendKey(buf[:0], k)
					d := xxhash.New()
					var sb [8]byte
					for j := range sb {
						sb[j] = byte(seed >> (8 * j))
					}
					d.Write(sb[:])
					d.Write(buf)
					isTest = float64(d.Sum64()>>11)/(1<<53) < frac
				}
				if isTest {
					return writeTest(rec)
				}
				return writeTrain(rec)
			})
		})
		return err
	})
	if err != nil {
		return cty.NilVal, err
	}
	return cty.ObjectVal(map[string]cty.Value{"train": trainV, "test": testV}), nil
}

// ranked is a record's position and score for top, pair and best_of.
type ranked struct {
	idx   int64
	score float64
	null  bool
	group int
}

// better reports whether a ranks before b: non-null before null, then by
// score (desc or asc), then input order.
func better(a, b ranked, desc bool) bool {
	if a.null != b.null {
		return !a.null
	}
	if a.score != b.score && !a.null {
		if desc {
			return a.score > b.score
		}
		return a.score < b.score
	}
	return a.idx < b.idx
}

func score(x *runtime.Exec, name string, rec cty.Value) (float64, bool, error) {
	v, err := item(x, name, rec, cty.Number)
	if err != nil {
		return 0, false, err
	}
	if v.IsNull() {
		return 0, true, nil
	}
	return float(v), false, nil
}

// Top keeps the k best records by a score, optionally per group. Output:
// groups in order of first appearance, each in rank order (ties keep input
// order); null scores rank last.
type Top struct{}

func (Top) Name() string { return "top" }
func (Top) Version() int { return 1 }

func (Top) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	in, err := inputSchema(x, "input")
	if err != nil {
		return cty.NilVal, err
	}
	k, _, err := intParam(x, "k")
	if err != nil {
		return cty.NilVal, err
	}
	if k < 0 {
		return cty.NilVal, stageError(x, "k must not be negative")
	}
	desc := params.String(x, "order", "desc") == "desc"
	g := newGroups()
	var per [][]ranked
	_, grouped := x.Items["per"]
	err = each(ctx, x, "input", func(i int64, rec cty.Value) error {
		s, null, err := score(x, "by", rec)
		if err != nil {
			return recordError(x, i, err)
		}
		gid := 0
		if grouped {
			kv, err := item(x, "per", rec, cty.DynamicPseudoType)
			if err != nil {
				return recordError(x, i, err)
			}
			gid = g.id(kv)
		}
		for len(per) <= gid {
			per = append(per, nil)
		}
		per[gid] = append(per[gid], ranked{idx: i, score: s, null: null, group: gid})
		return nil
	})
	if err != nil {
		return cty.NilVal, err
	}
	var order []int64
	for _, rs := range per {
		sort.SliceStable(rs, func(a, b int) bool { return better(rs[a], rs[b], desc) })
		if int64(len(rs)) > k {
			rs = rs[:k]
		}
		for _, r := range rs {
			order = append(order, r.idx)
		}
	}
	return writeOrder(ctx, x, in, order)
}

// writeOrder writes the records with the given indices (1-based), in the
// given order, holding only those records.
func writeOrder(ctx context.Context, x *runtime.Exec, schema cty.Type, order []int64) (cty.Value, error) {
	want := make(map[int64]cty.Value, len(order))
	for _, i := range order {
		want[i] = cty.NilVal
	}
	err := eachAgain(ctx, x, "input", func(i int64, rec cty.Value) error {
		if _, ok := want[i]; ok {
			want[i] = rec
		}
		return nil
	})
	if err != nil {
		return cty.NilVal, err
	}
	return x.WriteDataset(schema, func(write func(cty.Value) error) error {
		for _, i := range order {
			if err := write(want[i]); err != nil {
				return recordError(x, i, err)
			}
		}
		return nil
	})
}

// BestOf keeps, per group, the record with the highest score (the first on
// ties; null scores lose). Groups in order of first appearance.
type BestOf struct{}

func (BestOf) Name() string { return "best_of" }
func (BestOf) Version() int { return 1 }

func (BestOf) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	in, err := inputSchema(x, "input")
	if err != nil {
		return cty.NilVal, err
	}
	g := newGroups()
	var best []ranked
	err = each(ctx, x, "input", func(i int64, rec cty.Value) error {
		s, null, err := score(x, "score", rec)
		if err != nil {
			return recordError(x, i, err)
		}
		kv, err := item(x, "group", rec, cty.DynamicPseudoType)
		if err != nil {
			return recordError(x, i, err)
		}
		r := ranked{idx: i, score: s, null: null, group: g.id(kv)}
		if r.group == len(best) {
			best = append(best, r)
		} else if better(r, best[r.group], true) {
			best[r.group] = r
		}
		return nil
	})
	if err != nil {
		return cty.NilVal, err
	}
	order := make([]int64, len(best))
	for i, r := range best {
		order[i] = r.idx
	}
	return writeOrder(ctx, x, in, order)
}

// Group makes one record per key: key, count and the items, in order of
// first appearance. It holds every record in memory.
type Group struct{}

func (Group) Name() string { return "group" }
func (Group) Version() int { return 1 }

func (Group) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	in, err := inputSchema(x, "input")
	if err != nil {
		return cty.NilVal, err
	}
	kt := itemType(x, "key", in)
	g := newGroups()
	var items [][]cty.Value
	err = each(ctx, x, "input", func(i int64, rec cty.Value) error {
		kv, err := item(x, "key", rec, cty.DynamicPseudoType)
		if err != nil {
			return recordError(x, i, err)
		}
		id := g.id(kv)
		if id == len(items) {
			items = append(items, nil)
		}
		items[id] = append(items[id], rec)
		return nil
	})
	if err != nil {
		return cty.NilVal, err
	}
	rtype := in.WithoutOptionalAttributesDeep()
	out := cty.Object(map[string]cty.Type{"key": kt, "count": cty.Number, "items": cty.List(rtype)})
	return x.WriteDataset(out, func(write func(cty.Value) error) error {
		for id, key := range g.keys {
			if kt != cty.DynamicPseudoType && !key.Type().Equals(kt) {
				if c, err := convert.Convert(key, kt); err == nil {
					key = c
				}
			}
			rec := cty.ObjectVal(map[string]cty.Value{"key": key, "count": cty.NumberIntVal(int64(len(items[id]))), "items": cty.ListVal(items[id])})
			if err := write(rec); err != nil {
				return stageError(x, "group %d: %v", id+1, err)
			}
		}
		return nil
	})
}

// Pair builds one preference pair per prompt: chosen = the highest score
// (first on ties), rejected = the lowest (first on ties); pairs whose
// margin is not above min_margin are dropped. Prompts in order of first
// appearance; samples with a null score are ignored.
type Pair struct{}

func (Pair) Name() string { return "pair" }
func (Pair) Version() int { return 1 }

func (Pair) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	margin, _ := params.Number(x, "min_margin")
	type side struct {
		resp  string
		score float64
		set   bool
	}
	type pp struct {
		prompt    string
		hi, lo    side
		hasPrompt bool
	}
	g := newGroups()
	var pairs []*pp
	err := each(ctx, x, "input", func(i int64, rec cty.Value) error {
		p, err := item(x, "prompt", rec, cty.String)
		if err != nil {
			return recordError(x, i, err)
		}
		r, err := item(x, "response", rec, cty.String)
		if err != nil {
			return recordError(x, i, err)
		}
		s, null, err := score(x, "score", rec)
		if err != nil {
			return recordError(x, i, err)
		}
		if p.IsNull() {
			return recordError(x, i, fmt.Errorf("prompt is null"))
		}
		id := g.id(p)
		if id == len(pairs) {
			pairs = append(pairs, &pp{prompt: p.AsString()})
		}
		if null || r.IsNull() {
			return nil
		}
		e := pairs[id]
		resp := r.AsString()
		if !e.hi.set || s > e.hi.score {
			e.hi = side{resp, s, true}
		}
		if !e.lo.set || s < e.lo.score {
			e.lo = side{resp, s, true}
		}
		return nil
	})
	if err != nil {
		return cty.NilVal, err
	}
	out := cty.Object(map[string]cty.Type{"prompt": cty.String, "chosen": cty.String, "rejected": cty.String, "chosen_score": cty.Number, "rejected_score": cty.Number})
	var dropped int64
	v, err := x.WriteDataset(out, func(write func(cty.Value) error) error {
		for _, e := range pairs {
			if !e.hi.set || e.hi.score-e.lo.score <= margin {
				dropped++
				continue
			}
			err := write(cty.ObjectVal(map[string]cty.Value{
				"prompt": cty.StringVal(e.prompt), "chosen": cty.StringVal(e.hi.resp), "rejected": cty.StringVal(e.lo.resp),
				"chosen_score": cty.NumberFloatVal(e.hi.score), "rejected_score": cty.NumberFloatVal(e.lo.score),
			}))
			if err != nil {
				return stageError(x, "%v", err)
			}
		}
		return nil
	})
	if err == nil {
		x.Count("dropped", dropped)
	}
	return v, err
}

// Vote is self-consistency: per group, the majority answer (nulls do not
// vote; ties go to the answer seen first), its votes and the agreement
// rate votes / non-null answers. One record per group: the group's first
// record plus majority, votes and agreement.
type Vote struct{}

func (Vote) Name() string { return "vote" }
func (Vote) Version() int { return 1 }

func (Vote) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	in, err := inputSchema(x, "input")
	if err != nil {
		return cty.NilVal, err
	}
	at := itemType(x, "answer", in)
	type tally struct {
		first  cty.Value
		counts map[string]int
		order  []string
		values map[string]cty.Value
		votes  int
	}
	g := newGroups()
	var ts []*tally
	var buf []byte
	err = each(ctx, x, "input", func(i int64, rec cty.Value) error {
		gv, err := item(x, "group", rec, cty.DynamicPseudoType)
		if err != nil {
			return recordError(x, i, err)
		}
		av, err := item(x, "answer", rec, cty.DynamicPseudoType)
		if err != nil {
			return recordError(x, i, err)
		}
		id := g.id(gv)
		if id == len(ts) {
			ts = append(ts, &tally{first: rec, counts: map[string]int{}, values: map[string]cty.Value{}})
		}
		if av.IsNull() {
			return nil
		}
		t := ts[id]
		buf = appendKey(buf[:0], av)
		k := string(buf)
		if _, ok := t.counts[k]; !ok {
			t.order = append(t.order, k)
			t.values[k] = av
		}
		t.counts[k]++
		t.votes++
		return nil
	})
	if err != nil {
		return cty.NilVal, err
	}
	out := extend(in, map[string]cty.Type{"majority": at, "votes": cty.Number, "agreement": cty.Number})
	return x.WriteDataset(out, func(write func(cty.Value) error) error {
		for id, t := range ts {
			maj, votes := cty.NullVal(at), 0
			for _, k := range t.order {
				if t.counts[k] > votes {
					maj, votes = t.values[k], t.counts[k]
				}
			}
			agree := cty.NumberIntVal(0)
			if t.votes > 0 {
				agree = cty.NumberFloatVal(float64(votes) / float64(t.votes))
			}
			if at != cty.DynamicPseudoType && !maj.Type().Equals(at) {
				if c, err := convert.Convert(maj, at); err == nil {
					maj = c
				}
			}
			rec := with(t.first, map[string]cty.Value{"majority": maj, "votes": cty.NumberIntVal(int64(votes)), "agreement": agree})
			if err := write(rec); err != nil {
				return stageError(x, "group %d: %v", id+1, err)
			}
		}
		return nil
	})
}

// Join is an inner join on equal keys. The right side is held in memory;
// output follows the left order, then the right order for several matches.
// Null keys match nothing.
type Join struct{}

func (Join) Name() string { return "join" }
func (Join) Version() int { return 1 }

func (Join) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	left, err := inputSchema(x, "left")
	if err != nil {
		return cty.NilVal, err
	}
	right, err := inputSchema(x, "right")
	if err != nil {
		return cty.NilVal, err
	}
	index := map[string][]cty.Value{}
	var buf []byte
	err = each(ctx, x, "right", func(i int64, rec cty.Value) error {
		k, err := item(x, "right_key", rec, cty.DynamicPseudoType)
		if err != nil {
			return fmt.Errorf("%s: right record %d: %w", x.Node.Address, i, err)
		}
		if k.IsNull() {
			return nil
		}
		buf = appendKey(buf[:0], k)
		index[string(buf)] = append(index[string(buf)], rec)
		return nil
	})
	if err != nil {
		return cty.NilVal, err
	}
	out := extend(left, right.AttributeTypes())
	return x.WriteDataset(out, func(write func(cty.Value) error) error {
		return each(ctx, x, "left", func(i int64, rec cty.Value) error {
			k, err := item(x, "left_key", rec, cty.DynamicPseudoType)
			if err != nil {
				return fmt.Errorf("%s: left record %d: %w", x.Node.Address, i, err)
			}
			if k.IsNull() {
				return nil
			}
			buf = appendKey(buf[:0], k)
			for _, r := range index[string(buf)] {
				m := map[string]cty.Value{}
				for it := r.ElementIterator(); it.Next(); {
					k, v := it.Element()
					m[k.AsString()] = v
				}
				if err := write(with(rec, m)); err != nil {
					return fmt.Errorf("%s: left record %d: %w", x.Node.Address, i, err)
				}
			}
			return nil
		})
	})
}
