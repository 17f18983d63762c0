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

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/dataset"
	"github.com/ouroloop/ouro/stdlib/params"
)

// Export writes records to a JSONL, CSV or Parquet file; its value is the
// input dataset unchanged.
type Export struct{}

func (Export) Name() string { return "export" }

// Version 2: Parquet integer columns as INT64, nested values as JSON
// (logical type), compression; CSV numbers exact, formula cells escaped.
func (Export) Version() int { return 2 }

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
		sink = newCSVSink(bw, in, escapeFormulas(x))
	case "parquet":
		codec, err := parquetCodec(params.String(x, "compression", "zstd"))
		if err != nil {
			return cty.NilVal, stageError(x, "%v", err)
		}
		kinds, err := numberColumns(ctx, x, in)
		if err != nil {
			return cty.NilVal, err
		}
		sink = newParquetSink(bw, in, kinds, codec)
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

// csvSink writes a header of the sorted field names, then per record:
// strings as they are (formula cells escaped when escape is set), numbers
// in their canonical text (exact integers, no exponent below 1e21 but for
// tiny fractions), bools as true/false, null as an empty cell, and lists,
// objects and dynamic values as canonical JSON.
type csvSink struct {
	w      *csv.Writer
	names  []string
	types  []cty.Type
	row    []string
	escape bool
	buf    []byte
}

// escapeFormulas is the csv_escape_formulas argument: on unless false.
func escapeFormulas(x *runtime.Exec) bool {
	v := x.Param("csv_escape_formulas")
	return v.IsNull() || !v.IsKnown() || v.Type() != cty.Bool || v.True()
}

func newCSVSink(w io.Writer, schema cty.Type, escape bool) *csvSink {
	s := &csvSink{w: csv.NewWriter(w), names: sortedAttrs(schema), escape: escape}
	s.row = make([]string, len(s.names))
	for i, n := range s.names {
		s.types = append(s.types, schema.AttributeType(n))
		s.row[i] = s.cell(n)
	}
	s.w.Write(s.row)
	return s
}

// cell escapes a text cell when formula escaping is on.
func (s *csvSink) cell(t string) string {
	if s.escape && formulaStart(t) {
		return "'" + t
	}
	return t
}

// formulaStart reports whether a spreadsheet would take a cell starting
// like t as a formula (OWASP's CSV injection list: = + - @, tab, CR).
func formulaStart(t string) bool {
	if t == "" {
		return false
	}
	switch t[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

func (s *csvSink) write(rec cty.Value) error {
	for i, n := range s.names {
		v := rec.GetAttr(n)
		var err error
		switch {
		case v.IsNull():
			s.row[i] = ""
		case s.types[i] == cty.String:
			s.row[i] = s.cell(v.AsString())
		case s.types[i] == cty.Bool:
			s.row[i] = strconv.FormatBool(v.True())
		default: // numbers and JSON: their canonical text
			s.buf, err = dataset.AppendCanonical(s.buf[:0], v)
			s.row[i] = string(s.buf)
		}
		if err != nil {
			return fmt.Errorf("field %q: %v", n, err)
		}
	}
	return s.w.Write(s.row)
}

func (s *csvSink) close() error {
	s.w.Flush()
	return s.w.Error()
}
