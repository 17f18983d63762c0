package ops

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/parquet-go/parquet-go"
)

// parquetReader reads the rows of a Parquet file as generic values.
type parquetReader struct {
	f    *os.File
	r    *parquet.Reader
	name string
	row  int64
	utf8 *utf8Rule
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
	return &parquetReader{f: f, r: parquet.NewReader(pf), name: name, utf8: rule}, nil
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
	return rawRec{loc: loc, v: m}, nil
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
