package report

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ouroloop/ouro/runtime/store"
)

// Runs is what Build needs to find run records (a *store.Store or a
// store.QueryClient both answer it).
type Runs interface {
	GetRun(idOrPrefix string) (*store.RunRecord, error)
}

// Stages is what Build needs to read stage results and their datasets; a
// *store.Store answers it. Without it (a store held by a running process)
// the report has no samples and says so.
type Stages interface {
	GetStage(key string) (*store.StageEntry, bool, error)
	Blobs() store.BlobStore
}

// Options configure Build.
type Options struct {
	// Labels name the runs in legends, in the order of the refs (missing
	// or empty: the run id).
	Labels []string
	// Rows is the most records embedded per stage (0: DefaultRows).
	Rows int
	// Ouro is the version of the ouro writing the report.
	Ouro string
	// Stages, when not nil, is read for samples.
	Stages Stages
	// Unavailable says why Stages is nil (shown in the report).
	Unavailable string
}

// DefaultRows is how many records per stage a report embeds by default.
const DefaultRows = 50

// Report is everything a report shows, in the order it shows it.
type Report struct {
	Ouro    string
	Runs    []*Run
	Metrics []*Metric
	// Missing lists what the store no longer holds (or could not give),
	// one sentence each.
	Missing []string
}

// Run is one run's header and timeline.
type Run struct {
	Label  string
	Record *store.RunRecord
	Facts  []Fact // the header table
	// Counts of stages by status (ran, cached, failed, skipped).
	Ran, Cached, Failed, Skipped int
	Timeline                     []Span
	Samples                      []*Samples
}

// Fact is one row of a run's header.
type Fact struct{ Name, Value string }

// Span is one stage on the timeline: Start and End in seconds since the
// run started; a cached stage has no span of its own (Cached is set and
// Start = End = 0).
type Span struct {
	Address    string
	Status     string
	Start, End float64
}

// Metric is one metric name (a nested value flattened: accuracy.4) across
// every run and stage that recorded it.
type Metric struct {
	Name   string
	Series []*Series
}

// Series is one line: a run and a stage (a loop's stage across rounds, or
// a stage outside loops at round -1).
type Series struct {
	Run    string // the run's label
	Stage  string // loop.star.stage.eval, or stage.eval0 outside loops
	Points []Point
}

// Point is one recorded value.
type Point struct {
	Round int // -1 outside loops
	Value float64
}

// Name is the series' legend entry.
func (s *Series) Name(runs int) string {
	if runs > 1 {
		return s.Run + ": " + s.Stage
	}
	return s.Stage
}

// Build reads the runs refs name (ids, unique prefixes, latest, latest~N)
// and everything the report shows of them. Only a ref that names no run is
// an error.
func Build(runs Runs, refs []string, opts Options) (*Report, error) {
	if len(refs) == 0 {
		refs = []string{"latest"}
	}
	if opts.Rows <= 0 {
		opts.Rows = DefaultRows
	}
	rep := &Report{Ouro: opts.Ouro}
	seen := map[string]bool{}
	for i, ref := range refs {
		rec, err := runs.GetRun(ref)
		if err != nil {
			return nil, err
		}
		label := rec.ID
		if i < len(opts.Labels) && opts.Labels[i] != "" {
			label = opts.Labels[i]
		}
		if seen[label] {
			return nil, fmt.Errorf("two runs are labelled %q: give each a different --label", label)
		}
		seen[label] = true
		rep.Runs = append(rep.Runs, buildRun(rep, rec, label, opts))
	}
	if opts.Stages == nil && opts.Unavailable != "" {
		rep.Missing = append(rep.Missing, "Samples: "+opts.Unavailable)
	}
	rep.Metrics = buildMetrics(rep.Runs)
	return rep, nil
}

func buildRun(rep *Report, rec *store.RunRecord, label string, opts Options) *Run {
	r := &Run{Label: label, Record: rec}
	for _, s := range rec.Stages {
		switch s.Status {
		case "ran":
			r.Ran++
		case "cached":
			r.Cached++
		case "failed":
			r.Failed++
		default:
			r.Skipped++
		}
	}
	r.Facts = facts(r, opts)
	r.Timeline = timeline(rec)
	if opts.Stages != nil {
		r.Samples = buildSamples(rep, r, opts.Stages, opts.Rows)
	}
	return r
}

func facts(r *Run, opts Options) []Fact {
	rec := r.Record
	var f []Fact
	add := func(name, value string) {
		if value != "" {
			f = append(f, Fact{name, value})
		}
	}
	add("run", rec.ID)
	add("status", rec.Status)
	if p := rec.Provenance; p != nil {
		add("spec", p.SpecPath)
	}
	add("spec digest", rec.SpecDigest)
	if p := rec.Provenance; p != nil {
		if g := p.Git; g != nil {
			c := g.Commit
			if c == "" {
				c = "(no commit yet)"
			}
			if g.Branch != "" {
				c += " on " + g.Branch
			}
			if g.Dirty {
				c += " — dirty (uncommitted changes)"
				if g.DiffDigest != "" {
					c += ", diff " + g.DiffDigest
				}
			} else {
				c += " — clean"
			}
			add("commit", c)
		} else {
			add("commit", "(not in a git work tree)")
		}
		add("ouro", p.Binary())
		add("command", strings.Join(p.Command, " "))
		var mach []string
		for _, s := range []string{p.OS, p.Arch, p.Go} {
			if s != "" {
				mach = append(mach, s)
			}
		}
		if p.Cores > 0 {
			mach = append(mach, strconv.Itoa(p.Cores)+" cores")
		}
		if p.Jobs > 0 {
			mach = append(mach, "-j "+strconv.Itoa(p.Jobs))
		}
		if p.Executor != "" {
			mach = append(mach, p.Executor+" executor")
		}
		add("machine", strings.Join(mach, ", "))
	} else {
		add("provenance", "not recorded (a run from before ouro recorded its commit and version)")
	}
	add("host", rec.Host)
	add("started", rec.Started.UTC().Format(time.RFC3339))
	if !rec.Finished.IsZero() {
		add("finished", rec.Finished.UTC().Format(time.RFC3339))
		add("wall time", rec.Finished.Sub(rec.Started).Round(time.Millisecond).String())
	}
	add("stages", fmt.Sprintf("%d ran, %d cached, %d failed, %d skipped", r.Ran, r.Cached, r.Failed, r.Skipped))
	if rec.Pinned {
		add("pinned", "yes")
	}
	changed := map[string]bool{}
	for _, n := range rec.ChangedVariables {
		changed[n] = true
	}
	for _, k := range sortedKeys(rec.Variables) {
		v := string(rec.Variables[k])
		if changed[k] {
			v += "   (set on the command line)"
		}
		add("var."+k, v)
	}
	for _, k := range sortedKeys(rec.Outputs) {
		add("output."+k, string(rec.Outputs[k]))
	}
	return f
}

// timeline lists the stages in the order they started (cached ones, which
// took no time, first, in record order).
func timeline(rec *store.RunRecord) []Span {
	var out []Span
	for _, s := range rec.Stages {
		sp := Span{Address: s.Address, Status: s.Status}
		if sp.Address == "" {
			sp.Address = s.Name
		}
		if !s.Started.IsZero() && s.Status != "cached" {
			sp.Start = s.Started.Sub(rec.Started).Seconds()
			if sp.Start < 0 {
				sp.Start = 0
			}
			sp.End = sp.Start + s.Duration.Seconds()
		}
		out = append(out, sp)
	}
	sort.SliceStable(out, func(i, j int) bool {
		ci, cj := out[i].Status == "cached", out[j].Status == "cached"
		if ci != cj {
			return ci
		}
		if out[i].Start != out[j].Start {
			return out[i].Start < out[j].Start
		}
		return out[i].Address < out[j].Address
	})
	return out
}

// loopAddr splits loop.star[2].stage.eval into loop.star.stage.eval and 2.
var loopAddr = regexp.MustCompile(`^(loop\.[^\[\]]+)\[(\d+)\](.*)$`)

func seriesOf(addr string) (string, int) {
	m := loopAddr.FindStringSubmatch(addr)
	if m == nil {
		return addr, -1
	}
	n, _ := strconv.Atoi(m[2])
	return m[1] + m[3], n
}

func buildMetrics(runs []*Run) []*Metric {
	byName := map[string]*Metric{}
	for _, r := range runs {
		for _, addr := range sortedKeys(r.Record.Metrics) {
			var v any
			dec := json.NewDecoder(strings.NewReader(string(r.Record.Metrics[addr])))
			dec.UseNumber()
			if dec.Decode(&v) != nil {
				continue
			}
			stage, round := seriesOf(addr)
			flatten("", v, func(name string, x float64) {
				m := byName[name]
				if m == nil {
					m = &Metric{Name: name}
					byName[name] = m
				}
				var s *Series
				for _, c := range m.Series {
					if c.Run == r.Label && c.Stage == stage {
						s = c
					}
				}
				if s == nil {
					s = &Series{Run: r.Label, Stage: stage}
					m.Series = append(m.Series, s)
				}
				s.Points = append(s.Points, Point{round, x})
			})
		}
	}
	var out []*Metric
	for _, name := range sortedKeys(byName) {
		m := byName[name]
		for _, s := range m.Series {
			sort.SliceStable(s.Points, func(i, j int) bool { return s.Points[i].Round < s.Points[j].Round })
		}
		out = append(out, m)
	}
	return out
}

// flatten calls fn for every number (and bool, as 0 or 1) in a metric
// value: an object's fields as name.field, in sorted order (numeric keys
// by value: accuracy.2 before accuracy.10), a list's elements as name[i].
func flatten(name string, v any, fn func(string, float64)) {
	join := func(k string) string {
		if name == "" {
			return k
		}
		return name + "." + k
	}
	switch x := v.(type) {
	case json.Number:
		if f, err := x.Float64(); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			fn(name, f)
		}
	case bool:
		if x {
			fn(name, 1)
		} else {
			fn(name, 0)
		}
	case map[string]any:
		keys := sortedKeys(x)
		slices.SortStableFunc(keys, compareKeys)
		for _, k := range keys {
			flatten(join(k), x[k], fn)
		}
	case []any:
		for i, e := range x {
			flatten(fmt.Sprintf("%s[%d]", name, i), e, fn)
		}
	}
}

// compareKeys orders numeric keys by value before other keys.
func compareKeys(a, b string) int {
	fa, ea := strconv.ParseFloat(a, 64)
	fb, eb := strconv.ParseFloat(b, 64)
	switch {
	case ea == nil && eb == nil:
		if fa < fb {
			return -1
		} else if fa > fb {
			return 1
		}
		return strings.Compare(a, b)
	case ea == nil:
		return -1
	case eb == nil:
		return 1
	}
	return strings.Compare(a, b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
