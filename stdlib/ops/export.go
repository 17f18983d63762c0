package ops

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/params"
)

// Export writes records to a JSONL, CSV or Parquet file; its value is the
// input dataset unchanged.
type Export struct{}

func (Export) Name() string { return "export" }
func (Export) Version() int { return 1 }

// OutputFiles is the exported file (runtime.FileWriter): a cached export
// whose file was deleted writes it again.
func (Export) OutputFiles(x *runtime.Exec) []string {
	if v := x.Param("path"); !v.IsNull() && v.IsKnown() && v.Type() == cty.String {
		return []string{v.AsString()}
	}
	return nil
}

func (Export) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	in, err := inputSchema(x, "input")
	if err != nil {
		return cty.NilVal, err
	}
	rel := params.String(x, "path", "")
	if rel == "" {
		return cty.NilVal, stageError(x, "path is empty")
	}
	path := resolve(x, rel)
	format := params.String(x, "format", "auto")
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
	if js, ok := sink.(*jsonlSink); ok {
		err = exportLines(ctx, x, js)
	} else {
		err = each(ctx, x, "input", func(n int64, rec cty.Value) error {
			if err := sink.write(rec); err != nil {
				return recordError(x, n, err)
			}
			return nil
		})
	}
	if err == nil {
		err = sink.close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		// CreateTemp makes the file private; an exported file is for
		// other programs, so give it the usual permissions.
		err = tmp.Chmod(0o644)
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

type jsonlSink struct {
	w   io.Writer
	buf []byte
}

// exportLines writes the input's records as JSONL without decoding them:
// each canonical line is rewritten to ctyjson's layout by jsonLine (the
// bytes ctyjson.Marshal gives for the decoded record); a line it cannot
// rewrite is decoded and marshalled.
func exportLines(ctx context.Context, x *runtime.Exec, s *jsonlSink) error {
	r, c, err := x.Open("input")
	if err != nil {
		return err
	}
	defer c.Close()
	return eachLine(ctx, x, "input", r, func(n int64, line []byte) error {
		if b, ok := jsonLine(s.buf[:0], line); ok {
			s.buf = append(b, '\n')
			_, err := s.w.Write(s.buf)
			return err
		}
		rec, err := r.DecodeLine(line, n, nil)
		if err != nil {
			return inputError(x, "input", err)
		}
		if err := s.write(rec); err != nil {
			return recordError(x, n, err)
		}
		return nil
	})
}

// needsRewrite marks the bytes after which a canonical line may differ
// from ctyjson's form: the characters encoding/json escapes (U+2028 and
// U+2029 start with 0xe2) and the 'e' of an exponent.
var needsRewrite = func() (t [256]bool) {
	for _, c := range []byte{'<', '>', '&', 0xe2, 'e', 'E'} {
		t[c] = true
	}
	return t
}()

// plainJSONLine reports whether a canonical line is already in ctyjson's
// form: no character encoding/json escapes and no number with an exponent
// (a conservative test: any "e+" or "e-" counts).
func plainJSONLine(line []byte) bool {
	high := false
	for i, c := range line {
		high = high || c >= 0x80
		if needsRewrite[c] {
			if c != 'e' && c != 'E' {
				return false
			}
			if i+1 < len(line) && (line[i+1] == '+' || line[i+1] == '-') {
				return false
			}
		}
	}
	return !high || utf8.Valid(line)
}

// jsonLine appends the ctyjson.Marshal form of the record whose canonical
// line is line. The two differ only in strings (encoding/json also escapes
// <, >, &, U+2028 and U+2029) and numbers (ctyjson never uses an
// exponent). ok is false for a line that is not valid UTF-8 (encoding/json
// would replace the bad bytes).
func jsonLine(dst, line []byte) ([]byte, bool) {
	if plainJSONLine(line) {
		return append(dst, line...), true
	}
	if !utf8.Valid(line) {
		return dst, false
	}
	inStr := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if inStr {
			switch c {
			case '\\':
				dst = append(dst, c, line[i+1])
				i++
			case '"':
				inStr = false
				dst = append(dst, c)
			case '<':
				dst = append(dst, `\u003c`...)
			case '>':
				dst = append(dst, `\u003e`...)
			case '&':
				dst = append(dst, `\u0026`...)
			case 0xe2:
				if i+2 < len(line) && line[i+1] == 0x80 && (line[i+2] == 0xa8 || line[i+2] == 0xa9) {
					dst = append(dst, `\u202`...)
					dst = append(dst, "89"[line[i+2]-0xa8])
					i += 2
				} else {
					dst = append(dst, c)
				}
			default:
				dst = append(dst, c)
			}
			continue
		}
		switch {
		case c == '"':
			inStr = true
			dst = append(dst, c)
		case c == '-' || (c >= '0' && c <= '9'):
			j := i
			for j < len(line) && (line[j] == '-' || line[j] == '+' || line[j] == '.' || line[j] == 'e' || line[j] == 'E' || (line[j] >= '0' && line[j] <= '9')) {
				j++
			}
			dst = appendPlain(dst, line[i:j])
			i = j - 1
		default:
			dst = append(dst, c)
		}
	}
	return dst, !inStr
}

// appendPlain appends number num (canonical: "-d.ddde+X" or plain) without
// an exponent, as big.Float.Text('f', -1) writes it.
func appendPlain(dst, num []byte) []byte {
	e := bytes.IndexAny(num, "eE")
	if e < 0 {
		return append(dst, num...)
	}
	mant, exp := num[:e], 0
	neg := len(mant) > 0 && mant[0] == '-'
	if neg {
		mant = mant[1:]
		dst = append(dst, '-')
	}
	x, err := strconv.Atoi(string(num[e+1:]))
	if err != nil {
		return append(dst, num...)
	}
	exp = x
	var digits []byte
	point := len(mant)
	for k, c := range mant {
		if c == '.' {
			point = k
			continue
		}
		digits = append(digits, c)
	}
	point += exp // position of the decimal point in digits
	switch {
	case point <= 0:
		dst = append(dst, '0', '.')
		for ; point < 0; point++ {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	case point >= len(digits):
		dst = append(dst, digits...)
		for k := len(digits); k < point; k++ {
			dst = append(dst, '0')
		}
	default:
		dst = append(dst, digits[:point]...)
		dst = append(dst, '.')
		dst = append(dst, digits[point:]...)
	}
	return dst
}

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
