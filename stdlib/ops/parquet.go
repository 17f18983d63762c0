package ops

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/format"
	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/dataset"
)

// parquetReader reads the rows of a Parquet file as generic values.
// Top-level columns with the JSON logical type are read as text and
// decoded here, keeping numbers exact (parquet-go would decode them into
// float64s); their strings follow the UTF-8 rule before decoding.
type parquetReader struct {
	f    *os.File
	r    *parquet.Reader
	name string
	row  int64
	utf8 *utf8Rule
	json []string // the JSON columns
}

func openParquet(path, name string, rule *utf8Rule) (rr rawReader, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			f.Close()
			rr, err = nil, fmt.Errorf("%s: not a readable Parquet file: %v", name, p)
		}
	}()
	if err := checkParquetFooter(f, st.Size()); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not a readable Parquet file: %v", name, err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not a readable Parquet file: %v", name, err)
	}
	var jsonCols []string
	read := parquet.Group{}
	for _, fd := range pf.Schema().Fields() {
		node := parquet.Node(fd)
		if lt := fd.Type().LogicalType(); fd.Leaf() && lt != nil {
			if _, ok := lt.Value.(*format.JsonType); ok {
				jsonCols = append(jsonCols, fd.Name())
				node = parquet.String()
				switch {
				case fd.Optional():
					node = parquet.Optional(node)
				case fd.Repeated():
					node = parquet.Repeated(node)
				}
			}
		}
		read[fd.Name()] = node
	}
	var r *parquet.Reader
	if len(jsonCols) == 0 {
		r = parquet.NewReader(pf)
	} else {
		r = parquet.NewReader(pf, parquet.NewSchema(pf.Schema().Name(), read))
	}
	return &parquetReader{f: f, r: r, name: name, utf8: rule, json: jsonCols}, nil
}

func (p *parquetReader) Next() (rec rawRec, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: row %d: corrupt Parquet data: %v", p.name, p.row+1, r)
		}
	}()
	m := map[string]any{}
	if err := p.r.Read(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return rawRec{}, io.EOF
		}
		return rawRec{}, fmt.Errorf("%s: row %d: %v", p.name, p.row+1, err)
	}
	p.row++
	loc := fmt.Sprintf("%s: row %d", p.name, p.row)
	touched := false
	if _, err := p.utf8.fixValue(m, loc, "", &touched); err != nil {
		return rawRec{}, err
	}
	if touched {
		p.utf8.replaced.Add(1)
	}
	for _, c := range p.json {
		if err := decodeJSONColumn(m, c); err != nil {
			return rawRec{}, &recordErr{loc, err}
		}
	}
	return rawRec{loc: loc, v: m}, nil
}

// decodeJSONColumn replaces the JSON text of column c in m (a string, or
// a list of them for a repeated column) with its decoded value.
func decodeJSONColumn(m map[string]any, c string) error {
	dec := func(v any) (any, error) {
		t, ok := v.(string)
		if !ok {
			return v, nil // null
		}
		x, err := decodeJSON([]byte(t))
		if err != nil {
			return nil, &fieldError{c, fmt.Sprintf("invalid JSON in a JSON column: %v", err)}
		}
		return x, nil
	}
	var err error
	switch v := m[c].(type) {
	case []any:
		for i := range v {
			if v[i], err = dec(v[i]); err != nil {
				return err
			}
		}
	default:
		m[c], err = dec(v)
	}
	return err
}

func (p *parquetReader) Close() error {
	p.r.Close()
	return p.f.Close()
}

// checkParquetFooter checks the footer length a Parquet file ends with
// against the file's size: parquet-go allocates that many bytes before it
// reads them, so a corrupt length (up to 4 GiB) in a small file would
// otherwise cost gigabytes of memory (found by FuzzDatasetParquet).
func checkParquetFooter(f *os.File, size int64) error {
	const magic = 4
	if size < 2*magic+4 {
		return fmt.Errorf("%d bytes is too short", size)
	}
	var tail [8]byte
	if _, err := f.ReadAt(tail[:], size-8); err != nil {
		return err
	}
	if n := int64(binary.LittleEndian.Uint32(tail[:4])); n > size-2*magic-4 {
		return fmt.Errorf("the footer claims %d bytes, more than the file holds", n)
	}
	return nil
}

// Writing Parquet (export). One optional column per field, named and
// ordered as the sorted field names: strings as BYTE_ARRAY with the String
// logical type, bools as BOOLEAN, numbers as INT64 or DOUBLE (see
// numberColumns), and everything else (lists, sets, tuples, maps, objects,
// dynamic values) as BYTE_ARRAY with the JSON logical type, holding the
// value's canonical JSON. openParquet reads every kind back to the same
// canonical line.

// numberKind is how a number column is written.
type numberKind int

const (
	numDouble numberKind = iota // every value is a float64
	numInt64                    // every value is an integer below 2^63
	numJSON                     // neither: fractions beside integers a double would round
)

// numberColumns decides, for each number field of schema, how to write it,
// in a first pass over the input: INT64 when every value is an integer (of
// magnitude below 2^63, as every stored integer is), DOUBLE when every
// value is exactly a float64 (all fractions are), and canonical JSON text
// when the column mixes fractions with integers beyond 2^53 that a DOUBLE
// would round. A column of nulls only is DOUBLE.
func numberColumns(ctx context.Context, x *runtime.Exec, schema cty.Type) (map[string]numberKind, error) {
	type seen struct{ ints, floats, inexact bool }
	cols := map[string]*seen{}
	for n, t := range schema.AttributeTypes() {
		if t == cty.Number {
			cols[n] = &seen{}
		}
	}
	kinds := map[string]numberKind{}
	if len(cols) == 0 {
		return kinds, nil
	}
	err := eachAgain(ctx, x, "input", func(_ int64, rec cty.Value) error {
		for n, c := range cols {
			v := rec.GetAttr(n)
			if v.IsNull() {
				continue
			}
			f := v.AsBigFloat()
			if _, acc := f.Int64(); acc == big.Exact && f.IsInt() {
				c.ints = true
				if _, acc := f.Float64(); acc != big.Exact {
					c.inexact = true
				}
			} else {
				c.floats = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for n, c := range cols {
		switch {
		case c.ints && !c.floats:
			kinds[n] = numInt64
		case c.ints && c.inexact:
			kinds[n] = numJSON
		default:
			kinds[n] = numDouble
		}
	}
	return kinds, nil
}

// parquetCodec is the compression argument's codec.
func parquetCodec(name string) (compress.Codec, error) {
	switch name {
	case "zstd", "":
		return &parquet.Zstd, nil
	case "snappy":
		return &parquet.Snappy, nil
	case "gzip":
		return &parquet.Gzip, nil
	case "none":
		return &parquet.Uncompressed, nil
	}
	return nil, fmt.Errorf("unknown compression %q (zstd, snappy, gzip or none)", name)
}

type parquetSink struct {
	w     *parquet.Writer
	names []string
	kind  []parquetKind
	buf   []byte
}

type parquetKind int

const (
	pqString parquetKind = iota
	pqBool
	pqInt64
	pqDouble
	pqJSON
)

func newParquetSink(w io.Writer, schema cty.Type, nums map[string]numberKind, codec compress.Codec) *parquetSink {
	s := &parquetSink{names: sortedAttrs(schema)}
	g := parquet.Group{}
	for _, name := range s.names {
		var node parquet.Node
		k := pqJSON
		switch t := schema.AttributeType(name); {
		case t == cty.String:
			node, k = parquet.String(), pqString
		case t == cty.Bool:
			node, k = parquet.Leaf(parquet.BooleanType), pqBool
		case t == cty.Number && nums[name] == numInt64:
			node, k = parquet.Int(64), pqInt64
		case t == cty.Number && nums[name] == numDouble:
			node, k = parquet.Leaf(parquet.DoubleType), pqDouble
		default:
			node = parquet.JSON()
		}
		g[name] = parquet.Optional(node)
		s.kind = append(s.kind, k)
	}
	s.w = parquet.NewWriter(w, parquet.NewSchema("ouro", g), parquet.Compression(codec))
	return s
}

func (s *parquetSink) write(rec cty.Value) error {
	m := make(map[string]any, len(s.names))
	for i, n := range s.names {
		v := rec.GetAttr(n)
		if v.IsNull() {
			m[n] = nil
			continue
		}
		switch s.kind[i] {
		case pqString:
			m[n] = v.AsString()
		case pqBool:
			m[n] = v.True()
		case pqInt64:
			i, _ := v.AsBigFloat().Int64()
			m[n] = i
		case pqDouble:
			m[n] = float(v)
		default:
			var err error
			if s.buf, err = dataset.AppendCanonical(s.buf[:0], v); err != nil {
				return fmt.Errorf("field %q: %v", n, err)
			}
			m[n] = string(s.buf)
		}
	}
	return s.w.Write(m)
}

func (s *parquetSink) close() error { return s.w.Close() }
