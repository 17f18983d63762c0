package ops

import (
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
