package ops_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/runtimetest"
)

var gs = cty.Object(map[string]cty.Type{"g": cty.String, "r": cty.String, "s": cty.Number})

func gsRec(g, r string, s any) cty.Value {
	sv := cty.NullVal(cty.Number)
	switch x := s.(type) {
	case int:
		sv = cty.NumberIntVal(int64(x))
	case float64:
		sv = cty.NumberFloatVal(x)
	}
	gv := cty.StringVal(g)
	if g == "<null>" {
		gv = cty.NullVal(cty.String)
	}
	return cty.ObjectVal(map[string]cty.Value{"g": gv, "r": cty.StringVal(r), "s": sv})
}

func scored(env *runtimetest.Env, t *testing.T) cty.Value {
	return env.DatasetOf(t, gs, []cty.Value{
		gsRec("p1", "a", 1), gsRec("p2", "b", 5), gsRec("p1", "c", 3), gsRec("p1", "d", 3),
		gsRec("p2", "e", nil), gsRec("<null>", "f", 2), gsRec("p3", "g", 4), gsRec("<null>", "h", 7), gsRec("p3", "ü", 4),
	})
}

func TestDedupeExact(t *testing.T) {
	env := newEnv(t)
	in := scored(env, t)
	recs, x := mustRun(t, env, "dedupe", runtimetest.Call{Params: map[string]cty.Value{"input": in}, Items: map[string]string{"key": "item.g"}})
	eq(t, field(recs, "r"), "a", "b", "f", "g") // null keys group together
	if x.Counts["dropped"] != 5 {
		t.Fatal(x.Counts)
	}
	recs, _ = mustRun(t, env, "dedupe", runtimetest.Call{Params: map[string]cty.Value{"input": in}, Items: map[string]string{"key": "item.s"}})
	eq(t, field(recs, "r"), "a", "b", "c", "e", "f", "g", "h")
	// whole record
	dup := env.DatasetOf(t, gs, []cty.Value{gsRec("x", "y", 1), gsRec("x", "y", 1.0), gsRec("x", "y", 2), gsRec("x", "y", nil), gsRec("x", "y", nil)})
	recs, _ = mustRun(t, env, "dedupe", runtimetest.Call{Params: map[string]cty.Value{"input": dup}})
	eq(t, field(recs, "s"), "1", "2", "null")
	empty := env.DatasetOf(t, gs, nil)
	recs, _ = mustRun(t, env, "dedupe", runtimetest.Call{Params: map[string]cty.Value{"input": empty}})
	if len(recs) != 0 {
		t.Fatal(recs)
	}
}

func TestDedupeMinhash(t *testing.T) {
	env := newEnv(t)
	ts := cty.Object(map[string]cty.Type{"text": cty.String})
	base := "write a short poem about the sea and the wind at night near the old harbour town"
	texts := []string{
		base,
		base + " please", // near duplicate
		"Write a short poem about the SEA and the wind at night, near the old harbour town!", // same words
		"explain how a binary search tree keeps its keys ordered and how lookups work",
		"",
		"",
		"日本語 の 文章 を 書い て ください とても 長い 文章 です",
	}
	var recs []cty.Value
	for _, s := range texts {
		recs = append(recs, cty.ObjectVal(map[string]cty.Value{"text": cty.StringVal(s)}))
	}
	in := env.DatasetOf(t, ts, recs)
	out, x := mustRun(t, env, "dedupe", runtimetest.Call{Params: map[string]cty.Value{"input": in, "method": cty.StringVal("minhash"), "threshold": cty.NumberFloatVal(0.7)}, Items: map[string]string{"text": "item.text"}})
	eq(t, field(out, "text"), base, texts[3], "", texts[6])
	if x.Counts["dropped"] != 3 {
		t.Fatal(x.Counts)
	}
	// deterministic over many records, independent of batching
	recs = recs[:0]
	for i := 0; i < 3000; i++ {
		recs = append(recs, cty.ObjectVal(map[string]cty.Value{"text": cty.StringVal(fmt.Sprintf("document number %d talks about topic %d in some detail %s", i%1500, i%7, strings.Repeat("x ", i%3)))}))
	}
	in = env.DatasetOf(t, ts, recs)
	v1, _, err := run(t, env, "dedupe", runtimetest.Call{Params: map[string]cty.Value{"input": in, "method": cty.StringVal("minhash")}, Items: map[string]string{"text": "item.text"}})
	if err != nil {
		t.Fatal(err)
	}
	v2, _, _ := run(t, env, "dedupe", runtimetest.Call{Params: map[string]cty.Value{"input": in, "method": cty.StringVal("minhash")}, Items: map[string]string{"text": "item.text"}})
	if !v1.RawEquals(v2) {
		t.Fatal("minhash dedupe is not deterministic")
	}
}

func TestSampleAndSplit(t *testing.T) {
	env := newEnv(t)
	var recs []cty.Value
	for i := 0; i < 100; i++ {
		recs = append(recs, gsRec([]string{"a", "b", "c", "d"}[i%4], fmt.Sprint(i), i))
	}
	in := env.DatasetOf(t, gs, recs)
	out, _ := mustRun(t, env, "sample", runtimetest.Call{Params: map[string]cty.Value{"input": in, "n": cty.NumberIntVal(10)}, Seed: 7})
	if len(out) != 10 {
		t.Fatal(len(out))
	}
	again, _ := mustRun(t, env, "sample", runtimetest.Call{Params: map[string]cty.Value{"input": in, "n": cty.NumberIntVal(10)}, Seed: 7})
	eq(t, field(again, "r"), field(out, "r")...)
	other, _ := mustRun(t, env, "sample", runtimetest.Call{Params: map[string]cty.Value{"input": in, "n": cty.NumberIntVal(10), "seed": cty.NumberIntVal(1)}, Seed: 7})
	if strings.Join(field(other, "r"), ",") == strings.Join(field(out, "r"), ",") {
		t.Fatal("seed param does not change the sample")
	}
	strat, _ := mustRun(t, env, "sample", runtimetest.Call{Params: map[string]cty.Value{"input": in, "fraction": cty.NumberFloatVal(0.2)}, Items: map[string]string{"by": "item.g"}})
	count := map[string]int{}
	for _, g := range field(strat, "g") {
		count[g]++
	}
	if len(strat) != 20 || count["a"] != 5 || count["d"] != 5 {
		t.Fatal(count)
	}
	all, _ := mustRun(t, env, "sample", runtimetest.Call{Params: map[string]cty.Value{"input": in, "n": cty.NumberIntVal(1000)}})
	if len(all) != 100 {
		t.Fatal(len(all))
	}
	_, _, err := run(t, env, "sample", runtimetest.Call{Params: map[string]cty.Value{"input": in}})
	errContains(t, err, "exactly one of n or fraction")

	v, _, err := run(t, env, "split", runtimetest.Call{Params: map[string]cty.Value{"input": in, "fraction": cty.NumberFloatVal(0.25)}})
	if err != nil {
		t.Fatal(err)
	}
	train, test := env.ReadAll(t, v.GetAttr("train")), env.ReadAll(t, v.GetAttr("test"))
	if len(train) != 75 || len(test) != 25 {
		t.Fatal(len(train), len(test))
	}
	v, _, err = run(t, env, "split", runtimetest.Call{Params: map[string]cty.Value{"input": in, "fraction": cty.NumberFloatVal(0.5)}, Items: map[string]string{"key": "item.g"}})
	if err != nil {
		t.Fatal(err)
	}
	side := map[string]string{}
	for _, pair := range []struct {
		name string
		v    cty.Value
	}{{"train", v.GetAttr("train")}, {"test", v.GetAttr("test")}} {
		for _, g := range field(env.ReadAll(t, pair.v), "g") {
			if s, ok := side[g]; ok && s != pair.name {
				t.Fatalf("key %s on both sides", g)
			}
			side[g] = pair.name
		}
	}
}

func TestTopBestOfPairVoteGroupJoin(t *testing.T) {
	env := newEnv(t)
	in := scored(env, t)
	empty := env.DatasetOf(t, gs, nil)

	out, _ := mustRun(t, env, "top", runtimetest.Call{Params: map[string]cty.Value{"input": in, "k": cty.NumberIntVal(3)}, Items: map[string]string{"by": "item.s"}})
	eq(t, field(out, "r"), "h", "b", "g") // 7, 5, 4 (g before ü: input order)
	out, _ = mustRun(t, env, "top", runtimetest.Call{Params: map[string]cty.Value{"input": in, "k": cty.NumberIntVal(1), "order": cty.StringVal("asc")}, Items: map[string]string{"by": "item.s", "per": "item.g"}})
	eq(t, field(out, "r"), "a", "b", "f", "g") // p2: b (e's null ranks last)
	out, _ = mustRun(t, env, "top", runtimetest.Call{Params: map[string]cty.Value{"input": empty, "k": cty.NumberIntVal(1)}, Items: map[string]string{"by": "item.s"}})
	if len(out) != 0 {
		t.Fatal(out)
	}

	out, _ = mustRun(t, env, "best_of", runtimetest.Call{Params: map[string]cty.Value{"input": in}, Items: map[string]string{"group": "item.g", "score": "item.s"}})
	eq(t, field(out, "r"), "c", "b", "h", "g") // p1: c (tie with d, first wins)

	out, x := mustRun(t, env, "pair", runtimetest.Call{Params: map[string]cty.Value{"input": in}, Items: map[string]string{"prompt": `coalesce(item.g, "none")`, "response": "item.r", "score": "item.s"}})
	eq(t, field(out, "prompt"), "p1", "none")
	eq(t, field(out, "chosen"), "c", "h")
	eq(t, field(out, "rejected"), "a", "f")
	if x.Counts["dropped"] != 2 { // p2 (one scored sample), p3 (tie)
		t.Fatal(x.Counts)
	}
	out, _ = mustRun(t, env, "pair", runtimetest.Call{Params: map[string]cty.Value{"input": in, "min_margin": cty.NumberIntVal(3)}, Items: map[string]string{"prompt": `coalesce(item.g, "none")`, "response": "item.r", "score": "item.s"}})
	eq(t, field(out, "prompt"), "none")

	votes := env.DatasetOf(t, gs, []cty.Value{gsRec("q1", "x", 1), gsRec("q1", "y", 2), gsRec("q1", "z", 2), gsRec("q2", "x", nil), gsRec("q3", "x", 1), gsRec("q3", "y", 2), gsRec("q3", "z", nil)})
	out, _ = mustRun(t, env, "vote", runtimetest.Call{Params: map[string]cty.Value{"input": votes}, Items: map[string]string{"group": "item.g", "answer": "item.s"}})
	eq(t, field(out, "g"), "q1", "q2", "q3")
	eq(t, field(out, "r"), "x", "x", "x") // the group's first record
	eq(t, field(out, "majority"), "2", "null", "1")
	eq(t, field(out, "votes"), "2", "0", "1")
	eq(t, field(out, "agreement"), "0.6666666666666666", "0", "0.5")

	out, _ = mustRun(t, env, "group", runtimetest.Call{Params: map[string]cty.Value{"input": in}, Items: map[string]string{"key": "item.g"}})
	eq(t, field(out, "key"), "p1", "p2", "null", "p3")
	eq(t, field(out, "count"), "3", "2", "2", "2")

	right := env.Dataset(t, []cty.Value{obj("g", "p1", "label", "one"), obj("g", "p3", "label", "three"), obj("g", "p1", "label", "uno")})
	out, _ = mustRun(t, env, "join", runtimetest.Call{Params: map[string]cty.Value{"left": in, "right": right}, Items: map[string]string{"left_key": "item.g", "right_key": "item.g"}})
	eq(t, field(out, "r"), "a", "a", "c", "c", "d", "d", "g", "ü")
	eq(t, field(out, "label"), "one", "uno", "one", "uno", "one", "uno", "three", "three")
}

func TestCommand(t *testing.T) {
	env := newEnv(t)
	in := env.DatasetOf(t, qa, []cty.Value{qaRec("a", 1), qaRec("ü", 2)})
	list := func(s ...string) cty.Value {
		var v []cty.Value
		for _, x := range s {
			v = append(v, cty.StringVal(x))
		}
		return cty.ListVal(v)
	}
	out, _ := mustRun(t, env, "command", runtimetest.Call{
		Params:  map[string]cty.Value{"input": in, "command": list("sh", "-c", `sed 's/"question"/"text"/'; echo '{"text":"'"$EXTRA"'","answer":9}'`), "env": cty.MapVal(map[string]cty.Value{"EXTRA": cty.StringVal("from env")})},
		Schemas: map[string]cty.Type{"schema": cty.Object(map[string]cty.Type{"text": cty.String, "answer": cty.Number})},
	})
	eq(t, field(out, "text"), "a", "ü", "from env")
	schema := map[string]cty.Type{"schema": qa}
	for _, tc := range []struct {
		name string
		cmd  []string
		err  []string
	}{
		{"bad line", []string{"sh", "-c", `echo '{"question":"a","answer":1}'; echo 'oops'`}, []string{"stage.test", "command", "output line 2", "invalid JSON"}},
		{"wrong type", []string{"sh", "-c", `echo '{"question":"a","answer":"x"}'`}, []string{"output line 1", `field "answer"`}},
		{"exit", []string{"sh", "-c", `echo boom >&2; exit 3`}, []string{"exit status 3", "boom"}},
		{"timeout", []string{"sleep", "10"}, []string{"timed out"}},
		{"missing", []string{"/nonexistent/prog"}, []string{"/nonexistent/prog"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := blobCount(t, env)
			_, _, err := run(t, env, "command", runtimetest.Call{Params: map[string]cty.Value{"command": list(tc.cmd...), "timeout": cty.StringVal("300ms")}, Schemas: schema})
			errContains(t, err, tc.err...)
			if blobCount(t, env) != before {
				t.Fatal("failed command committed a blob")
			}
		})
	}
}

// TestProgressCountsEachInputRecordOnce: an operator that reads its input
// twice (a stratified sample, top and best_of write in a second pass)
// reports each input record once, so its items match its input.
func TestProgressCountsEachInputRecordOnce(t *testing.T) {
	env := newEnv(t)
	var recs []cty.Value
	for i := 0; i < 100; i++ {
		recs = append(recs, gsRec([]string{"a", "b", "c", "d"}[i%4], fmt.Sprint(i), i))
	}
	in := env.DatasetOf(t, gs, recs)
	for _, tc := range []struct {
		op   string
		call runtimetest.Call
	}{
		{"sample", runtimetest.Call{Params: map[string]cty.Value{"input": in, "n": cty.NumberIntVal(10)}}},
		{"sample", runtimetest.Call{Params: map[string]cty.Value{"input": in, "fraction": cty.NumberFloatVal(0.2)}, Items: map[string]string{"by": "item.g"}}},
		{"top", runtimetest.Call{Params: map[string]cty.Value{"input": in, "k": cty.NumberIntVal(3)}, Items: map[string]string{"by": "item.s"}}},
		{"best_of", runtimetest.Call{Items: map[string]string{"group": "item.g", "score": "item.s"}, Params: map[string]cty.Value{"input": in}}},
		{"filter", runtimetest.Call{Params: map[string]cty.Value{"input": in}, Items: map[string]string{"where": "item.s < 10"}}},
	} {
		tc.call.Sig = sig(t, tc.op)
		x := env.Exec(t, tc.call)
		ctr := &runtime.Counter{}
		x.Progress = ctr
		if _, err := operator(t, tc.op).Run(context.Background(), x); err != nil {
			t.Fatalf("%s: %v", tc.op, err)
		}
		if ctr.Done() != 100 || ctr.Total() != 100 {
			t.Errorf("%s %v: progress %d of %d, want 100 of 100", tc.op, tc.call.Items, ctr.Done(), ctr.Total())
		}
	}
}
