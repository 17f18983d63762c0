package ops_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang/fuzztest"
	"github.com/ouroloop/ouro/runtime/runtimetest"
	"github.com/ouroloop/ouro/runtime/store"
)

// fuzzDataset runs the dataset operator on data written to file name (with
// and without a schema, and with both UTF-8 rules): it may fail, but never
// panics, and what it stores is UTF-8, one canonical line per record, the
// same bytes when run again.
func fuzzDataset(t *testing.T, env *runtimetest.Env, name string, data []byte) {
	if err := os.WriteFile(filepath.Join(env.Dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []runtimetest.Call{
		{Params: map[string]cty.Value{"source": cty.StringVal(name)}, Schemas: map[string]cty.Type{"schema": qa}},
		{Params: map[string]cty.Value{"source": cty.StringVal(name), "invalid_utf8": cty.StringVal("replace"), "on_error": cty.StringVal("skip")}, Schemas: map[string]cty.Type{"schema": qa}},
		{Params: map[string]cty.Value{"source": cty.StringVal(name), "on_error": cty.StringVal("skip")}},
	} {
		v, _, err := run(t, env, "dataset", c)
		if err != nil {
			continue
		}
		ref := v.EncapsulatedValue().(*compiler.DatasetRef)
		r, err := env.Blobs.Open(store.Digest(ref.Digest))
		if err != nil {
			t.Fatal(err)
		}
		var blob bytes.Buffer
		blob.ReadFrom(r)
		r.Close()
		if !utf8.Valid(blob.Bytes()) {
			t.Fatalf("the dataset blob of %q is not UTF-8", data)
		}
		if n := int64(bytes.Count(blob.Bytes(), []byte("\n"))); n != ref.Count+1 { // a header line, then the records
			t.Fatalf("blob has %d lines for %d records", n, ref.Count)
		}
		again, _, err := run(t, env, "dataset", c)
		if err != nil || again.EncapsulatedValue().(*compiler.DatasetRef).Digest != ref.Digest {
			t.Fatalf("a second read of %q gives another dataset (%v)", data, err)
		}
	}
}

func FuzzDatasetJSONL(f *testing.F) {
	fuzztest.NoMinimize(f)
	for _, s := range []string{
		`{"question": "1+1", "answer": 2}` + "\n" + `{"question": "ü", "answer": null}`,
		`{"question": "a\"b\\c\u00e9\n", "answer": 1e-7}`,
		`{"question": "t` + "\xff" + `o", "answer": 9007199254740993}`,
		`{"question": "x", "answer": "2"}` + "\n\n" + `{"question": "y"`,
		"\ufeff{\"question\": \"bom\", \"answer\": 0.000061599999999999992}\r\n",
		`[1, 2]`, ``, "\n\n",
	} {
		f.Add([]byte(s))
	}
	env := newEnv(f)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDataset(t, env, "data.jsonl", data) })
}

func FuzzDatasetCSV(f *testing.F) {
	fuzztest.NoMinimize(f)
	for _, s := range []string{
		"question,answer\n1+1,2\nü,\n",
		"question,answer\n\"a,\"\"b\"\"\nc\",1e-7\n",
		"question,answer\nt\xffo,2\n",
		"question,answer\nx,1,extra\n",
		"\ufeffquestion,answer\r\n=cmd,-1\r\n",
		"question,answer\n'=cmd,9007199254740993\n\"'+x\",1e-7\n",
		"", "question,question\n",
	} {
		f.Add([]byte(s))
	}
	env := newEnv(f)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDataset(t, env, "data.csv", data) })
}

func FuzzDatasetParquet(f *testing.F) {
	fuzztest.NoMinimize(f)
	var buf bytes.Buffer
	if err := parquet.Write(&buf, []pqRow{{"1+1", 2}, {"ünï", 3.5}, {"t\xffo", 1e-7}}); err != nil {
		f.Fatal(err)
	}
	good := buf.Bytes()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("PAR1 not really PAR1"))
	buf.Reset()
	if err := parquet.Write(&buf, []pqOther{{"p", 1}}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	// JSON columns (as export writes nested values and mixed numbers): an
	// exact big integer, a JSON string, invalid JSON, bytes not UTF-8.
	buf.Reset()
	w := parquet.NewWriter(&buf, parquet.NewSchema("ouro", parquet.Group{
		"question": parquet.Optional(parquet.String()), "answer": parquet.Optional(parquet.JSON()),
	}))
	for _, r := range []map[string]any{
		{"question": "big", "answer": "9007199254740993"}, {"question": "s", "answer": `"2"`},
		{"question": "bad", "answer": "[1"}, {"question": "nul", "answer": nil}, {"question": "u", "answer": "\"\xff\""},
	} {
		if err := w.Write(r); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	env := newEnv(f)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDataset(t, env, "data.parquet", data) })
}
