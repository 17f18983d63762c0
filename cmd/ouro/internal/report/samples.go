package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/dataset"
	"github.com/ouroloop/ouro/runtime/store"
)

// sampleOps are the operators whose records the sample viewer shows: the
// ones that make or judge records (acquisition, selection that decides,
// refinement, evaluation), not those that only move them (dataset,
// sample, concat, split, export) or train on them.
var sampleOps = map[string]bool{
	"generate": true, "command": true, "extract": true, "verify": true, "judge": true,
	"filter": true, "map": true, "dedupe": true, "top": true, "pair": true,
	"vote": true, "best_of": true, "refine": true, "evaluate": true,
}

// firstColumns come first in a table, in this order; other fields follow
// sorted.
var firstColumns = []string{"question", "prompt", "messages", "completion", "draft", "refined", "parsed", "majority", "agreement", "score", "passed", "chosen", "rejected"}

// maxCell is the most runes of one value a table cell embeds.
const maxCell = 2000

// Samples is one stage's records in the sample viewer.
type Samples struct {
	Address  string
	Operator string
	Status   string // ran or cached
	// Field is the part of the stage's value shown: "" for a dataset
	// value, else the field holding it (evaluate: items).
	Field string
	Total int64 // records in the dataset shown
	// Input and Dropped are a filter's input records and how many it
	// dropped, when its input dataset is known (else -1).
	Input, Dropped int64
	Rule           string // what decided kept or dropped
	Counts         []Fact // the stage's counters (dropped, passed, …)
	Columns        []string
	Rows           []Row
	Note           string // why some or all records are not shown
}

// Row is one embedded record.
type Row struct {
	N     int64  // record number in its dataset, from 1
	Kept  string // filter: kept or dropped; else empty
	Cells []string
}

type datasetRef struct {
	Digest string `json:"digest"`
	Count  int64  `json:"count"`
}

// datasetsIn returns the datasets a stage value references: the value
// itself ("") or its top-level fields, sorted by field.
func datasetsIn(result json.RawMessage) map[string]datasetRef {
	var top map[string]json.RawMessage
	if json.Unmarshal(result, &top) != nil {
		return nil
	}
	out := map[string]datasetRef{}
	if raw, ok := top["$dataset"]; ok && len(top) == 1 {
		var d datasetRef
		if json.Unmarshal(raw, &d) == nil && d.Digest != "" {
			out[""] = d
		}
		return out
	}
	for k, raw := range top {
		var inner map[string]json.RawMessage
		if json.Unmarshal(raw, &inner) != nil || len(inner) != 1 {
			continue
		}
		var d datasetRef
		if json.Unmarshal(inner["$dataset"], &d) == nil && d.Digest != "" {
			out[k] = d
		}
	}
	return out
}

func buildSamples(rep *Report, r *Run, st Stages, rows int) []*Samples {
	type stage struct {
		run   store.StageRun
		entry *store.StageEntry
	}
	var stages []stage
	byInput := map[string]datasetRef{} // runtime.DatasetInputDigest → dataset
	gone := 0
	for _, s := range r.Record.Stages {
		if s.Key == "" || (s.Status != "ran" && s.Status != "cached") {
			continue // a failed or skipped stage stored no result
		}
		e, ok, err := st.GetStage(s.Key)
		if err != nil || !ok {
			gone++
			continue
		}
		stages = append(stages, stage{s, e})
		for _, d := range datasetsIn(e.Result) {
			byInput[runtime.DatasetInputDigest(d.Digest)] = d
		}
	}
	if gone > 0 {
		rep.Missing = append(rep.Missing, fmt.Sprintf("Run %s: %d of %d stage results are no longer in the store (collected by ouro cache gc?); their records are not shown.",
			r.Label, gone, gone+len(stages)))
	}
	var out []*Samples
	var blobsGone []string
	for _, s := range stages {
		if !sampleOps[s.entry.Operator] {
			continue
		}
		ds := datasetsIn(s.entry.Result)
		field := ""
		if _, ok := ds[""]; !ok {
			if _, ok := ds["items"]; ok {
				field = "items"
			} else if keys := sortedKeys(ds); len(keys) > 0 {
				field = keys[0]
			} else {
				continue
			}
		}
		d := ds[field]
		sm := &Samples{Address: s.run.Address, Operator: s.entry.Operator, Status: s.run.Status, Field: field, Total: d.Count, Input: -1, Dropped: -1}
		if sm.Address == "" {
			sm.Address = s.entry.Address
		}
		for _, k := range sortedKeys(s.run.Counts) {
			sm.Counts = append(sm.Counts, Fact{k, fmt.Sprint(s.run.Counts[k])})
		}
		var err error
		if in, ok := byInput[s.entry.Inputs["input"]]; ok && s.entry.Operator == "filter" {
			sm.Input, sm.Dropped = in.Count, in.Count-d.Count
			sm.Rule = "kept where the filter's `where` is true; dropped otherwise"
			err = filterRows(sm, st.Blobs(), in, d, rows)
		} else {
			err = plainRows(sm, st.Blobs(), d, rows)
		}
		if err != nil {
			sm.Note = "records not available: " + err.Error()
			blobsGone = append(blobsGone, sm.Address)
		} else if int64(len(sm.Rows)) < sm.Total+max(sm.Dropped, 0) {
			sm.Note = fmt.Sprintf("showing %d of %d records (--rows)", len(sm.Rows), sm.Total+max(sm.Dropped, 0))
		}
		out = append(out, sm)
	}
	if len(blobsGone) > 0 {
		rep.Missing = append(rep.Missing, fmt.Sprintf("Run %s: the records of %d stages could not be read (their dataset blobs were collected?): %s.",
			r.Label, len(blobsGone), strings.Join(blobsGone, ", ")))
	}
	return out
}

// plainRows embeds the first rows records of d.
func plainRows(sm *Samples, bs store.BlobStore, d datasetRef, rows int) error {
	rd, c, err := dataset.OpenBlob(bs, store.Digest(d.Digest))
	if err != nil {
		return err
	}
	defer c.Close()
	var lines [][]byte
	for len(lines) < rows {
		line, err := rd.NextLine()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		lines = append(lines, bytes.Clone(line))
	}
	sm.setRows(lines, nil, nil)
	return nil
}

// filterRows marks each record of the filter's input kept or dropped (a
// record is kept when its canonical line is in the output: a filter writes
// its input's lines unchanged) and embeds up to rows of them, half kept and
// half dropped when there are enough of both, in input order.
func filterRows(sm *Samples, bs store.BlobStore, in, out datasetRef, rows int) error {
	kept := map[[16]byte]int{}
	rd, c, err := dataset.OpenBlob(bs, store.Digest(out.Digest))
	if err != nil {
		return err
	}
	for {
		line, err := rd.NextLine()
		if err == io.EOF {
			break
		}
		if err != nil {
			c.Close()
			return err
		}
		kept[lineKey(line)]++
	}
	c.Close()
	rd, c, err = dataset.OpenBlob(bs, store.Digest(in.Digest))
	if err != nil {
		return err
	}
	defer c.Close()
	type rec struct {
		n    int64
		line []byte
		kept bool
	}
	var keep, drop []rec
	for n := int64(1); len(keep) < rows || len(drop) < rows; n++ {
		line, err := rd.NextLine()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		k := lineKey(line)
		if kept[k] > 0 {
			kept[k]--
			if len(keep) < rows {
				keep = append(keep, rec{n, bytes.Clone(line), true})
			}
		} else if len(drop) < rows {
			drop = append(drop, rec{n, bytes.Clone(line), false})
		}
	}
	nk := min(len(keep), max(rows-len(drop), (rows+1)/2))
	nd := min(len(drop), rows-nk)
	all := append(keep[:nk:nk], drop[:nd]...)
	slices.SortFunc(all, func(a, b rec) int { return int(a.n - b.n) })
	lines := make([][]byte, len(all))
	ns := make([]int64, len(all))
	marks := make([]string, len(all))
	for i, r := range all {
		lines[i], ns[i], marks[i] = r.line, r.n, "dropped"
		if r.kept {
			marks[i] = "kept"
		}
	}
	sm.setRows(lines, ns, marks)
	return nil
}

func lineKey(line []byte) [16]byte {
	s := sha256.Sum256(line)
	return [16]byte(s[:16])
}

// setRows fills Columns and Rows from canonical record lines; ns are their
// record numbers (nil: 1, 2, …), marks their kept or dropped (nil: none).
func (sm *Samples) setRows(lines [][]byte, ns []int64, marks []string) {
	recs := make([]map[string]json.RawMessage, len(lines))
	cols := map[string]bool{}
	for i, l := range lines {
		if json.Unmarshal(l, &recs[i]) != nil {
			recs[i] = map[string]json.RawMessage{"record": json.RawMessage(l)}
		}
		for k := range recs[i] {
			cols[k] = true
		}
	}
	for _, c := range firstColumns {
		if cols[c] {
			sm.Columns = append(sm.Columns, c)
			delete(cols, c)
		}
	}
	sm.Columns = append(sm.Columns, sortedKeys(cols)...)
	for i, rec := range recs {
		row := Row{N: int64(i + 1)}
		if ns != nil {
			row.N = ns[i]
		}
		if marks != nil {
			row.Kept = marks[i]
		}
		for _, c := range sm.Columns {
			row.Cells = append(row.Cells, cell(rec[c]))
		}
		sm.Rows = append(sm.Rows, row)
	}
}

// cell is a value as a table shows it: a string as itself, anything else
// as its JSON, cut at maxCell runes.
func cell(raw json.RawMessage) string {
	if raw == nil {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw)
	}
	if utf8.RuneCountInString(s) > maxCell {
		s = string([]rune(s)[:maxCell]) + fmt.Sprintf("… (%d characters)", utf8.RuneCountInString(s))
	}
	return s
}
