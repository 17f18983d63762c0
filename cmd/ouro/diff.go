package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/store"
)

// exitDiffer is `ouro diff --exit-code`'s status for runs that differ;
// with --exit-code, trouble (an unknown run, a store in use) exits
// exitTrouble, as diff(1) has it.
const (
	exitDiffer  = 1
	exitTrouble = 2
)

func newDiffCmd(stdout, _ io.Writer) *cobra.Command {
	sf := &storeFlags{}
	var asJSON, exitCode bool
	cmd := &cobra.Command{
		Use:   "diff RUN_A RUN_B",
		Short: "Compare two runs: spec and commit, variables, why stages ran or were cached, metric deltas",
		Long: `Compare two runs of a store (RUN: an id, a unique prefix, latest or latest~N),
in this order: the spec and the commit that produced them, the variables,
the stages whose cache key or status differs with the reason (which part of
the key changed: an input's content, a parameter, the operator's version, a
model), the metrics per round and arm with their deltas, and the outputs.

Exit status: 0, whatever the runs hold. With --exit-code, as diff(1): 0 when
the runs agree, 1 when they differ (spec, commit, variables, any stage key,
metric or output; not the times, the command line, or which run took a
result from the cache), 2 on trouble (an unknown run, an unreadable store).`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: sf.completeRuns(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var d *runDiff
			err := sf.withQuerier("ouro diff", func(q store.Querier, args []string) error {
				a, err := q.GetRun(args[0])
				if err != nil {
					return err
				}
				b, err := q.GetRun(args[1])
				if err != nil {
					return err
				}
				d = diffRuns(a, b)
				return nil
			})(cmd, args)
			if err != nil {
				if exitCode {
					fmt.Fprintf(cmd.ErrOrStderr(), "ouro: %v\n", err)
					return exitError{exitTrouble}
				}
				return err
			}
			if asJSON {
				if err := writeJSON(stdout, d); err != nil {
					return err
				}
			} else {
				d.write(stdout)
			}
			if exitCode && d.Differ {
				return exitError{exitDiffer}
			}
			return nil
		},
	}
	sf.registerSpec(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit 1 when the runs differ, 0 when they agree, 2 on trouble (as diff(1))")
	return cmd
}

// runDiff is what differs between two runs, as `ouro diff --json` prints it.
type runDiff struct {
	A runHead `json:"a"`
	B runHead `json:"b"`
	// Differ is whether the runs differ in anything but times, command
	// lines and where results came from (the --exit-code rule).
	Differ    bool          `json:"differ"`
	Spec      []valueChange `json:"spec"`
	Variables []valueChange `json:"variables"`
	// Stages lists the stages whose key or status differs; Same counts the
	// others.
	Stages  []stageChange  `json:"stages"`
	Same    int            `json:"stages_same"`
	Metrics []metricChange `json:"metrics"`
	Outputs []valueChange  `json:"outputs"`
	// Notes say what the records cannot tell (an older record format).
	Notes []string `json:"notes,omitempty"`
}

type runHead struct {
	ID      string    `json:"id"`
	Status  string    `json:"status"`
	Started time.Time `json:"started"`
	Commit  string    `json:"commit,omitempty"`
}

// valueChange is one named value in A and in B ("" when absent).
type valueChange struct {
	Name string `json:"name"`
	A    string `json:"a"`
	B    string `json:"b"`
}

// stageChange is one stage whose key or status differs between the runs.
type stageChange struct {
	Address string `json:"address"`
	StatusA string `json:"status_a"` // "" when the stage is not in A
	StatusB string `json:"status_b"`
	KeyA    string `json:"key_a,omitempty"`
	KeyB    string `json:"key_b,omitempty"`
	// Why is the reason in words; Changed names the parts of the key that
	// differ, by kind: "input", "model", "parameter", "operator", "seed".
	Why     string            `json:"why"`
	Changed map[string]string `json:"changed,omitempty"`
}

// metricChange is one metric of one evaluated stage in one round.
type metricChange struct {
	Series string   `json:"series"` // the address without the round: loop.star.stage.eval
	Round  int      `json:"round"`  // -1 outside loops
	Metric string   `json:"metric"`
	A      any      `json:"a"` // nil when absent
	B      any      `json:"b"`
	Delta  *float64 `json:"delta,omitempty"` // B - A, for numbers
}

func diffRuns(a, b *store.RunRecord) *runDiff {
	d := &runDiff{A: head(a), B: head(b), Spec: []valueChange{}, Variables: []valueChange{},
		Stages: []stageChange{}, Metrics: []metricChange{}, Outputs: []valueChange{}}
	d.diffSpec(a, b)
	d.diffVariables(a, b)
	d.diffStages(a, b)
	d.diffMetrics(a, b)
	d.diffOutputs(a, b)
	return d
}

func head(r *store.RunRecord) runHead {
	return runHead{ID: r.ID, Status: r.Status, Started: r.Started, Commit: r.Provenance.ShortCommit()}
}

func (d *runDiff) change(list *[]valueChange, name, a, b string, counts bool) {
	if a == b {
		return
	}
	*list = append(*list, valueChange{Name: name, A: a, B: b})
	if counts {
		d.Differ = true
	}
}

func (d *runDiff) diffSpec(a, b *store.RunRecord) {
	d.change(&d.Spec, "spec digest", a.SpecDigest, b.SpecDigest, true)
	pa, pb := a.Provenance, b.Provenance
	for _, r := range []*store.RunRecord{a, b} {
		if r.Provenance == nil {
			d.Notes = append(d.Notes, fmt.Sprintf("run %s was recorded by an ouro that kept no provenance (no commit, command or binary)", r.ID))
		}
		if r.PlanFormat == 0 {
			d.Notes = append(d.Notes, fmt.Sprintf("run %s was recorded by an ouro that kept no plan format (before format 2) and no key parts: stage reasons are limited to the key", r.ID))
		}
	}
	if a.PlanFormat != 0 && b.PlanFormat != 0 {
		d.change(&d.Spec, "plan format", strconv.Itoa(a.PlanFormat), strconv.Itoa(b.PlanFormat), false)
	}
	if pa == nil || pb == nil {
		return
	}
	d.change(&d.Spec, "spec path", pa.SpecPath, pb.SpecPath, false)
	gitOf := func(p *store.Provenance) (commit, branch, dirty string) {
		if p.Git == nil {
			return "(not in git)", "", ""
		}
		dirty = "clean"
		if p.Git.Dirty {
			dirty = "dirty"
			if p.Git.DiffDigest != "" {
				dirty += ", spec folder changes " + runtime.SpecDigestShort(p.Git.DiffDigest)
			}
		}
		return p.Git.Commit, p.Git.Branch, dirty
	}
	ca, ba, wa := gitOf(pa)
	cb, bb, wb := gitOf(pb)
	d.change(&d.Spec, "commit", ca, cb, true)
	d.change(&d.Spec, "branch", ba, bb, false)
	d.change(&d.Spec, "work tree", wa, wb, true)
	d.change(&d.Spec, "ouro", pa.Binary()+" "+pa.Go, pb.Binary()+" "+pb.Go, false)
	d.change(&d.Spec, "machine", fmt.Sprintf("%s/%s, %d cores, host %s", pa.OS, pa.Arch, pa.Cores, a.Host),
		fmt.Sprintf("%s/%s, %d cores, host %s", pb.OS, pb.Arch, pb.Cores, b.Host), false)
	d.change(&d.Spec, "executor", fmt.Sprintf("%s, -j %d", pa.Executor, pa.Jobs), fmt.Sprintf("%s, -j %d", pb.Executor, pb.Jobs), false)
}

func (d *runDiff) diffVariables(a, b *store.RunRecord) {
	names := map[string]bool{}
	for n := range a.Variables {
		names[n] = true
	}
	for n := range b.Variables {
		names[n] = true
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		d.change(&d.Variables, n, string(a.Variables[n]), string(b.Variables[n]), true)
	}
}

func (d *runDiff) diffStages(a, b *store.RunRecord) {
	inB := map[string]store.StageRun{}
	for _, s := range b.Stages {
		inB[s.Address] = s
	}
	seen := map[string]bool{}
	for _, sa := range a.Stages {
		seen[sa.Address] = true
		sb, ok := inB[sa.Address]
		if !ok {
			d.Stages = append(d.Stages, stageChange{Address: sa.Address, StatusA: sa.Status, KeyA: sa.Key, Why: "only in A"})
			d.Differ = true
			continue
		}
		if sa.Key == sb.Key && sa.Status == sb.Status {
			d.Same++
			continue
		}
		c := stageChange{Address: sa.Address, StatusA: sa.Status, StatusB: sb.Status, KeyA: sa.Key, KeyB: sb.Key}
		if sa.Key == sb.Key || sa.Key == "" || sb.Key == "" {
			c.Why = sameKeyWhy(sa, sb)
		} else {
			c.Why, c.Changed = keyWhy(sa, sb)
			d.Differ = true
		}
		d.Stages = append(d.Stages, c)
	}
	for _, sb := range b.Stages {
		if !seen[sb.Address] {
			d.Stages = append(d.Stages, stageChange{Address: sb.Address, StatusB: sb.Status, KeyB: sb.Key, Why: "only in B"})
			d.Differ = true
		}
	}
}

// sameKeyWhy explains a stage with one key (or none: skipped, failed
// before its key) and two statuses.
func sameKeyWhy(a, b store.StageRun) string {
	switch {
	case a.Status == "ran" && b.Status == "cached":
		return "same key: B took A's result (or an earlier one) from the cache"
	case a.Status == "cached" && b.Status == "ran":
		return "same key: B ran it again (forced, or its result had been collected)"
	case b.Status == "skipped" || a.Status == "skipped":
		return "skipped in one run (a loop stopped earlier, nothing read it, or an upstream stage failed)"
	case a.Status == "failed" || b.Status == "failed":
		why := "failed in one run"
		for _, s := range []store.StageRun{a, b} {
			if s.Error != "" {
				why += ": " + firstLine(s.Error)
			}
		}
		return why
	}
	return "same key, another status"
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// keyWhy says which part of a stage's key changed: the operator or its
// version, an input's content (a dataset or model from upstream), a
// parameter, or the seed.
func keyWhy(a, b store.StageRun) (string, map[string]string) {
	changed := map[string]string{}
	if a.Operator != b.Operator && a.Operator != "" && b.Operator != "" {
		changed["operator"] = "operator"
		return fmt.Sprintf("operator changed: %s → %s", a.Operator, b.Operator), changed
	}
	var inputs, models, params []string
	if a.Parts != nil && b.Parts != nil {
		names := map[string]bool{}
		for n := range a.Parts {
			names[n] = true
		}
		for n := range b.Parts {
			names[n] = true
		}
		for _, n := range slices.Sorted(maps.Keys(names)) {
			if a.Parts[n] == b.Parts[n] {
				continue
			}
			kind := a.Inputs[n]
			if kind == "" {
				kind = b.Inputs[n]
			}
			switch kind {
			case "dataset":
				inputs = append(inputs, n)
				changed[n] = "input"
			case "model":
				models = append(models, n)
				changed[n] = "model"
			default:
				params = append(params, n)
				changed[n] = "parameter"
			}
		}
	}
	var why []string
	if a.Version != b.Version && a.Version != 0 && b.Version != 0 {
		why = append(why, fmt.Sprintf("operator upgraded (v%d → v%d)", a.Version, b.Version))
		changed["operator"] = "operator"
	}
	if len(inputs) > 0 {
		why = append(why, "input changed: "+strings.Join(inputs, ", "))
	}
	if len(models) > 0 {
		why = append(why, "model changed: "+strings.Join(models, ", "))
	}
	if len(params) > 0 {
		why = append(why, "params changed: "+strings.Join(params, ", "))
	}
	if a.Seed != b.Seed && a.Seed != 0 && b.Seed != 0 {
		why = append(why, "seed changed")
		changed["seed"] = "seed"
	}
	if len(why) == 0 {
		if a.Parts == nil || b.Parts == nil {
			return "key changed (a record from an older ouro does not say which part)", nil
		}
		return "key changed (the kind of node or the key's format)", nil
	}
	return strings.Join(why, "; "), changed
}

// roundAddr splits loop.star[2].stage.eval into loop.star.stage.eval and 2.
var roundAddr = regexp.MustCompile(`^(loop\.[^\[]+)\[(\d+)\](.*)$`)

func seriesOf(addr string) (string, int) {
	m := roundAddr.FindStringSubmatch(addr)
	if m == nil {
		return addr, -1
	}
	n, _ := strconv.Atoi(m[2])
	return m[1] + m[3], n
}

func (d *runDiff) diffMetrics(a, b *store.RunRecord) {
	type cell struct{ a, b any }
	type rowKey struct {
		series string
		round  int
		metric string
	}
	cells := map[rowKey]*cell{}
	order := map[string]int{} // series -> first position in the stage lists
	for _, r := range []*store.RunRecord{a, b} {
		for _, s := range r.Stages {
			ser, _ := seriesOf(s.Address)
			if _, ok := order[ser]; !ok {
				order[ser] = len(order)
			}
		}
	}
	for i, r := range []*store.RunRecord{a, b} {
		for addr, raw := range r.Metrics {
			var m map[string]any
			if json.Unmarshal(raw, &m) != nil {
				continue
			}
			ser, round := seriesOf(addr)
			if _, ok := order[ser]; !ok {
				order[ser] = len(order)
			}
			for name, v := range m {
				k := rowKey{ser, round, name}
				c := cells[k]
				if c == nil {
					c = &cell{}
					cells[k] = c
				}
				if i == 0 {
					c.a = v
				} else {
					c.b = v
				}
			}
		}
	}
	keys := slices.Collect(maps.Keys(cells))
	sort.Slice(keys, func(i, j int) bool {
		x, y := keys[i], keys[j]
		if order[x.series] != order[y.series] {
			return order[x.series] < order[y.series]
		}
		if x.metric != y.metric {
			return x.metric < y.metric
		}
		return x.round < y.round
	})
	for _, k := range keys {
		c := cells[k]
		mc := metricChange{Series: k.series, Round: k.round, Metric: k.metric, A: c.a, B: c.b}
		fa, aok := c.a.(float64)
		fb, bok := c.b.(float64)
		if aok && bok {
			delta := fb - fa
			mc.Delta = &delta
		}
		ja, _ := json.Marshal(c.a)
		jb, _ := json.Marshal(c.b)
		if string(ja) != string(jb) {
			d.Differ = true
		}
		d.Metrics = append(d.Metrics, mc)
	}
}

func (d *runDiff) diffOutputs(a, b *store.RunRecord) {
	names := map[string]bool{}
	for n := range a.Outputs {
		names[n] = true
	}
	for n := range b.Outputs {
		names[n] = true
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		d.change(&d.Outputs, n, string(a.Outputs[n]), string(b.Outputs[n]), true)
	}
}

// write prints the diff for a reader, section by section.
func (d *runDiff) write(w io.Writer) {
	runLine := func(label string, h runHead) {
		commit := ""
		if h.Commit != "" {
			commit = ", commit " + h.Commit
		}
		fmt.Fprintf(w, "%s %s (%s, started %s%s)\n", label, h.ID, h.Status, h.Started.Format(time.RFC3339), commit)
	}
	runLine("A", d.A)
	runLine("B", d.B)
	for _, n := range d.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	section := func(title string, list []valueChange, same string) {
		fmt.Fprintf(w, "\n%s:\n", title)
		if len(list) == 0 {
			fmt.Fprintf(w, "  %s\n", same)
			return
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, c := range list {
			fmt.Fprintf(tw, "  %s\t%s\t→ %s\n", c.Name, shown(c.A), shown(c.B))
		}
		tw.Flush()
	}
	section("Spec and commit", d.Spec, "the same")
	section("Variables", d.Variables, "the same")

	fmt.Fprintf(w, "\nStages: %d differ, %d the same\n", len(d.Stages), d.Same)
	if len(d.Stages) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  STAGE\tA\tB\tWHY")
		for _, s := range d.Stages {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.Address, orDash(s.StatusA), orDash(s.StatusB), s.Why)
		}
		tw.Flush()
	}

	fmt.Fprintln(w, "\nMetrics:")
	if len(d.Metrics) == 0 {
		fmt.Fprintln(w, "  none recorded")
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  SERIES\tMETRIC\tROUND\tA\tB\tDELTA")
		for _, m := range d.Metrics {
			round := "-"
			if m.Round >= 0 {
				round = strconv.Itoa(m.Round)
			}
			delta := ""
			if m.Delta != nil {
				delta = fmt.Sprintf("%+.4g", *m.Delta)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", m.Series, m.Metric, round, formatMetric(m.A), formatMetric(m.B), delta)
		}
		tw.Flush()
	}
	section("Outputs", d.Outputs, "the same")
}

// shown is a value as the text diff prints it: "-" when absent, long
// values cut (--json has them whole).
func shown(s string) string {
	if s == "" {
		return "-"
	}
	if len(s) > 72 {
		return s[:69] + "..."
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
