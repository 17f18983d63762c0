package dataset

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/ouroloop/ouro/runtime/store"
)

// FormatVersion is the "ouro_dataset" value in the header this package writes.
const FormatVersion = 1

// Writer writes a canonical dataset artifact.
type Writer struct {
	w      *bufio.Writer
	schema cty.Type // as given (may have optional attributes)
	rtype  cty.Type // record type: schema without optional attributes
	n      int64
	buf    []byte
	err    error
	closed bool
}

// NewWriter writes the header for schema, which must be an object type.
func NewWriter(w io.Writer, schema cty.Type) (*Writer, error) {
	if !schema.IsObjectType() {
		return nil, fmt.Errorf("dataset schema must be an object type, not %s", schema.FriendlyName())
	}
	st, err := ctyjson.MarshalType(schema)
	if err != nil {
		return nil, fmt.Errorf("dataset schema: %w", err)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`{"ouro_dataset":` + strconv.Itoa(FormatVersion) + `,"schema":`)
	bw.Write(st)
	bw.WriteString("}\n")
	return &Writer{w: bw, schema: schema, rtype: schema.WithoutOptionalAttributesDeep()}, nil
}

// Write appends one record. A record whose type differs from the schema is
// converted where cty allows it without loss (never string to number or
// bool); otherwise the error names the record and the offending field.
func (w *Writer) Write(rec cty.Value) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("dataset: write after Close")
	}
	n := w.n + 1
	if !rec.Type().Equals(w.rtype) {
		v, err := conform(rec, w.schema)
		if err != nil {
			return fmt.Errorf("dataset record %d: %w", n, err)
		}
		rec = v
	}
	if rec.IsNull() {
		return fmt.Errorf("dataset record %d: record is null", n)
	}
	buf, err := appendValue(w.buf[:0], rec, "")
	if err != nil {
		return fmt.Errorf("dataset record %d: %w", n, err)
	}
	buf = append(buf, '\n')
	w.buf = buf
	if _, err := w.w.Write(buf); err != nil {
		w.err = err
		return err
	}
	w.n = n
	return nil
}

// conform converts rec to schema, explaining the first field that does not fit.
func conform(rec cty.Value, schema cty.Type) (cty.Value, error) {
	rt := rec.Type()
	if !rt.IsObjectType() {
		return cty.NilVal, fmt.Errorf("record must be an object, not %s", rt.FriendlyName())
	}
	want := schema.AttributeTypes()
	var extra []string
	for name := range rt.AttributeTypes() {
		if _, ok := want[name]; !ok {
			extra = append(extra, strconv.Quote(name))
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return cty.NilVal, fmt.Errorf("field %s is not in the schema", strings.Join(extra, ", "))
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		wt := want[name]
		if !rt.HasAttribute(name) {
			if schema.AttributeOptional(name) {
				continue
			}
			return cty.NilVal, fmt.Errorf("field %q is missing (want %s)", name, wt.FriendlyName())
		}
		got := rt.AttributeType(name)
		if !got.Equals(wt.WithoutOptionalAttributesDeep()) && convert.GetConversion(got, wt) == nil {
			return cty.NilVal, fmt.Errorf("field %q: %s", name, convert.MismatchMessage(got, wt))
		}
	}
	v, err := convert.Convert(rec, schema)
	if err != nil {
		var pe cty.PathError
		if errors.As(err, &pe) && len(pe.Path) > 0 {
			return cty.NilVal, fmt.Errorf("field %s: %w", formatPath(pe.Path), err)
		}
		return cty.NilVal, err
	}
	return v, nil
}

func formatPath(p cty.Path) string {
	var b strings.Builder
	for _, s := range p {
		switch s := s.(type) {
		case cty.GetAttrStep:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Name)
		case cty.IndexStep:
			if s.Key.Type() == cty.String {
				fmt.Fprintf(&b, "[%q]", s.Key.AsString())
			} else if s.Key.Type() == cty.Number {
				fmt.Fprintf(&b, "[%s]", s.Key.AsBigFloat().Text('f', -1))
			}
		}
	}
	return strconv.Quote(b.String())
}

// WriteRaw appends one record given as its canonical line (without the
// newline), as read by Reader.NextLine from an artifact whose record type is
// this writer's: the bytes are copied as they are, not checked, so a
// record that passes through a stage unchanged costs no decoding or
// encoding.
func (w *Writer) WriteRaw(line []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("dataset: write after Close")
	}
	w.w.Write(line)
	if err := w.w.WriteByte('\n'); err != nil {
		w.err = err
		return err
	}
	w.n++
	return nil
}

// Count returns the number of records written.
func (w *Writer) Count() int64 { return w.n }

// Close flushes buffered output. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if err := w.w.Flush(); err != nil {
		w.err = err
	}
	return w.err
}

// Reader reads a canonical dataset artifact record by record.
type Reader struct {
	r      *bufio.Reader
	schema cty.Type
	rtype  cty.Type
	n      int64 // records read
	line   []byte
	err    error
}

type header struct {
	Format *int            `json:"ouro_dataset"`
	Schema json.RawMessage `json:"schema"`
}

// NewReader reads and checks the header.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{r: bufio.NewReaderSize(r, 64<<10)}
	line, err := rd.readLine()
	if err == io.EOF {
		return nil, errors.New("dataset: empty artifact (no header)")
	}
	if err != nil {
		return nil, fmt.Errorf("dataset header: %w", err)
	}
	var h header
	if err := json.Unmarshal(line, &h); err != nil || h.Format == nil {
		return nil, errors.New("dataset header (line 1): not an ouro dataset artifact")
	}
	if *h.Format > FormatVersion || *h.Format < 1 {
		return nil, fmt.Errorf("dataset header (line 1): format %d is not supported (this ouro reads format %d)", *h.Format, FormatVersion)
	}
	t, err := ctyjson.UnmarshalType(h.Schema)
	if err != nil {
		return nil, fmt.Errorf("dataset header (line 1): schema: %w", err)
	}
	if !t.IsObjectType() {
		return nil, fmt.Errorf("dataset header (line 1): schema must be an object type, not %s", t.FriendlyName())
	}
	rd.schema, rd.rtype = t, t.WithoutOptionalAttributesDeep()
	return rd, nil
}

// Schema returns the record schema from the header.
func (r *Reader) Schema() cty.Type { return r.schema }

// Count returns the number of records read so far.
func (r *Reader) Count() int64 { return r.n }

// readLine returns the next line without its newline; io.EOF at a clean end;
// io.ErrUnexpectedEOF for a last line without newline.
func (r *Reader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	for {
		chunk, err := r.r.ReadSlice('\n')
		r.line = append(r.line, chunk...)
		switch {
		case err == nil:
			return r.line[:len(r.line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			if len(r.line) == 0 {
				return nil, io.EOF
			}
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

// Next returns the next record, or io.EOF after the last one.
func (r *Reader) Next() (cty.Value, error) {
	if r.err != nil {
		return cty.NilVal, r.err
	}
	n := r.n + 1
	fail := func(err error) (cty.Value, error) {
		r.err = fmt.Errorf("dataset record %d (line %d): %w", n, n+1, err)
		return cty.NilVal, r.err
	}
	line, err := r.readLine()
	if err == io.EOF {
		r.err = io.EOF
		return cty.NilVal, io.EOF
	}
	if err == io.ErrUnexpectedEOF {
		return fail(errors.New("truncated: the artifact ends inside this record"))
	}
	if err != nil {
		return fail(err)
	}
	v, err := decodeRecord(line, r.rtype)
	if err != nil {
		return fail(err)
	}
	r.n = n
	return v, nil
}

// NextLine returns the next record's canonical line (without the newline)
// undecoded, or io.EOF after the last one. The bytes are valid until the
// next call. Decode it with DecodeLine.
func (r *Reader) NextLine() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	n := r.n + 1
	line, err := r.readLine()
	if err == io.EOF {
		r.err = io.EOF
		return nil, io.EOF
	}
	if err == io.ErrUnexpectedEOF {
		err = errors.New("truncated: the artifact ends inside this record")
	}
	if err != nil {
		r.err = fmt.Errorf("dataset record %d (line %d): %w", n, n+1, err)
		return nil, r.err
	}
	r.n = n
	return line, nil
}

// RecordType is the type of the records Next returns: the schema without
// optional attributes.
func (r *Reader) RecordType() cty.Type { return r.rtype }

// DecodeLine decodes record n (counting from 1), a line NextLine returned,
// as Next would have; errors read as Next's. only, when not nil, decodes
// just those top-level fields (the value is an object of them alone). It
// is safe to call from several goroutines.
func (r *Reader) DecodeLine(line []byte, n int64, only map[string]bool) (cty.Value, error) {
	if only != nil {
		if v, ok := Decode(line, r.rtype, DecodeOptions{Only: only}); ok {
			return v, nil
		}
		// Bad line: the full decoder explains it.
	}
	v, err := decodeRecord(line, r.rtype)
	if err != nil {
		return cty.NilVal, fmt.Errorf("dataset record %d (line %d): %w", n, n+1, err)
	}
	if only != nil {
		attrs := make(map[string]cty.Value, len(only))
		for name := range only {
			if r.rtype.HasAttribute(name) {
				attrs[name] = v.GetAttr(name)
			}
		}
		if len(attrs) == 0 {
			return cty.EmptyObjectVal, nil
		}
		return cty.ObjectVal(attrs), nil
	}
	return v, nil
}

// ReadAll reads the remaining records.
func (r *Reader) ReadAll() ([]cty.Value, error) {
	var out []cty.Value
	for {
		v, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
}

// WriteBlob writes a dataset into bs. fill calls write once per record.
func WriteBlob(bs store.BlobStore, schema cty.Type, fill func(write func(cty.Value) error) error) (store.Digest, int64, error) {
	return WriteBlobWriter(bs, schema, func(w *Writer) error { return fill(w.Write) })
}

// WriteBlobWriter is WriteBlob handing fill the Writer itself (for
// WriteRaw).
func WriteBlobWriter(bs store.BlobStore, schema cty.Type, fill func(w *Writer) error) (store.Digest, int64, error) {
	bw, err := bs.Create()
	if err != nil {
		return "", 0, err
	}
	w, err := NewWriter(bw, schema)
	if err != nil {
		bw.Abort()
		return "", 0, err
	}
	if err := fill(w); err != nil {
		bw.Abort()
		return "", 0, err
	}
	if err := w.Close(); err != nil {
		bw.Abort()
		return "", 0, err
	}
	d, _, err := bw.Commit()
	if err != nil {
		return "", 0, err
	}
	return d, w.Count(), nil
}

// WriteValues writes records as a dataset blob.
func WriteValues(bs store.BlobStore, schema cty.Type, recs []cty.Value) (store.Digest, int64, error) {
	return WriteBlob(bs, schema, func(write func(cty.Value) error) error {
		for _, r := range recs {
			if err := write(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// OpenBlob opens dataset blob d. Close the returned Closer when done.
func OpenBlob(bs store.BlobStore, d store.Digest) (*Reader, io.Closer, error) {
	rc, err := bs.Open(d)
	if err != nil {
		return nil, nil, err
	}
	r, err := NewReader(rc)
	if err != nil {
		rc.Close()
		return nil, nil, fmt.Errorf("dataset %s: %w", d, err)
	}
	return r, rc, nil
}
