package ops_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/rogpeppe/go-internal/txtar"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/ouroloop/ouro/runtime/runtimetest"
)

// TestDatasetInputs runs the dataset operator on the hostile inputs under
// testdata/inputs (one txtar archive per case). An archive holds the data
// files, where the four characters \xHH stand for the byte 0xHH (so files
// can hold bytes that are not UTF-8), and:
//
//	-- params --    the operator's parameters as a JSON object
//	-- schema --    the record type (omitted: inferred)
//	-- records --   the records expected, one JSON object per line, or
//	-- error --     substrings the stage's error must contain, one per line
//	-- warnings --  substrings of the stage's warnings, one per line
//	-- counts --    name=value counters of the run record, one per line
func TestDatasetInputs(t *testing.T) {
	files, err := filepath.Glob("testdata/inputs/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			env := newEnv(t)
			sections := map[string]string{}
			for _, f := range ar.Files {
				switch f.Name {
				case "params", "schema", "records", "error", "warnings", "counts":
					sections[f.Name] = string(f.Data)
					continue
				}
				if err := os.WriteFile(filepath.Join(env.Dir, f.Name), unescapeBytes(f.Data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c := runtimetest.Call{Params: jsonParams(t, sections["params"])}
			if s, ok := sections["schema"]; ok {
				c.Schemas = map[string]cty.Type{"schema": parseType(t, s)}
			}
			before := blobCount(t, env)
			v, x, err := run(t, env, "dataset", c)
			if want, ok := sections["error"]; ok {
				errContains(t, err, lines(want)...)
				if blobCount(t, env) != before {
					t.Fatal("a failed dataset committed a blob")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, rec := range env.ReadAll(t, v) {
				b, err := ctyjson.Marshal(rec, rec.Type())
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(b))
			}
			if want := lines(sections["records"]); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			warnings := strings.Join(x.Warnings, "\n")
			for _, w := range lines(sections["warnings"]) {
				if !strings.Contains(warnings, w) {
					t.Errorf("warnings %q do not contain %q", x.Warnings, w)
				}
			}
			if _, ok := sections["warnings"]; !ok && len(x.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", x.Warnings)
			}
			var counts []string
			for k, n := range x.Counts {
				counts = append(counts, k+"="+itoa(n))
			}
			sort.Strings(counts)
			if want := lines(sections["counts"]); strings.Join(counts, "\n") != strings.Join(want, "\n") {
				t.Errorf("counts %v, want %v", counts, want)
			}
		})
	}
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// unescapeBytes turns each \xHH in b into the byte 0xHH.
func unescapeBytes(b []byte) []byte {
	var out bytes.Buffer
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+3 < len(b) && b[i+1] == 'x' {
			if v, ok := hexByte(b[i+2], b[i+3]); ok {
				out.WriteByte(v)
				i += 3
				continue
			}
		}
		out.WriteByte(b[i])
	}
	return out.Bytes()
}

func hexByte(hi, lo byte) (byte, bool) {
	h, ok1 := hexDigit(hi)
	l, ok2 := hexDigit(lo)
	return h<<4 | l, ok1 && ok2
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func jsonParams(t *testing.T, src string) map[string]cty.Value {
	t.Helper()
	out := map[string]cty.Value{}
	if strings.TrimSpace(src) == "" {
		return out
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(src), &raw); err != nil {
		t.Fatalf("params: %v", err)
	}
	for k, b := range raw {
		ty, err := ctyjson.ImpliedType(b)
		if err != nil {
			t.Fatalf("params %s: %v", k, err)
		}
		v, err := ctyjson.Unmarshal(b, ty)
		if err != nil {
			t.Fatalf("params %s: %v", k, err)
		}
		out[k] = v
	}
	return out
}

func parseType(t *testing.T, src string) cty.Type {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(strings.TrimSpace(src)), "schema", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("schema: %v", diags)
	}
	ty, diags := typeexpr.TypeConstraint(expr)
	if diags.HasErrors() {
		t.Fatalf("schema: %v", diags)
	}
	return ty
}
