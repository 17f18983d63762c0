package ops_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime/dataset"
)

// TestHyparquetReadsExport: an independent reader, the pure-JavaScript
// hyparquet, reads ouro's Parquet exports of the 1,000 hostile records
// (Zstd, the default, and Snappy) and finds every value: INT64 columns to
// the last digit, doubles exactly, strings byte for byte, JSON columns as
// JavaScript's JSON.parse makes them. It needs node and `npm ci` in
// testdata/hyparquet (.ci/run does both); without them it skips, unless
// OURO_REQUIRE_HYPARQUET=1.
func TestHyparquetReadsExport(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "hyparquet"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	missing := ""
	switch {
	case err != nil:
		missing = "node is not installed"
	case !exists(filepath.Join(dir, "node_modules", "hyparquet", "package.json")) || !exists(filepath.Join(dir, "node_modules", "hyparquet-compressors", "package.json")):
		missing = "hyparquet is not installed (run npm ci in stdlib/ops/testdata/hyparquet)"
	}
	if missing != "" {
		if os.Getenv("OURO_REQUIRE_HYPARQUET") == "1" {
			t.Fatalf("OURO_REQUIRE_HYPARQUET=1 but %s", missing)
		}
		t.Skip(missing)
	}

	env := newEnv(t)
	writeFile(t, filepath.Join(env.Dir, "hostile.jsonl"), string(hostileJSONL(1000, false)))
	src := load(t, env, "hostile.jsonl", hostileSchema)
	recs := env.ReadAll(t, src)
	for _, codec := range []string{"zstd", "snappy"} {
		t.Run(codec, func(t *testing.T) {
			path := "out/hostile-" + codec + ".parquet"
			export(t, env, src, path, map[string]cty.Value{"compression": cty.StringVal(codec)})
			cmd := exec.Command(node, filepath.Join(dir, "read.mjs"), filepath.Join(env.Dir, path))
			cmd.Dir = dir
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("node read.mjs: %v\n%s", err, stderr.Bytes())
			}
			sc := bufio.NewScanner(bytes.NewReader(out))
			sc.Buffer(nil, 1<<20)
			var meta struct {
				Types  map[string][]any `json:"types"`
				Codecs []string         `json:"codecs"`
				Rows   int              `json:"rows"`
			}
			if !sc.Scan() || json.Unmarshal(sc.Bytes(), &meta) != nil {
				t.Fatalf("no metadata line in hyparquet's output:\n%.500s", out)
			}
			t.Logf("hyparquet: %d rows, codecs %v, columns %v", meta.Rows, meta.Codecs, meta.Types)
			if want := strings.ToUpper(codec); len(meta.Codecs) != 1 || meta.Codecs[0] != want {
				t.Errorf("codecs %v, want [%s]", meta.Codecs, want)
			}
			wantTypes := map[string]string{"id": "INT64 INTEGER", "big": "INT64 INTEGER", "tiny": "DOUBLE <nil>", "mixed": "BYTE_ARRAY JSON",
				"text": "BYTE_ARRAY STRING", "flag": "BOOLEAN <nil>", "tags": "BYTE_ARRAY JSON", "meta": "BYTE_ARRAY JSON"}
			for name, want := range wantTypes {
				ty := meta.Types[name]
				if len(ty) != 3 || strings.TrimSpace(stringOf(ty[0])+" "+stringOf(ty[1])) != want || ty[2] != "OPTIONAL" {
					t.Errorf("column %s: hyparquet sees %v, want %s OPTIONAL", name, ty, want)
				}
			}
			n := 0
			for ; sc.Scan(); n++ {
				if n >= len(recs) {
					t.Fatalf("hyparquet read more than %d rows", len(recs))
				}
				var got map[string]any
				if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
					t.Fatalf("row %d: %v", n+1, err)
				}
				want := jsView(t, recs[n])
				for name := range want {
					if g, w := got[name], want[name]; !reflect.DeepEqual(g, w) {
						t.Fatalf("row %d, field %s: hyparquet read %#v, want %#v", n+1, name, g, w)
					}
				}
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			if n != len(recs) {
				t.Fatalf("hyparquet read %d rows, want %d", n, len(recs))
			}
		})
	}
}

// jsView is what read.mjs prints for a hostile record, decoded by
// encoding/json: INT64 columns as decimal strings, doubles as numbers,
// JSON columns as JSON.parse gives them (numbers as float64).
func jsView(t *testing.T, rec cty.Value) map[string]any {
	t.Helper()
	out := map[string]any{}
	for name := range hostileSchema.AttributeTypes() {
		v := rec.GetAttr(name)
		if v.IsNull() {
			out[name] = nil
			continue
		}
		text, err := dataset.AppendCanonical(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		switch name {
		case "id", "big":
			out[name] = string(text)
		case "text":
			out[name] = v.AsString()
		default:
			var x any
			if err := json.Unmarshal(text, &x); err != nil {
				t.Fatal(err)
			}
			out[name] = x
		}
	}
	return out
}

func stringOf(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return "<nil>"
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
