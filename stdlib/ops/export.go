package ops

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/ouroloop/ouro/runtime"
)

// Export writes records to a JSONL, CSV or Parquet file; its value is the
// input dataset unchanged.
type Export struct{}

func (Export) Name() string { return "export" }
func (Export) Version() int { return 1 }

func (Export) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	in, err := inputSchema(x, "input")
	if err != nil {
		return cty.NilVal, err
	}
	rel := strParam(x, "path", "")
	if rel == "" {
		return cty.NilVal, stageError(x, "path is empty")
	}
	path := resolve(x, rel)
	format := strParam(x, "format", "auto")
	if format == "auto" {
		if format = formatOf(path); format == "" {
			return cty.NilVal, stageError(x, "%s: cannot tell the format from the extension; set format = \"jsonl\", \"csv\" or \"parquet\"", rel)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return cty.NilVal, stageError(x, "%v", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return cty.NilVal, stageError(x, "%v", err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 256<<10)
	var sink recordSink
	switch format {
	case "jsonl":
		sink = &jsonlSink{w: bw}
	case "csv":
		sink = newCSVSink(bw, in)
	case "parquet":
		sink = newParquetSink(bw, in)
	default:
		return cty.NilVal, stageError(x, "unknown format %q", format)
	}
	err = each(ctx, x, "input", func(n int64, rec cty.Value) error {
		if err := sink.write(rec); err != nil {
			return recordError(x, n, err)
		}
		return nil
	})
	if err == nil {
		err = sink.close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		err = tmp.Close()
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return cty.NilVal, stageError(x, "export to %s: %v", rel, err)
	}
	ok = true
	return x.Param("input"), nil
}

type recordSink interface {
	write(rec cty.Value) error
	close() error
}

type jsonlSink struct{ w io.Writer }

func (s *jsonlSink) write(rec cty.Value) error {
	b, err := ctyjson.Marshal(rec, rec.Type())
	if err != nil {
		return err
	}
	_, err = s.w.Write(append(b, '\n'))
	return err
}

func (s *jsonlSink) close() error { return nil }

// csvSink writes a header of the sorted field names; primitives as text,
// null as an empty cell, other values as JSON.
type csvSink struct {
	w     *csv.Writer
	names []string
	row   []string
}

func newCSVSink(w io.Writer, schema cty.Type) *csvSink {
	s := &csvSink{w: csv.NewWriter(w), names: sortedAttrs(schema)}
	s.row = make([]string, len(s.names))
	s.w.Write(s.names)
	return s
}

func (s *csvSink) write(rec cty.Value) error {
	for i, n := range s.names {
		v := rec.GetAttr(n)
		cell, err := textOf(v)
		if err != nil {
			return fmt.Errorf("field %q: %v", n, err)
		}
		s.row[i] = cell
	}
	return s.w.Write(s.row)
}

func (s *csvSink) close() error {
	s.w.Flush()
	return s.w.Error()
}

// textOf renders a value for a text cell.
func textOf(v cty.Value) (string, error) {
	if v.IsNull() {
		return "", nil
	}
	switch v.Type() {
	case cty.String:
		return v.AsString(), nil
	case cty.Number:
		return v.AsBigFloat().Text('g', -1), nil
	case cty.Bool:
		if v.True() {
			return "true", nil
		}
		return "false", nil
	}
	b, err := ctyjson.Marshal(v, v.Type())
	return string(b), err
}

// parquetSink writes one optional column per field: strings as UTF-8,
// numbers as doubles, bools as booleans, anything else as JSON text.
type parquetSink struct {
	w     *parquet.Writer
	names []string
	types map[string]cty.Type
}

func parquetSchema(schema cty.Type) *parquet.Schema {
	g := parquet.Group{}
	for name, t := range schema.AttributeTypes() {
		var node parquet.Node
		switch t {
		case cty.Number:
			node = parquet.Leaf(parquet.DoubleType)
		case cty.Bool:
			node = parquet.Leaf(parquet.BooleanType)
		default:
			node = parquet.String()
		}
		g[name] = parquet.Optional(node)
	}
	return parquet.NewSchema("ouro", g)
}

func newParquetSink(w io.Writer, schema cty.Type) *parquetSink {
	return &parquetSink{w: parquet.NewWriter(w, parquetSchema(schema)), names: sortedAttrs(schema), types: schema.AttributeTypes()}
}

func (s *parquetSink) write(rec cty.Value) error {
	m := make(map[string]any, len(s.names))
	for _, n := range s.names {
		v := rec.GetAttr(n)
		if v.IsNull() {
			m[n] = nil
			continue
		}
		switch s.types[n] {
		case cty.Number:
			m[n] = float(v)
		case cty.Bool:
			m[n] = v.True()
		default:
			t, err := textOf(v)
			if err != nil {
				return fmt.Errorf("field %q: %v", n, err)
			}
			m[n] = t
		}
	}
	return s.w.Write(m)
}

func (s *parquetSink) close() error { return s.w.Close() }
