package ops_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime/runtimetest"
)

func TestDatasetFiles(t *testing.T) {
	env := newEnv(t)
	copyFixture(t, env, "good.jsonl", "wrongtype.jsonl", "truncated.jsonl", "good.csv", "ragged.csv", "extra.jsonl")
	src := func(p string) map[string]cty.Value { return map[string]cty.Value{"source": cty.StringVal(p)} }
	for _, tc := range []struct {
		name   string
		params map[string]cty.Value
		schema bool
		want   []string // answers
		err    []string
		counts int64 // skipped
	}{
		{name: "jsonl", params: src("good.jsonl"), schema: true, want: []string{"2", "3.5", "null"}},
		{name: "csv", params: src("good.csv"), schema: true, want: []string{"2", "3.5", "null"}},
		{name: "extra fields ignored", params: src("extra.jsonl"), schema: true, want: []string{"1", "2"}},
		{name: "wrong type", params: src("wrongtype.jsonl"), schema: true, err: []string{"stage.test", "wrongtype.jsonl:2", `field "answer"`, "want number"}},
		{name: "wrong type skipped", params: map[string]cty.Value{"source": cty.StringVal("wrongtype.jsonl"), "on_error": cty.StringVal("skip")}, schema: true, want: []string{"1", "3"}, counts: 1},
		{name: "truncated", params: src("truncated.jsonl"), schema: true, err: []string{"truncated.jsonl:3", "invalid JSON", "truncated"}},
		{name: "ragged csv", params: src("ragged.csv"), schema: true, err: []string{"ragged.csv:3", "3 fields", "header has 2"}},
		{name: "ragged csv skipped", params: map[string]cty.Value{"source": cty.StringVal("ragged.csv"), "on_error": cty.StringVal("skip")}, schema: true, want: []string{"1", "3"}, counts: 1},
		{name: "glob", params: src("g*.jsonl"), schema: true, want: []string{"2", "3.5", "null"}},
		{name: "limit", params: map[string]cty.Value{"source": cty.StringVal("good.jsonl"), "limit": cty.NumberIntVal(2)}, schema: true, want: []string{"2", "3.5"}},
		{name: "inferred", params: src("good.jsonl"), want: []string{"2", "3.5", "null"}},
		{name: "inferred csv", params: src("good.csv"), want: []string{"2", "3.5", "null"}},
		{name: "missing file", params: src("nope.jsonl"), schema: true, err: []string{"nope.jsonl"}},
		{name: "no match", params: src("*.none"), schema: true, err: []string{"matches no files"}},
		{name: "rows", params: map[string]cty.Value{"rows": cty.TupleVal([]cty.Value{qaRec("a", 1), qaRec("ü", nil)})}, schema: true, want: []string{"1", "null"}},
		{name: "rows bad", params: map[string]cty.Value{"rows": cty.TupleVal([]cty.Value{qaRec("a", 1), obj("question", "b", "answer", "x")})}, schema: true, err: []string{"rows[1]", `field "answer"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := runtimetest.Call{Params: tc.params}
			if tc.schema {
				c.Schemas = map[string]cty.Type{"schema": qa}
			}
			before := blobCount(t, env)
			v, x, err := run(t, env, "dataset", c)
			if tc.err != nil {
				errContains(t, err, tc.err...)
				if blobCount(t, env) != before {
					t.Fatal("a failed dataset committed a blob")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			recs := env.ReadAll(t, v)
			eq(t, field(recs, "answer"), tc.want...)
			if x.Counts["skipped"] != tc.counts {
				t.Fatalf("skipped = %d, want %d", x.Counts["skipped"], tc.counts)
			}
			if !recs[0].Type().AttributeType("answer").Equals(cty.Number) {
				t.Fatalf("answer type %s", recs[0].Type().AttributeType("answer").GoString())
			}
		})
	}
}

type pqRow struct {
	Question string  `parquet:"question"`
	Answer   float64 `parquet:"answer"`
}

type pqOther struct {
	Prompt string `parquet:"prompt"`
	Score  int64  `parquet:"score"`
}

func TestDatasetParquet(t *testing.T) {
	env := newEnv(t)
	write := func(name string, rows any) {
		f, err := os.Create(filepath.Join(env.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		switch r := rows.(type) {
		case []pqRow:
			err = parquet.Write(f, r)
		case []pqOther:
			err = parquet.Write(f, r)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	write("good.parquet", []pqRow{{"1+1", 2}, {"ünï", 3.5}})
	write("other.parquet", []pqOther{{"p", 1}})
	os.WriteFile(filepath.Join(env.Dir, "junk.parquet"), []byte("PAR1 not really"), 0o644)

	recs, _ := mustRun(t, env, "dataset", runtimetest.Call{Params: map[string]cty.Value{"source": cty.StringVal("good.parquet")}, Schemas: map[string]cty.Type{"schema": qa}})
	eq(t, field(recs, "question"), "1+1", "ünï")
	eq(t, field(recs, "answer"), "2", "3.5")
	recs, _ = mustRun(t, env, "dataset", runtimetest.Call{Params: map[string]cty.Value{"source": cty.StringVal("good.parquet")}})
	eq(t, field(recs, "answer"), "2", "3.5")

	before := blobCount(t, env)
	_, _, err := run(t, env, "dataset", runtimetest.Call{Params: map[string]cty.Value{"source": cty.StringVal("other.parquet")}, Schemas: map[string]cty.Type{"schema": qa}})
	errContains(t, err, "other.parquet: row 1", "field", "missing")
	_, _, err = run(t, env, "dataset", runtimetest.Call{Params: map[string]cty.Value{"source": cty.StringVal("junk.parquet")}, Schemas: map[string]cty.Type{"schema": qa}})
	errContains(t, err, "junk.parquet", "Parquet")
	if blobCount(t, env) != before {
		t.Fatal("failed loads committed blobs")
	}

	// Strings that are not UTF-8 follow the rule of the other readers.
	write("bad.parquet", []pqRow{{"ok", 1}, {"t\xffo", 2}})
	_, _, err = run(t, env, "dataset", runtimetest.Call{Params: map[string]cty.Value{"source": cty.StringVal("bad.parquet")}, Schemas: map[string]cty.Type{"schema": qa}})
	errContains(t, err, `bad.parquet: row 2: field "question": invalid UTF-8 at byte 2 of the value (0xff)`)
	if blobCount(t, env) != before {
		t.Fatal("a failed load committed a blob")
	}
	recs, x := mustRun(t, env, "dataset", runtimetest.Call{Params: map[string]cty.Value{"source": cty.StringVal("bad.parquet"), "invalid_utf8": cty.StringVal("replace")}, Schemas: map[string]cty.Type{"schema": qa}})
	eq(t, field(recs, "question"), "ok", "t\ufffdo")
	if x.Counts["utf8_replaced"] != 1 {
		t.Fatalf("utf8_replaced = %d, want 1", x.Counts["utf8_replaced"])
	}
}

func TestExportRoundTrip(t *testing.T) {
	env := newEnv(t)
	in := env.DatasetOf(t, qa, []cty.Value{qaRec("a,\"b\"", 1), qaRec("日本", nil), qaRec("c", 2.5)})
	for _, f := range []string{"out/x.jsonl", "out/x.csv", "out/x.parquet"} {
		t.Run(f, func(t *testing.T) {
			v, _, err := run(t, env, "export", runtimetest.Call{Params: map[string]cty.Value{"input": in, "path": cty.StringVal(f)}})
			if err != nil {
				t.Fatal(err)
			}
			if !v.RawEquals(in) {
				t.Fatal("export's value is not its input")
			}
			recs, _ := mustRun(t, env, "dataset", runtimetest.Call{Params: map[string]cty.Value{"source": cty.StringVal(f)}, Schemas: map[string]cty.Type{"schema": qa}})
			eq(t, field(recs, "question"), "a,\"b\"", "日本", "c")
			eq(t, field(recs, "answer"), "1", "null", "2.5")
		})
	}
}

// TestDatasetParallelTranscode covers the multi-goroutine JSONL path with
// many batches: records keep their order, a bad line far into the file is
// reported with its own line number (or skipped and counted), and a file
// ending without a newline inside a record says it is truncated.
func TestDatasetParallelTranscode(t *testing.T) {
	env := newEnv(t)
	write := func(name string, bad int, truncated bool) {
		var b []byte
		for i := 1; i <= 2000; i++ {
			switch {
			case i == bad:
				b = append(b, fmt.Sprintf(`{"question": "q%d", "answer": "x"}`+"\n", i)...)
			case i == 1000:
				b = append(b, "\n  \n"...) // blank lines count as lines
				fallthrough
			default:
				b = append(b, fmt.Sprintf(`{"question": "q%d", "answer": %d}`+"\n", i, i)...)
			}
		}
		if truncated {
			b = append(b, `{"question": "last", "ans`...)
		}
		if err := os.WriteFile(filepath.Join(env.Dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ok.jsonl", 0, false)
	write("bad.jsonl", 1700, false)
	write("trunc.jsonl", 0, true)
	call := func(src string, skip bool) runtimetest.Call {
		p := map[string]cty.Value{"source": cty.StringVal(src)}
		if skip {
			p["on_error"] = cty.StringVal("skip")
		}
		return runtimetest.Call{Params: p, Schemas: map[string]cty.Type{"schema": qa}}
	}
	v, _, err := run(t, env, "dataset", call("ok.jsonl", false))
	if err != nil {
		t.Fatal(err)
	}
	recs := env.ReadAll(t, v)
	if len(recs) != 2000 {
		t.Fatalf("%d records, want 2000", len(recs))
	}
	for i, r := range recs {
		if got, want := r.GetAttr("question").AsString(), fmt.Sprintf("q%d", i+1); got != want {
			t.Fatalf("record %d is %s, want %s", i, got, want)
		}
	}
	_, _, err = run(t, env, "dataset", call("bad.jsonl", false))
	errContains(t, err, "bad.jsonl:1702", `field "answer"`) // two blank lines before it
	v, x, err := run(t, env, "dataset", call("bad.jsonl", true))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(env.ReadAll(t, v)); n != 1999 || x.Counts["skipped"] != 1 {
		t.Fatalf("%d records, %d skipped; want 1999 and 1", n, x.Counts["skipped"])
	}
	_, _, err = run(t, env, "dataset", call("trunc.jsonl", false))
	errContains(t, err, "trunc.jsonl:2003", "truncated")
}
