package ops_test

import (
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime/runtimetest"
)

func TestFilter(t *testing.T) {
	env := newEnv(t)
	in := env.DatasetOf(t, qa, []cty.Value{qaRec("a", 1), qaRec("b", nil), qaRec("ç☃", 3), qaRec("d", 4)})
	empty := env.DatasetOf(t, qa, nil)
	for _, tc := range []struct {
		name, where string
		in          cty.Value
		want        []string
	}{
		{"greater", "item.answer == null ? false : item.answer > 2", in, []string{"ç☃", "d"}},
		{"null is false", "item.answer == null ? null : item.answer < 2", in, []string{"a"}},
		{"unicode", `item.question == "ç☃"`, in, []string{"ç☃"}},
		{"all", "true", in, []string{"a", "b", "ç☃", "d"}},
		{"empty input", "true", empty, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, _ := mustRun(t, env, "filter", runtimetest.Call{Params: map[string]cty.Value{"input": tc.in}, Items: map[string]string{"where": tc.where}})
			eq(t, field(recs, "question"), tc.want...)
		})
	}
	t.Run("error names stage and record", func(t *testing.T) {
		before := blobCount(t, env)
		_, _, err := run(t, env, "filter", runtimetest.Call{Params: map[string]cty.Value{"input": in}, Items: map[string]string{"where": "item.answer > 2"}})
		errContains(t, err, "stage.test: record 2", "where")
		if blobCount(t, env) != before {
			t.Fatal("a failed stage committed a blob")
		}
	})
}

func TestMap(t *testing.T) {
	env := newEnv(t)
	in := env.DatasetOf(t, qa, []cty.Value{qaRec("a", 1), qaRec("日本", nil)})
	recs, _ := mustRun(t, env, "map", runtimetest.Call{
		Params: map[string]cty.Value{"input": in, "drop": cty.ListVal([]cty.Value{cty.StringVal("answer")})},
		Items:  map[string]string{"fields": `{ len = length(regexall(".", item.question)), doubled = item.answer == null ? null : item.answer * 2, question = upper(item.question) }`},
	})
	eq(t, field(recs, "question"), "A", "日本")
	eq(t, field(recs, "len"), "1", "2")
	eq(t, field(recs, "doubled"), "2", "null")
	if recs[0].Type().HasAttribute("answer") {
		t.Fatal("answer not dropped")
	}
	// empty input still gets the right schema
	empty := env.DatasetOf(t, qa, nil)
	v, _, err := run(t, env, "map", runtimetest.Call{Params: map[string]cty.Value{"input": empty}, Items: map[string]string{"fields": `{ n = 1 }`}})
	if err != nil {
		t.Fatal(err)
	}
	if got := env.ReadAll(t, v); len(got) != 0 {
		t.Fatal(got)
	}
	// a field error names the record
	_, _, err = run(t, env, "map", runtimetest.Call{Params: map[string]cty.Value{"input": in}, Items: map[string]string{"fields": `{ n = item.answer + 1 }`}})
	errContains(t, err, "record 2", "fields")
	// unknown drop
	_, _, err = run(t, env, "map", runtimetest.Call{Params: map[string]cty.Value{"input": in}, Items: map[string]string{"fields": `{ n = 1 }`}})
	if err != nil {
		t.Fatal(err)
	}
	// drop alone: no fields = {} needed; every other field kept as it was
	recs, _ = mustRun(t, env, "map", runtimetest.Call{
		Params: map[string]cty.Value{"input": in, "drop": cty.ListVal([]cty.Value{cty.StringVal("answer")})},
	})
	eq(t, field(recs, "question"), "a", "日本")
	if len(recs) != 2 || recs[0].Type().HasAttribute("answer") {
		t.Fatalf("drop only: %v", recs)
	}
}

func TestExtract(t *testing.T) {
	env := newEnv(t)
	schema := cty.Object(map[string]cty.Type{"completion": cty.String})
	mk := func(s any) cty.Value {
		if s == nil {
			return cty.ObjectVal(map[string]cty.Value{"completion": cty.NullVal(cty.String)})
		}
		return cty.ObjectVal(map[string]cty.Value{"completion": cty.StringVal(s.(string))})
	}
	in := env.DatasetOf(t, schema, []cty.Value{mk("so... Answer: 42"), mk("no idea"), mk(nil), mk("Ответ Answer: -3.5 ☃")})
	recs, _ := mustRun(t, env, "extract", runtimetest.Call{
		Params:   map[string]cty.Value{"input": in},
		Items:    map[string]string{"from": "item.completion"},
		Patterns: map[string]string{"pattern": "Answer: {answer:number}"},
	})
	var got []string
	for _, r := range recs {
		p := r.GetAttr("parsed")
		if p.IsNull() {
			t.Fatalf("parsed is null in %#v: a record that does not match gets null fields, not a null object", r)
		}
		got = append(got, show(p.GetAttr("answer")))
	}
	eq(t, got, "42", "null", "null", "-3.5")
	recs, x := mustRun(t, env, "extract", runtimetest.Call{
		Params:   map[string]cty.Value{"input": in, "as": cty.StringVal("p"), "on_mismatch": cty.StringVal("drop")},
		Items:    map[string]string{"from": "item.completion"},
		Patterns: map[string]string{"pattern": "Answer: {answer:number}"},
	})
	if len(recs) != 2 || x.Counts["dropped"] != 2 || !recs[0].Type().HasAttribute("p") {
		t.Fatalf("drop: %d records, counts %v", len(recs), x.Counts)
	}
}

func TestConcat(t *testing.T) {
	env := newEnv(t)
	a := env.DatasetOf(t, qa, []cty.Value{qaRec("a", 1), qaRec("b", nil)})
	b := env.DatasetOf(t, qa, nil)
	c := env.DatasetOf(t, qa, []cty.Value{qaRec("ü", 3)})
	recs, _ := mustRun(t, env, "concat", runtimetest.Call{Params: map[string]cty.Value{"inputs": cty.TupleVal([]cty.Value{a, b, c, a})}})
	eq(t, field(recs, "question"), "a", "b", "ü", "a", "b")
	other := env.Dataset(t, []cty.Value{obj("question", 1)})
	_, err := env.Build(runtimetest.Call{Sig: sig(t, "concat"), Params: map[string]cty.Value{"inputs": cty.TupleVal([]cty.Value{a, other})}})
	if err == nil {
		t.Fatal("concat of different schemas: no error")
	}
}

func TestVerify(t *testing.T) {
	env := newEnv(t)
	ae := cty.Object(map[string]cty.Type{"a": cty.DynamicPseudoType, "e": cty.DynamicPseudoType})
	mk := func(a, e cty.Value) cty.Value { return cty.ObjectVal(map[string]cty.Value{"a": a, "e": e}) }
	s, n, null := cty.StringVal, cty.NumberFloatVal, cty.NullVal(cty.DynamicPseudoType)
	for _, tc := range []struct {
		check string
		recs  []cty.Value
		want  []string
		extra map[string]cty.Value
	}{
		{"exact", []cty.Value{mk(n(42), n(42)), mk(n(42), s("42")), mk(s("x"), s("y")), mk(null, null), mk(s("é"), s("é"))}, []string{"true", "true", "false", "false", "true"}, nil},
		{"numeric", []cty.Value{mk(n(1.0000001), n(1)), mk(s("1,234"), n(1234)), mk(s("abc"), n(1)), mk(null, n(1)), mk(n(1.1), n(1))}, []string{"true", "true", "false", "false", "false"}, nil},
		{"numeric", []cty.Value{mk(n(1.1), n(1))}, []string{"true"}, map[string]cty.Value{"tolerance": n(0.2)}},
		{"normalized", []cty.Value{mk(s("The  Eiffel Tower."), s("eiffel tower")), mk(s("ＡＢＣ"), s("abc")), mk(s("x"), s("y"))}, []string{"true", "true", "false"}, nil},
		{"regex", []cty.Value{mk(s("answer is 42"), s(`\b42\b`)), mk(s("420"), s(`^42$`)), mk(null, s("x"))}, []string{"true", "false", "false"}, nil},
		{"json", []cty.Value{mk(s(`{"b":1,"a":[1,2]}`), s(`{"a":[1,2],"b":1.0}`)), mk(s(`[1,2]`), s(`[2,1]`)), mk(s(`{bad`), s(`{}`))}, []string{"true", "false", "false"}, nil},
	} {
		t.Run(tc.check, func(t *testing.T) {
			in := env.DatasetOf(t, ae, tc.recs)
			params := map[string]cty.Value{"input": in, "check": s(tc.check)}
			for k, v := range tc.extra {
				params[k] = v
			}
			recs, _ := mustRun(t, env, "verify", runtimetest.Call{Params: params, Items: map[string]string{"answer": "item.a", "expected": "item.e"}})
			eq(t, field(recs, "correct"), tc.want...)
		})
	}
	t.Run("bad regex", func(t *testing.T) {
		in := env.DatasetOf(t, ae, []cty.Value{mk(s("x"), s("("))})
		_, _, err := run(t, env, "verify", runtimetest.Call{Params: map[string]cty.Value{"input": in, "check": s("regex")}, Items: map[string]string{"answer": "item.a", "expected": "item.e"}})
		errContains(t, err, "record 1", "invalid regular expression")
	})
	t.Run("command", func(t *testing.T) {
		in := env.DatasetOf(t, ae, []cty.Value{mk(n(4), n(4)), mk(n(5), n(4)), mk(s("ß"), s("ß"))})
		// the checker compares answer and expected with jq-free shell: pass when the JSON has equal fields
		script := `read l; a=$(printf '%s' "$l" | sed 's/.*"answer":\([^,]*\),.*/\1/'); e=$(printf '%s' "$l" | sed 's/.*"expected":\([^,]*\),.*/\1/'); [ "$a" = "$e" ]`
		recs, _ := mustRun(t, env, "verify", runtimetest.Call{
			Params: map[string]cty.Value{"input": in, "check": s("command"), "command": cty.ListVal([]cty.Value{s("sh"), s("-c"), s(script)})},
			Items:  map[string]string{"answer": "item.a", "expected": "item.e"},
		})
		eq(t, field(recs, "correct"), "true", "false", "true")
		recs, x := mustRun(t, env, "verify", runtimetest.Call{
			Params: map[string]cty.Value{"input": in, "check": s("command"), "timeout": s("200ms"), "command": cty.ListVal([]cty.Value{s("sh"), s("-c"), s("sleep 5")})},
			Items:  map[string]string{"answer": "item.a"},
		})
		eq(t, field(recs, "correct"), "false", "false", "false")
		if x.Counts["timeouts"] != 3 {
			t.Fatal(x.Counts)
		}
		_, _, err := run(t, env, "verify", runtimetest.Call{
			Params: map[string]cty.Value{"input": in, "check": s("command"), "command": cty.ListVal([]cty.Value{s("/nonexistent/checker")})},
			Items:  map[string]string{"answer": "item.a"},
		})
		errContains(t, err, "record 1", "/nonexistent/checker")
	})
}
