package ops_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime/runtimetest"
	"github.com/ouroloop/ouro/runtime/store"
)

// hostileSchema is the record type of hostileJSONL: every column kind the
// exporters distinguish.
var hostileSchema = cty.Object(map[string]cty.Type{
	"id":    cty.Number, // small integers: INT64
	"big":   cty.Number, // 2^53+i, 2^62+i, 2^63-1-i: INT64, exact
	"tiny":  cty.Number, // 1e-7 floats, 20-digit decimals, extremes: DOUBLE
	"mixed": cty.Number, // 2^53+i beside fractions: JSON text in Parquet
	"text":  cty.String,
	"flag":  cty.Bool,
	"tags":  cty.List(cty.String),
	"meta":  cty.Object(map[string]cty.Type{"a": cty.Number, "b": cty.List(cty.Number), "c": cty.String}),
})

// hostileText is what strings are made of: quotes, separators, newlines,
// tabs, emoji, control characters, formula starts, non-ASCII.
var hostileText = []string{
	`"quoted"`, `a,b;c`, "line\nbreak", "tab\there", "emoji 😀🦀👩‍👩‍👧", `back\slash`, "=SUM(A1:A9)", "+1", "-2", "@cmd",
	"\x01ctl\x1f", "sep\u2028par\u2029", " lead and trail ", "日本語", "'apostrophe", "<b>&amp;</b>", "",
	"\ttab first", "cr\rhere", "crlf\r\nend", "\u00e9 e\u0301", "null", "true", "12", "[1,2]", `{"a":1}`,
}

// hostileJSONL writes n records of hostileSchema as JSONL text, numbers as
// literals (some with more digits than a float64 holds, as map results
// have). csv leaves out what CSV cannot hold: null strings (an empty cell
// is "") and CR LF inside a string (encoding/csv reads it as LF).
func hostileJSONL(n int, csv bool) []byte {
	rng := rand.New(rand.NewPCG(15, 5))
	text := func(k int) any {
		if !csv && k%17 == 3 {
			return nil
		}
		var b strings.Builder
		for j := rng.IntN(3); j >= 0; j-- {
			s := hostileText[rng.IntN(len(hostileText))]
			if csv {
				s = strings.ReplaceAll(s, "\r\n", "\n")
			}
			b.WriteString(s)
		}
		return b.String()
	}
	num := func(s string) any { return json.Number(s) }
	var out bytes.Buffer
	for i := 0; i < n; i++ {
		rec := map[string]any{"id": num(strconv.Itoa(i))}
		switch {
		case i%97 == 5:
			rec["big"] = nil
		case i%10 == 1:
			rec["big"] = num(strconv.FormatInt(1<<62+int64(i), 10))
		case i%50 == 7:
			rec["big"] = num(strconv.FormatInt(math.MaxInt64-int64(i), 10))
		case i%2 == 0:
			rec["big"] = num(strconv.FormatInt(1<<53+int64(i), 10))
		default:
			rec["big"] = num(strconv.FormatInt(-(1<<53 + int64(i)), 10))
		}
		switch i % 8 {
		case 0:
			rec["tiny"] = num(fmt.Sprintf("%de-7", i+1))
		case 1:
			rec["tiny"] = num(fmt.Sprintf("0.0000%d1599999999999999%d", i%10, i%10)) // 21 digits: rounds to float64
		case 2:
			rec["tiny"] = num(strconv.FormatFloat(rng.NormFloat64()*math.Pow(10, float64(rng.IntN(30)-20)), 'g', -1, 64))
		case 3:
			rec["tiny"] = num(strconv.FormatFloat(rng.Float64(), 'e', 19, 64))
		case 4:
			rec["tiny"] = num([]string{"5e-324", "1.7976931348623157e308", "-0", "1e21", "1e-400", "0.1", "1E+2", "-2.50"}[i/8%8])
		case 5:
			rec["tiny"] = nil
		default:
			rec["tiny"] = num(strconv.FormatFloat(float64(i)/7, 'f', -1, 64))
		}
		if i%2 == 0 {
			rec["mixed"] = num(strconv.FormatInt(1<<53+1+int64(i), 10))
		} else {
			rec["mixed"] = num(strconv.Itoa(i) + ".5")
		}
		rec["text"] = text(i)
		switch i % 3 {
		case 0:
			rec["flag"] = true
		case 1:
			rec["flag"] = false
		default:
			rec["flag"] = nil
		}
		switch i % 5 {
		case 0:
			rec["tags"] = nil
		case 1:
			rec["tags"] = []any{}
		default:
			var tags []any
			for j := rng.IntN(4); j >= 0; j-- {
				tags = append(tags, text(1))
			}
			rec["tags"] = tags
		}
		if i%7 == 0 {
			rec["meta"] = nil
		} else {
			meta := map[string]any{"c": text(i + 1), "b": []any{num(strconv.FormatInt(1<<53+int64(i), 10)), num("1e-7"), num(strconv.Itoa(-i))}}
			if i%3 == 0 {
				meta["a"] = nil
			} else {
				meta["a"] = num(fmt.Sprintf("%d.%d", i, i))
			}
			rec["meta"] = meta
		}
		b, err := json.Marshal(rec)
		if err != nil {
			panic(err)
		}
		out.Write(b)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

func digestOf(v cty.Value) string { return v.EncapsulatedValue().(*compiler.DatasetRef).Digest }

// datasetLines returns the canonical lines of a dataset (its header first).
func datasetLines(t *testing.T, env *runtimetest.Env, v cty.Value) []string {
	t.Helper()
	r, err := env.Blobs.Open(store.Digest(digestOf(v)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var b bytes.Buffer
	b.ReadFrom(r)
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

// sameDataset fails with the first records that differ.
func sameDataset(t *testing.T, env *runtimetest.Env, what string, got, want cty.Value) {
	t.Helper()
	if digestOf(got) == digestOf(want) {
		return
	}
	g, w := datasetLines(t, env, got), datasetLines(t, env, want)
	bad := 0
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			if bad < 3 {
				t.Errorf("%s: line %d\ngot  %s\nwant %s", what, i+1, g[i], w[i])
			}
			bad++
		}
	}
	t.Fatalf("%s: the dataset digest changed (%d of %d lines differ, %d vs %d lines)", what, bad, len(w), len(g), len(w))
}

func load(t *testing.T, env *runtimetest.Env, path string, schema cty.Type) cty.Value {
	t.Helper()
	v, _, err := run(t, env, "dataset", runtimetest.Call{Params: map[string]cty.Value{"source": cty.StringVal(path)}, Schemas: map[string]cty.Type{"schema": schema}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func export(t *testing.T, env *runtimetest.Env, in cty.Value, path string, extra map[string]cty.Value) {
	t.Helper()
	p := map[string]cty.Value{"input": in, "path": cty.StringVal(path)}
	for k, v := range extra {
		p[k] = v
	}
	if _, _, err := run(t, env, "export", runtimetest.Call{Params: p}); err != nil {
		t.Fatal(err)
	}
}

// TestRoundTripHostile: 1,000 hostile records go JSONL → dataset →
// Parquet → dataset → JSONL → dataset, and JSONL → CSV → dataset, with
// the same dataset digest at every step; the Parquet file has the column
// types and compression the export documents.
func TestRoundTripHostile(t *testing.T) {
	env := newEnv(t)
	writeFile(t, filepath.Join(env.Dir, "hostile.jsonl"), string(hostileJSONL(1000, false)))
	src := load(t, env, "hostile.jsonl", hostileSchema)
	if n := src.EncapsulatedValue().(*compiler.DatasetRef).Count; n != 1000 {
		t.Fatalf("%d records", n)
	}
	for _, codec := range []string{"zstd", "snappy", "gzip", "none"} {
		t.Run("parquet/"+codec, func(t *testing.T) {
			path := "out/hostile-" + codec + ".parquet"
			export(t, env, src, path, map[string]cty.Value{"compression": cty.StringVal(codec)})
			pq := load(t, env, path, hostileSchema)
			sameDataset(t, env, "JSONL → Parquet", pq, src)
			export(t, env, pq, "out/back-"+codec+".jsonl", nil)
			sameDataset(t, env, "JSONL → Parquet → JSONL", load(t, env, "out/back-"+codec+".jsonl", hostileSchema), src)
			checkParquetLayout(t, filepath.Join(env.Dir, path), codec)
		})
	}
	t.Run("csv", func(t *testing.T) {
		writeFile(t, filepath.Join(env.Dir, "flat.jsonl"), string(hostileJSONL(1000, true)))
		src := load(t, env, "flat.jsonl", hostileSchema)
		export(t, env, src, "out/hostile.csv", map[string]cty.Value{"csv_escape_formulas": cty.False})
		sameDataset(t, env, "JSONL → CSV", load(t, env, "out/hostile.csv", hostileSchema), src)
		// Escaped (the default), the text cells that start like formulas
		// come back with a leading ' and nothing else changes.
		export(t, env, src, "out/escaped.csv", nil)
		esc := env.ReadAll(t, load(t, env, "out/escaped.csv", hostileSchema))
		orig := env.ReadAll(t, src)
		escaped := 0
		for i := range orig {
			o, e := orig[i].GetAttr("text").AsString(), esc[i].GetAttr("text").AsString()
			if o != "" && strings.ContainsRune("=+-@\t\r", rune(o[0])) {
				escaped++
				o = "'" + o
			}
			if o != e {
				t.Fatalf("record %d: text %q came back %q", i, orig[i].GetAttr("text").AsString(), e)
			}
		}
		if escaped == 0 {
			t.Fatal("no cell needed escaping: the set is not hostile enough")
		}
	})
}

// checkParquetLayout checks the export's column types and codec.
func checkParquetLayout(t *testing.T, path, codec string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"id": "INT(64,true)", "big": "INT(64,true)", "tiny": "DOUBLE", "mixed": "JSON", "text": "STRING", "flag": "BOOLEAN", "tags": "JSON", "meta": "JSON"}
	for _, f := range pf.Schema().Fields() {
		if !f.Optional() {
			t.Errorf("column %s is not optional", f.Name())
		}
		if got := f.Type().String(); got != want[f.Name()] {
			t.Errorf("column %s is %s, want %s", f.Name(), got, want[f.Name()])
		}
	}
	wantCodec := map[string]format.CompressionCodec{"zstd": format.Zstd, "snappy": format.Snappy, "gzip": format.Gzip, "none": format.Uncompressed}[codec]
	for _, rg := range pf.Metadata().RowGroups {
		for _, c := range rg.Columns {
			if c.MetaData.Codec != wantCodec {
				t.Fatalf("column %v is compressed with %v, want %v", c.MetaData.PathInSchema, c.MetaData.Codec, wantCodec)
			}
		}
	}
}
