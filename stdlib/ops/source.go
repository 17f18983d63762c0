package ops

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/dataset"
	"github.com/ouroloop/ouro/stdlib/params"
)

// inferSample is how many records schema inference looks at.
const inferSample = 1000

// Dataset reads records from JSONL, CSV or Parquet files (or a glob of
// them), or from inline rows, checked against the declared schema.
type Dataset struct{}

func (Dataset) Name() string { return "dataset" }
func (Dataset) Version() int { return 1 }

// rawRec is one record of a data file before conversion.
type rawRec struct {
	loc  string // "data/train.jsonl:12", "data/x.parquet: row 7", "rows[3]"
	v    any    // decoded value: map[string]any for a record
	text bool   // v holds CSV strings
	// rec, when not cty.NilVal, is the record already converted to the
	// schema (the JSONL fast path); loc is then empty and name:line say
	// where it is.
	rec cty.Value
	// canon, when not nil, is the record's canonical line (the JSONL
	// transcoder's fast path), valid until the next read.
	canon []byte
	name  string
	line  int
}

// where is the record's location for messages.
func (r rawRec) where() string {
	if r.loc == "" && r.name != "" {
		return r.name + ":" + strconv.Itoa(r.line)
	}
	return r.loc
}

// rawReader yields the records of one source; Next returns io.EOF at the
// end. A *recordErr is a bad record that on_error = "skip" may skip; any
// other error ends the stage.
type rawReader interface {
	Next() (rawRec, error)
	Close() error
}

type recordErr struct {
	loc string
	err error
}

func (e *recordErr) Error() string { return e.loc + ": " + e.err.Error() }
func (e *recordErr) Unwrap() error { return e.err }

func specDir(x *runtime.Exec) string {
	if x.Env != nil && x.Env.SpecDir != "" {
		return x.Env.SpecDir
	}
	return "."
}

// resolve makes a spec-relative path absolute and returns it with the
// name to show in messages (the path as the user wrote it, joined).
func resolve(x *runtime.Exec, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(specDir(x), p)
}

func display(x *runtime.Exec, abs string) string {
	if rel, err := filepath.Rel(specDir(x), abs); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return abs
}

func (Dataset) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	src, rows := x.Param("source"), x.Param("rows")
	hasSrc, hasRows := !src.IsNull(), !rows.IsNull()
	if hasSrc == hasRows {
		return cty.NilVal, stageError(x, "a dataset needs exactly one of source or rows")
	}
	if hasRows && (!rows.IsWhollyKnown() || !(rows.Type().IsTupleType() || rows.Type().IsListType() || rows.Type().IsSetType())) {
		return cty.NilVal, stageError(x, "rows must be a list of objects")
	}
	skip := params.String(x, "on_error", "fail") == "skip"
	limit, hasLimit, err := intParam(x, "limit")
	if err != nil {
		return cty.NilVal, err
	}
	if hasLimit && limit < 0 {
		return cty.NilVal, stageError(x, "limit must not be negative")
	}
	var files []string
	if hasSrc {
		files, err = expand(x, src.AsString())
		if err != nil {
			return cty.NilVal, err
		}
	}
	format := params.String(x, "format", "auto")
	rule := &utf8Rule{replace: params.String(x, "invalid_utf8", "fail") == "replace"}
	open := func() ([]func() (rawReader, error), error) {
		if hasRows {
			return []func() (rawReader, error){func() (rawReader, error) { return newRowsReader(rows) }}, nil
		}
		var out []func() (rawReader, error)
		for _, f := range files {
			f := f
			fm := format
			if fm == "auto" {
				fm = formatOf(f)
				if fm == "" {
					return nil, stageError(x, "%s: cannot tell the format from the extension; set format = \"jsonl\", \"csv\" or \"parquet\"", display(x, f))
				}
			}
			name := display(x, f)
			out = append(out, func() (rawReader, error) { return openRaw(fm, f, name, rule) })
		}
		return out, nil
	}
	sources, err := open()
	if err != nil {
		return cty.NilVal, err
	}

	schema, declared := x.Schemas["schema"]
	lenient := false
	if !declared {
		schema, err = infer(ctx, x, sources)
		if err != nil {
			return cty.NilVal, err
		}
		rule.replaced.Store(0) // counted again by the real pass
		lenient = true
		x.Warn("no schema: inferred %s from the first %d records", compiler.TypeString(schema), inferSample)
	}
	if !schema.IsObjectType() {
		return cty.NilVal, stageError(x, "the schema must be an object type, not %s", compiler.TypeString(schema))
	}
	minRecords, hasMin, err := intParam(x, "min_records")
	if err != nil {
		return cty.NilVal, err
	}
	var skipped, total int64
	var emptyFiles []string
	tc := dataset.NewTranscoder(schema)
	v, err := writeDataset(x, schema, func(w *dataset.Writer) error {
		var n int64
		for i, openSrc := range sources {
			before := n
			r, err := openSrc()
			if err != nil {
				return stageError(x, "%v", err)
			}
			if jr, ok := r.(*jsonlReader); ok && !lenient {
				jr.schema, jr.tc = schema, tc
			}
			// handle writes one record, or skips or fails it.
			handle := func(raw rawRec, err error) error {
				if err == nil {
					if raw.canon != nil {
						if err = w.WriteRaw(raw.canon); err != nil {
							err = &recordErr{raw.where(), err}
						}
					} else {
						rec := raw.rec
						if rec == cty.NilVal {
							rec, err = toRecord(raw, schema, lenient)
						}
						if err == nil {
							if err = w.Write(rec); err != nil {
								err = &recordErr{raw.where(), err}
							}
						}
					}
				}
				if err != nil {
					var re *recordErr
					if skip && errors.As(err, &re) {
						if skipped < 5 {
							x.Warn("skipped %v", err)
						}
						skipped++
						return nil
					}
					return stageError(x, "%v", err)
				}
				n++
				if n%1024 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
					if x.Progress != nil {
						x.Progress.Add(1024)
					}
				}
				return nil
			}
			if jr, ok := r.(*jsonlReader); ok && jr.tc != nil && !hasLimit && goruntime.GOMAXPROCS(0) > 1 {
				if err := transcodeParallel(ctx, jr, handle); err != nil {
					r.Close()
					return err
				}
			}
			for !hasLimit || n < limit {
				raw, err := r.Next()
				if err == io.EOF {
					break
				}
				if err := handle(raw, err); err != nil {
					r.Close()
					return err
				}
			}
			if err := r.Close(); err != nil {
				return stageError(x, "%v", err)
			}
			if n == before && hasSrc && (!hasLimit || n < limit) {
				emptyFiles = append(emptyFiles, display(x, files[i]))
			}
		}
		if x.Progress != nil {
			x.Progress.Add(n % 1024)
		}
		total = n
		if hasMin && n < minRecords {
			what := fmt.Sprintf("%d records", n)
			if n == 1 {
				what = "1 record"
			}
			if len(emptyFiles) > 0 {
				what += " (no records in " + strings.Join(emptyFiles, ", ") + ")"
			}
			return stageError(x, "%s, fewer than min_records = %d", what, minRecords)
		}
		return nil
	})
	if err == nil {
		switch {
		case total == 0 && hasRows:
			x.Warn("rows is empty: the dataset has no records")
		case len(emptyFiles) > 0:
			x.Warn("no records in %s", strings.Join(emptyFiles, ", "))
		}
	}
	if err == nil && skip {
		x.Count("skipped", skipped)
	}
	if n := rule.replaced.Load(); err == nil && n > 0 {
		x.Count("utf8_replaced", n)
		x.Warn("replaced bytes that are not UTF-8 with U+FFFD in %d records", n)
	}
	return v, err
}

// toRecord converts one raw record to the schema.
func toRecord(raw rawRec, schema cty.Type, lenient bool) (cty.Value, error) {
	if _, ok := raw.v.(map[string]any); !ok {
		return cty.NilVal, &recordErr{raw.loc, fmt.Errorf("a record must be an object, found %s", kindOf(raw.v))}
	}
	v, err := conv{text: raw.text, lenient: lenient}.value(raw.v, schema, "")
	if err != nil {
		return cty.NilVal, &recordErr{raw.loc, err}
	}
	return v, nil
}

// infer reads the first records of the sources and returns their type.
func infer(ctx context.Context, x *runtime.Exec, sources []func() (rawReader, error)) (cty.Type, error) {
	t := cty.Object(map[string]cty.Type{})
	n := 0
	for _, openSrc := range sources {
		if n >= inferSample {
			break
		}
		r, err := openSrc()
		if err != nil {
			return cty.NilType, stageError(x, "%v", err)
		}
		for n < inferSample {
			raw, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var re *recordErr
				if errors.As(err, &re) {
					continue // reported by the real pass
				}
				r.Close()
				return cty.NilType, stageError(x, "%v", err)
			}
			if _, ok := raw.v.(map[string]any); !ok {
				continue
			}
			t = mergeType(t, inferType(raw.v, raw.text))
			n++
		}
		r.Close()
	}
	return settle(t), ctx.Err()
}

// expand resolves source (a path or glob) into files, sorted.
func expand(x *runtime.Exec, source string) ([]string, error) {
	p := resolve(x, source)
	if !strings.ContainsAny(source, "*?[") {
		st, err := os.Stat(p)
		if err != nil {
			return nil, stageError(x, "source %q: %v", source, errors.Unwrap(err))
		}
		if st.IsDir() {
			return nil, stageError(x, "source %q is a directory; use a glob such as %q", source, strings.TrimSuffix(source, "/")+"/*.jsonl")
		}
		return []string{p}, nil
	}
	files, err := filepath.Glob(p)
	if err != nil {
		return nil, stageError(x, "source %q: %v", source, err)
	}
	var out []string
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && !st.IsDir() {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, stageError(x, "source %q matches no files", source)
	}
	sort.Strings(out)
	return out, nil
}

func formatOf(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json":
		return "jsonl"
	case ".csv":
		return "csv"
	case ".parquet", ".pq":
		return "parquet"
	}
	return ""
}

func openRaw(format, path, name string, rule *utf8Rule) (rawReader, error) {
	switch format {
	case "jsonl":
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		return &jsonlReader{f: f, r: bufio.NewReaderSize(f, 256<<10), name: name, utf8: rule}, nil
	case "csv":
		return openCSV(path, name, rule)
	case "parquet":
		return openParquet(path, name, rule)
	}
	return nil, fmt.Errorf("unknown format %q", format)
}

// jsonlReader reads one JSON object per line; blank lines are skipped.
type jsonlReader struct {
	f    *os.File
	r    *bufio.Reader
	name string
	line int
	off  int64 // bytes read before the current line
	buf  []byte
	utf8 *utf8Rule
	// schema, when set, is the declared record type: lines that decode
	// into it directly skip encoding/json (dataset.Decode), the others
	// take the general path, which explains what is wrong.
	schema cty.Type
	tc     *dataset.Transcoder // for schema, when it is flat
	canon  []byte
}

func (j *jsonlReader) Next() (rawRec, error) {
	line, atEOF, err := j.readLine()
	if err != nil {
		return rawRec{}, err
	}
	return j.decodeLine(line, j.line, atEOF, true)
}

// readLine returns the next non-blank line, trimmed (valid until the next
// call; its number is j.line), and whether the file ends on it without a
// newline. At the end it returns io.EOF. A line that is not UTF-8 is a
// *recordErr (the next call goes on after it), or has its bad bytes
// replaced, as the UTF-8 rule says.
func (j *jsonlReader) readLine() ([]byte, bool, error) {
	for {
		start := j.off
		j.buf = j.buf[:0]
		var err error
		for {
			var chunk []byte
			chunk, err = j.r.ReadSlice('\n')
			j.buf = append(j.buf, chunk...)
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return nil, false, fmt.Errorf("%s: %v", j.name, err)
		}
		if len(j.buf) == 0 && err == io.EOF {
			return nil, false, io.EOF
		}
		j.line++
		j.off += int64(len(j.buf))
		line := bytes.TrimSpace(j.buf)
		if len(line) == 0 {
			if err == io.EOF {
				return nil, false, io.EOF
			}
			continue
		}
		if !utf8.Valid(line) {
			if j.utf8 == nil || !j.utf8.replace {
				where := fmt.Sprintf(", offset %d in the file", start+int64(firstInvalid(j.buf)))
				return nil, false, &recordErr{j.name + ":" + strconv.Itoa(j.line), badUTF8(j.buf, "the line", where)}
			}
			j.utf8.replaced.Add(1)
			line = bytes.ToValidUTF8(line, []byte("\uFFFD"))
		}
		return line, err == io.EOF, nil
	}
}

// decodeLine turns line number n into a record: the transcoder's canonical
// line (when useTC and it can), a record decoded straight into the schema,
// or the general path's value (which words errors).
func (j *jsonlReader) decodeLine(line []byte, n int, atEOF, useTC bool) (rawRec, error) {
	if useTC && j.tc != nil {
		var ok bool
		if j.canon, ok = j.tc.Append(j.canon[:0], line); ok {
			return rawRec{canon: j.canon, name: j.name, line: n}, nil
		}
	}
	if j.schema != cty.NilType {
		if rec, ok := dataset.Decode(line, j.schema, dataset.DecodeOptions{AllowExtra: true}); ok {
			return rawRec{rec: rec, name: j.name, line: n}, nil
		}
	}
	loc := j.name + ":" + strconv.Itoa(n)
	v, derr := decodeJSON(line)
	if derr != nil {
		msg := derr.Error()
		if atEOF {
			msg += " (the file ends inside this record: truncated?)"
		}
		return rawRec{}, &recordErr{loc, fmt.Errorf("invalid JSON: %s", msg)}
	}
	return rawRec{loc: loc, v: v}, nil
}

func (j *jsonlReader) Close() error { return j.f.Close() }

// csvReader reads a CSV file with a header row.
type csvReader struct {
	f      *os.File
	r      *csv.Reader
	name   string
	header []string
	row    int
	utf8   *utf8Rule
}

func openCSV(path, name string, rule *utf8Rule) (rawReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bufio.NewReaderSize(f, 256<<10))
	r.ReuseRecord = false
	header, err := r.Read()
	if err == io.EOF {
		f.Close()
		return nil, fmt.Errorf("%s: no header row: the file is empty (a CSV file starts with a row of column names)", name)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s:1: header: %v", name, err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	for i, h := range header {
		if at := firstInvalid(h); at >= 0 {
			f.Close()
			return nil, fmt.Errorf("%s:1: header: column %d: invalid UTF-8 at byte %d of its name (0x%02x)", name, i+1, at+1, h[at])
		}
	}
	seen := map[string]bool{}
	for _, h := range header {
		if seen[h] {
			f.Close()
			return nil, fmt.Errorf("%s:1: header: column %q appears twice", name, h)
		}
		seen[h] = true
	}
	return &csvReader{f: f, r: r, name: name, header: header, utf8: rule}, nil
}

func (c *csvReader) Next() (rawRec, error) {
	if c.header == nil {
		return rawRec{}, io.EOF
	}
	rec, err := c.r.Read()
	if err == io.EOF {
		return rawRec{}, io.EOF
	}
	c.row++
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(err, csv.ErrFieldCount) {
			return rawRec{}, &recordErr{fmt.Sprintf("%s:%d", c.name, pe.StartLine), fmt.Errorf("row has %d fields, the header has %d", len(rec), len(c.header))}
		}
		return rawRec{}, &recordErr{fmt.Sprintf("%s:%d", c.name, pe.StartLine), pe.Err}
	}
	if err != nil {
		return rawRec{}, fmt.Errorf("%s: %v", c.name, err)
	}
	line, _ := c.r.FieldPos(0)
	loc := fmt.Sprintf("%s:%d", c.name, line)
	m := make(map[string]any, len(rec))
	touched := false
	for i, h := range c.header {
		v, err := c.utf8.fixString(rec[i], loc, h, &touched)
		if err != nil {
			return rawRec{}, err
		}
		m[h] = v
	}
	if touched {
		c.utf8.replaced.Add(1)
	}
	return rawRec{loc: loc, v: m, text: true}, nil
}

func (c *csvReader) Close() error { return c.f.Close() }

// rowsReader yields inline rows.
type rowsReader struct {
	rows []any
	i    int
}

func newRowsReader(rows cty.Value) (rawReader, error) {
	b, err := ctyjson.Marshal(rows, rows.Type())
	if err != nil {
		return nil, fmt.Errorf("rows: %v", err)
	}
	v, err := decodeJSON(b)
	if err != nil {
		return nil, fmt.Errorf("rows: %v", err)
	}
	arr, _ := v.([]any)
	return &rowsReader{rows: arr}, nil
}

func (r *rowsReader) Next() (rawRec, error) {
	if r.i >= len(r.rows) {
		return rawRec{}, io.EOF
	}
	r.i++
	return rawRec{loc: fmt.Sprintf("rows[%d]", r.i-1), v: r.rows[r.i-1]}, nil
}

func (r *rowsReader) Close() error { return nil }

// transcodeParallel reads all of jr, transcoding batches of lines to
// canonical lines on worker goroutines; handle sees every record in file
// order, exactly as the sequential loop would (the lines the transcoder
// declines are decoded in order on this goroutine). Afterwards jr is at
// its end.
func transcodeParallel(ctx context.Context, jr *jsonlReader, handle func(rawRec, error) error) error {
	type lineBatch struct {
		buf   []byte
		ends  []int
		nums  []int
		atEOF bool // the batch's last line ends the file without a newline
		out   []byte
		oends []int   // -1: declined
		bad   []error // per line: a record error instead of the line (nil: none in the batch)
		err   error   // a read error after the batch's lines
	}
	line := func(b *lineBatch, i int) []byte {
		start := 0
		if i > 0 {
			start = b.ends[i-1]
		}
		return b.buf[start:b.ends[i]]
	}
	produce := func(emit func(*lineBatch) bool) error {
		size := 16 << 10
		for {
			b := &lineBatch{buf: make([]byte, 0, size), ends: make([]int, 0, batchSize), nums: make([]int, 0, batchSize)}
			for len(b.ends) < batchSize {
				l, atEOF, err := jr.readLine()
				var re *recordErr
				if errors.As(err, &re) {
					// A bad line keeps its place, empty, with its error.
					if b.bad == nil {
						b.bad = make([]error, len(b.ends), batchSize)
					}
					b.bad = append(b.bad, err)
					b.ends = append(b.ends, len(b.buf))
					b.nums = append(b.nums, jr.line)
					continue
				}
				if err != nil {
					if err != io.EOF {
						b.err = err
					}
					break
				}
				if b.bad != nil {
					b.bad = append(b.bad, nil)
				}
				b.buf = append(b.buf, l...)
				b.ends = append(b.ends, len(b.buf))
				b.nums = append(b.nums, jr.line)
				b.atEOF = atEOF
			}
			size = max(size, len(b.buf)+len(b.buf)/8)
			if !emit(b) {
				return errStopped
			}
			if len(b.ends) < batchSize { // the end, or a read error
				return nil
			}
		}
	}
	newWorker := func() func(*lineBatch) {
		tc := jr.tc.Clone()
		return func(b *lineBatch) {
			b.oends = make([]int, len(b.ends))
			b.out = make([]byte, 0, len(b.buf)+len(b.buf)/4)
			for i := range b.ends {
				var ok bool
				start := len(b.out)
				if b.bad != nil && b.bad[i] != nil {
					b.oends[i] = -1
					continue
				}
				if b.out, ok = tc.Append(b.out, line(b, i)); ok {
					b.oends[i] = len(b.out)
				} else {
					b.out = b.out[:start]
					b.oends[i] = -1
				}
			}
		}
	}
	consume := func(b *lineBatch) error {
		start := 0
		for i := range b.ends {
			var raw rawRec
			var err error
			if b.bad != nil && b.bad[i] != nil {
				err = b.bad[i]
			} else if b.oends[i] >= 0 {
				raw = rawRec{canon: b.out[start:b.oends[i]], name: jr.name, line: b.nums[i]}
				start = b.oends[i]
			} else {
				raw, err = jr.decodeLine(line(b, i), b.nums[i], b.atEOF && i == len(b.ends)-1, false)
			}
			if err := handle(raw, err); err != nil {
				return err
			}
		}
		return b.err
	}
	return inOrder(ctx, goruntime.GOMAXPROCS(0), produce, newWorker, consume)
}
