package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
)

//go:embed assets/report.html.tmpl
var pageSource string

//go:embed assets/report.css
var pageCSS string

//go:embed assets/report.js
var pageJS string

var page = template.Must(template.New("report").Parse(pageSource))

// sampleJSON is a stage's samples as the page script reads them.
type sampleJSON struct {
	Run      string     `json:"run"`
	Address  string     `json:"address"`
	Operator string     `json:"operator"`
	Status   string     `json:"status"`
	Field    string     `json:"field,omitempty"`
	Total    int64      `json:"total"`
	Input    int64      `json:"input"`
	Dropped  int64      `json:"dropped"`
	Rule     string     `json:"rule,omitempty"`
	Counts   [][]string `json:"counts,omitempty"`
	Note     string     `json:"note,omitempty"`
	Columns  []string   `json:"columns"`
	// Rows are [record number, kept|dropped|"", cells…].
	Rows [][]any `json:"rows"`
}

type metricView struct {
	Metric *Metric
	SVG    template.HTML
}

type runView struct {
	*Run
	Timeline template.HTML
}

type pageData struct {
	Title   string
	Ouro    string
	Runs    []runView
	Metrics []metricView
	Table   metricTable
	Missing []string
	Samples []sampleJSON
	CSS     template.CSS
	JS      template.JS
}

// metricTable is every recorded metric value: a row per run and stage
// address, a column per metric.
type metricTable struct {
	Columns []string
	Rows    [][]string
}

// WriteHTML writes the report as one HTML page.
func (rep *Report) WriteHTML(w io.Writer) error {
	d := pageData{Ouro: rep.Ouro, Missing: rep.Missing, CSS: template.CSS(pageCSS), JS: template.JS(pageJS)}
	var ids []string
	for _, r := range rep.Runs {
		ids = append(ids, r.Label)
		tl, err := TimelineSVG(r)
		if err != nil {
			return fmt.Errorf("timeline of run %s: %w", r.Label, err)
		}
		d.Runs = append(d.Runs, runView{r, tl})
		for _, s := range r.Samples {
			sj := sampleJSON{Run: r.Label, Address: s.Address, Operator: s.Operator, Status: s.Status, Field: s.Field,
				Total: s.Total, Input: s.Input, Dropped: s.Dropped, Rule: s.Rule, Note: s.Note, Columns: s.Columns, Rows: [][]any{}}
			if sj.Columns == nil {
				sj.Columns = []string{}
			}
			for _, c := range s.Counts {
				sj.Counts = append(sj.Counts, []string{c.Name, c.Value})
			}
			for _, row := range s.Rows {
				cells := []any{row.N, row.Kept}
				for _, c := range row.Cells {
					cells = append(cells, c)
				}
				sj.Rows = append(sj.Rows, cells)
			}
			d.Samples = append(d.Samples, sj)
		}
	}
	if d.Samples == nil {
		d.Samples = []sampleJSON{}
	}
	d.Title = "ouro report: " + strings.Join(ids, ", ")
	for _, m := range rep.Metrics {
		svg, err := rep.MetricSVG(m)
		if err != nil {
			return fmt.Errorf("chart of %s: %w", m.Name, err)
		}
		d.Metrics = append(d.Metrics, metricView{m, svg})
	}
	d.Table = rep.metricTable()
	var buf bytes.Buffer
	if err := page.Execute(&buf, d); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func (rep *Report) metricTable() metricTable {
	var t metricTable
	type key struct{ run, addr string }
	cells := map[key]map[string]string{}
	var keys []key
	for _, m := range rep.Metrics {
		t.Columns = append(t.Columns, m.Name)
		for _, s := range m.Series {
			for _, p := range s.Points {
				addr := s.Stage
				if p.Round >= 0 {
					addr = fmt.Sprintf("%s (round %d)", s.Stage, p.Round)
				}
				k := key{s.Run, addr}
				if cells[k] == nil {
					cells[k] = map[string]string{}
					keys = append(keys, k)
				}
				cells[k][m.Name] = fmt.Sprintf("%.4g", p.Value)
			}
		}
	}
	order := map[string]int{}
	for i, r := range rep.Runs {
		order[r.Label] = i
	}
	// Rows in the order runs are given, then stage, then round.
	sortKeys := func(a, b key) bool {
		if order[a.run] != order[b.run] {
			return order[a.run] < order[b.run]
		}
		sa, ra := splitRound(a.addr)
		sb, rb := splitRound(b.addr)
		if sa != sb {
			return sa < sb
		}
		return ra < rb
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && sortKeys(keys[j], keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	for _, k := range keys {
		row := []string{k.run, k.addr}
		for _, c := range t.Columns {
			v, ok := cells[k][c]
			if !ok {
				v = "–"
			}
			row = append(row, v)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func splitRound(addr string) (string, int) {
	stage, rest, ok := strings.Cut(addr, " (round ")
	if !ok {
		return stage, -1
	}
	var n int
	fmt.Sscanf(rest, "%d", &n)
	return stage, n
}
