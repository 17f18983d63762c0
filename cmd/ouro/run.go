package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/store"
	"github.com/ouroloop/ouro/stdlib"
)

type storeFlags struct {
	dir  string
	wait bool
	spec string // --spec, for commands whose arguments are not a spec path
}

func (f *storeFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dir, "store", "", "store directory (default: .ouro beside the spec)")
	cmd.Flags().BoolVar(&f.wait, "wait", false, "wait for another ouro process holding the store instead of failing")
	mustComplete(cmd, "store", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return nil, cobra.ShellCompDirectiveFilterDirs
	})
}

// registerSpec is register plus --spec, for commands that name a run or
// nothing rather than a spec.
func (f *storeFlags) registerSpec(cmd *cobra.Command) {
	f.register(cmd)
	cmd.Flags().StringVar(&f.spec, "spec", ".", "the spec whose store to use (default store: .ouro beside it)")
	mustComplete(cmd, "spec", completeSpecPath)
}

// query opens the store for a command that only reads, or, when a run
// holds the store, returns a client that asks that run (store.ServeQueries).
func (f *storeFlags) query(specPath, command string) (store.Querier, func() error, error) {
	st, err := f.open(specPath, command)
	if err == nil {
		return st, st.Close, nil
	}
	var le *store.LockedError
	if errors.As(err, &le) {
		if c := store.DialQueries(le); c != nil {
			return c, func() error { return nil }, nil
		}
	}
	return nil, nil, err
}

// withQuerier is withStore for commands that only read: during a run they
// ask the running process.
func (f *storeFlags) withQuerier(command string, fn func(q store.Querier, args []string) error) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		q, closeQ, err := f.query(f.spec, command)
		if err != nil {
			return err
		}
		defer closeQ()
		return fn(q, args)
	}
}

// withStore is a RunE that opens the store of --spec (or --store) as
// command, calls fn with it and the arguments, and closes it.
func (f *storeFlags) withStore(command string, fn func(st *store.Store, args []string) error) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		st, err := f.open(f.spec, command)
		if err != nil {
			return err
		}
		defer st.Close()
		return fn(st, args)
	}
}

func (f *storeFlags) open(specPath, command string) (*store.Store, error) {
	return f.openStore(specPath, command, false)
}

// openStore opens the store, read-only if asked and possible (a store
// that must be written first is opened for writing).
func (f *storeFlags) openStore(specPath, command string, readOnly bool) (*store.Store, error) {
	dir := f.dir
	if dir == "" {
		dir = runtime.DefaultStoreDir(specPath)
	}
	st, err := store.Open(dir, store.Options{Wait: f.wait, Command: command, ReadOnly: readOnly})
	if readOnly && errors.Is(err, store.ErrNeedsWrite) {
		return f.openStore(specPath, command, false)
	}
	return st, err
}

func specDir(path string) string {
	info, err := os.Stat(path)
	if err == nil && info.IsDir() {
		return path
	}
	return filepath.Dir(path)
}

func newRunCmd(stdout, stderr io.Writer) *cobra.Command {
	f := &specFlags{}
	sf := &storeFlags{}
	var jobs int
	var force []string
	var from, progress string
	ex := &executorFlags{}
	cmd := &cobra.Command{
		Use:               "run [PATH]",
		Short:             "Run a spec: every stage not already cached, in parallel, recording a run",
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeSpecPath,
		RunE: func(cmd *cobra.Command, args []string) error {
			// A no-op re-run allocates a lot of short-lived garbage in
			// a few tens of milliseconds (parse, compile, cache checks):
			// collect less often until the first stage really runs, then
			// restore the usual pacing for the heavy work.
			gcPercent := debug.SetGCPercent(800)
			var gcOnce sync.Once
			restoreGC := func() { gcOnce.Do(func() { debug.SetGCPercent(gcPercent) }) }
			defer restoreGC()
			path := specPath(args)
			// With a store already there, try the plan cache first
			// (plancache.go): a hit skips parsing and compiling.
			var st *store.Store
			var l *loaded
			planKey, cacheable := "", false
			storeDir := sf.dir
			if storeDir == "" {
				storeDir = runtime.DefaultStoreDir(path)
			}
			// Git takes a few milliseconds: ask it while the rest loads.
			provenance := make(chan *store.Provenance, 1)
			go func() { provenance <- collectProvenance(commandLine(cmd), path, storeDir, jobs, ex.executor) }()
			prov := sync.OnceValue(func() *store.Provenance { return <-provenance })
			if _, err := os.Stat(filepath.Join(storeDir, "index")); err == nil {
				planKey, cacheable = planCacheKey(path, f)
			}
			if cacheable {
				// The no-op fast path (noop.go): nothing changed since a
				// run that found every stage cached. It reads the store
				// without opening it for writing.
				kind := progressKind(progress, stderr)
				fast := len(force) == 0 && from == "" && kind != ""
				var err error
				if st, err = sf.openStore(path, "ouro run", fast); err != nil {
					return err
				}
				defer st.Close()
				if fast {
					plain := kind == "plain" // lists every stage
					if rec, sum := replayNoop(st, path, planKey, time.Now().UTC(), f.json || plain, prov); rec != nil {
						view, err := newProgressView(progress, stderr)
						if err != nil {
							return err
						}
						replayEvents(view, rec, sum)
						view.Stop()
						if f.json {
							return writeJSON(stdout, runJSON(rec))
						}
						var counts map[string]int
						if rec.Stages == nil {
							counts = sum.Counts
						}
						writeRunSummary(stdout, rec, counts)
						return nil
					}
					// Reopening the store while git starts could let a
					// forked git hold Badger's directory lock for an
					// instant (fds live in the child until it execs).
					prov()
					if err := st.Writable(); err != nil {
						return err
					}
				}
				if p := cachedPlan(st, path, planKey); p != nil {
					l = &loaded{result: &compiler.Result{Plan: p}}
				}
			}
			if l == nil {
				l = load(path, f)
				if f.json {
					if l.diags.HasErrors() {
						_ = writeJSON(stdout, map[string]any{"diagnostics": toJSONDiags(l.files, l.diags)})
						return exitError{exitDiags}
					}
				} else if err := l.report(stdout, stderr, false); err != nil {
					return err
				}
				if st == nil {
					var err error
					if st, err = sf.open(path, "ouro run"); err != nil {
						return err
					}
					defer st.Close()
				}
				if cacheable && len(l.diags) == 0 {
					cachePlan(st, path, planKey, l.result.Plan)
				}
			}
			// While it runs, this process answers other processes' `ouro
			// runs`, `show`, `cache stats` and `cache verify` (the store is
			// locked for them). A run does not fail for want of it.
			if stopQueries, err := st.ServeQueries(); err == nil {
				defer stopQueries()
			}
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer cancel()
			runner, closeRunner, err := ex.runner(ctx, st, l.result.Plan, stderr)
			if err != nil {
				return err
			}
			defer closeRunner()
			if d := ex.describe(); d != "" && !f.json {
				fmt.Fprintln(stderr, d)
			}
			view, err := newProgressView(progress, stderr)
			if err != nil {
				return err
			}
			defer view.Stop()
			var skipsMu sync.Mutex
			var skips []store.Skip // reported skipped stages, for the no-op summary
			res, runErr := runtime.Run(ctx, l.result.Plan, runtime.Options{
				Store:       st,
				Library:     stdlib.NewLibrary(),
				Functions:   stdlib.Functions(),
				Runner:      runner,
				Parallelism: jobs,
				SpecDir:     specDir(path),
				Force:       force,
				From:        from,
				Provenance:  prov(),
				Events: func(ev runtime.Event) {
					if ev.Status == "running" {
						restoreGC()
					}
					if ev.Status == "skipped" {
						skipsMu.Lock()
						skips = append(skips, store.Skip{Address: ev.Address, Reason: ev.Reason})
						skipsMu.Unlock()
					}
					view.Event(ev)
				},
			})
			view.Stop()
			if res == nil {
				return runErr
			}
			// Like the plan cache, no summary for a spec with diagnostics
			// (even warnings): the fast path would not print them.
			if cacheable && runErr == nil && len(force) == 0 && from == "" && len(l.diags) == 0 {
				summarizeNoop(st, path, planKey, res, skips)
			}
			if f.json {
				_ = writeJSON(stdout, runJSON(res.Record))
			} else {
				writeRunSummary(stdout, res.Record, nil)
			}
			if runErr != nil {
				if l.files == nil { // a cached plan: parse for the snippets
					l.files = load(path, f).files
				}
				reportRunError(stderr, l.files, runErr)
				return exitError{exitDiags}
			}
			return nil
		},
	}
	f.register(cmd)
	sf.register(cmd)
	cmd.Flags().IntVarP(&jobs, "jobs", "j", 0, "stages run at once (default: number of cores)")
	cmd.Flags().StringArrayVar(&force, "force", nil, "re-run this stage even if cached (name or address; repeatable)")
	cmd.Flags().StringVar(&from, "from", "", "re-run this stage and everything downstream of it")
	ex.register(cmd)
	cmd.Flags().StringVar(&progress, "progress", "auto", "progress on stderr: auto (bars on a terminal, else plain), bars, plain (one line per event, a heartbeat every 30s) or none")
	mustComplete(cmd, "force", completeStages(f))
	mustComplete(cmd, "from", completeStages(f))
	mustComplete(cmd, "progress", completeChoices("auto\tbars on a terminal, else plain", "plain\tone line per event", "bars\ta bar per running stage", "none\tno progress"))
	return cmd
}

func reportRunError(w io.Writer, files map[string]*hcl.File, err error) {
	var fe *runtime.FailedError
	if errors.As(err, &fe) {
		for _, s := range fe.Stages {
			var de runtime.DiagnosticsError
			if errors.As(s.Err, &de) {
				fmt.Fprintf(w, "Error in %s:\n", s.Address)
				writeDiagnostics(w, files, de.Diags)
				continue
			}
			fmt.Fprintf(w, "Error: %v\n", s)
		}
		return
	}
	fmt.Fprintf(w, "Error: %v\n", err)
}

// runJSON is the documented --json shape of a run (docs/runs.md).
func runJSON(r *store.RunRecord) map[string]any {
	stages := []map[string]any{}
	for _, s := range r.Stages {
		m := map[string]any{"name": s.Name, "address": s.Address, "round": s.Round, "status": s.Status, "key": s.Key,
			"duration_ms": s.Duration.Milliseconds()}
		if s.Error != "" {
			m["error"] = s.Error
		}
		if len(s.Counts) > 0 {
			m["counts"] = s.Counts
		}
		if s.Worker != "" {
			m["worker"] = s.Worker
		}
		if len(s.Warnings) > 0 {
			m["warnings"] = s.Warnings
		}
		if s.Operator != "" {
			m["operator"], m["version"], m["parts"] = s.Operator, s.Version, s.Parts
		}
		if len(s.Inputs) > 0 {
			m["inputs"] = s.Inputs
		}
		if s.Model != nil {
			m["model"] = s.Model
		}
		if len(s.Servers) > 0 {
			m["servers"] = s.Servers
		}
		stages = append(stages, m)
	}
	vars := r.Variables
	if vars == nil {
		vars = map[string]json.RawMessage{}
	}
	changed := r.ChangedVariables
	if changed == nil {
		changed = []string{}
	}
	return map[string]any{
		"run_id":            r.ID,
		"status":            r.Status,
		"spec_digest":       r.SpecDigest,
		"pinned":            r.Pinned,
		"started":           r.Started,
		"finished":          r.Finished,
		"plan_format":       r.PlanFormat,
		"variables":         vars,
		"changed_variables": changed,
		"provenance":        r.Provenance,
		"stages":            stages,
		"metrics":           r.Metrics,
		"outputs":           r.Outputs,
	}
}

// changedVariables is "name=value" for each variable a run gave a value
// other than its default, in name order: how `ouro runs` tells apart two
// runs of one spec.
func changedVariables(r *store.RunRecord) string {
	var parts []string
	for _, name := range r.ChangedVariables {
		parts = append(parts, name+"="+string(r.Variables[name]))
	}
	return strings.Join(parts, " ")
}

// writeProvenance prints what produced a run (`ouro show`).
func writeProvenance(w io.Writer, r *store.RunRecord) {
	if len(r.Variables) > 0 {
		changed := map[string]bool{}
		for _, n := range r.ChangedVariables {
			changed[n] = true
		}
		var vs []string
		for _, n := range slices.Sorted(maps.Keys(r.Variables)) {
			v := n + " = " + string(r.Variables[n])
			if changed[n] {
				v += " (set)"
			}
			vs = append(vs, v)
		}
		fmt.Fprintf(w, "Variables: %s\n", strings.Join(vs, ", "))
	}
	p := r.Provenance
	if p == nil {
		fmt.Fprintln(w, "Provenance: not recorded (a run from before ouro recorded it)")
		return
	}
	if g := p.Git; g != nil {
		commit := g.Commit
		if commit == "" {
			commit = "(no commit yet)"
		}
		line := "Commit " + commit
		if g.Branch != "" {
			line += " on " + g.Branch
		}
		if g.Dirty {
			line += ", work tree dirty"
			if g.DiffDigest != "" {
				line += " (spec folder changes " + runtime.SpecDigestShort(g.DiffDigest) + ")"
			}
		}
		fmt.Fprintln(w, line)
	} else {
		fmt.Fprintln(w, "Commit: none (the spec is not in a git work tree)")
	}
	if p.SpecPath != "" {
		fmt.Fprintf(w, "Spec %s\n", p.SpecPath)
	}
	if len(p.Command) > 0 {
		ex := p.Executor
		if ex == "" {
			ex = "local"
		}
		fmt.Fprintf(w, "Command: %s (-j %d, %s)\n", strings.Join(p.Command, " "), p.Jobs, ex)
	}
	fmt.Fprintf(w, "Built with ouro %s, %s; on %s/%s, %d cores", p.Binary(), p.Go, p.OS, p.Arch, p.Cores)
	if r.Host != "" {
		fmt.Fprintf(w, ", host %s", r.Host)
	}
	fmt.Fprintln(w)
}

// writeModels lists the models a run produced with the digest `ouro serve
// --model NAME=DIGEST` takes.
// writeServers prints what each stage's model servers did (the openai
// provider's report): requests, choices asked and returned, and what the
// answers showed of the parameters the server ignored.
func writeServers(w io.Writer, r *store.RunRecord) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	n := 0
	for _, s := range r.Stages {
		for _, id := range slices.Sorted(maps.Keys(s.Servers)) {
			st := s.Servers[id]
			if n == 0 {
				fmt.Fprintln(w, "\nServers:")
				fmt.Fprintln(tw, "  STAGE\tMODEL\tREQUESTS\tFAN-OUT\tRETRIES\tCHOICES\tTOKENS\tLOGPROB TOKENS\tNOTES")
			}
			n++
			tokens, lps := "-", "-"
			if st.CompletionTokens > 0 {
				tokens, lps = fmt.Sprint(st.CompletionTokens), fmt.Sprint(st.LogprobTokens)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%d of %d\t%s\t%s\t%s\n", s.Address, st.Model, st.Requests, st.FanOut, st.Retries,
				st.ChoicesReturned, st.ChoicesAsked, tokens, lps, serverNotes(st))
		}
	}
	tw.Flush()
}

// serverNotes says what a server's answers showed it ignored.
func serverNotes(st *store.ServerStats) string {
	var notes []string
	if st.NIgnored {
		notes = append(notes, "n not honoured (samples sent as separate requests)")
	}
	if st.LogprobsMissing > 0 {
		notes = append(notes, fmt.Sprintf("logprobs missing in %d choices", st.LogprobsMissing))
	}
	if st.ShortLogprobs > 0 {
		notes = append(notes, fmt.Sprintf("fewer logprobs than tokens in %d answers", st.ShortLogprobs))
	}
	if len(st.Unverified) > 0 {
		notes = append(notes, "sent "+strings.Join(st.Unverified, ", ")+" (not visible in answers)")
	}
	if len(notes) == 0 {
		return "-"
	}
	return strings.Join(notes, "; ")
}

func writeModels(w io.Writer, r *store.RunRecord) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	n := 0
	for _, s := range r.Stages {
		if s.Model == nil {
			continue
		}
		if n == 0 {
			fmt.Fprintln(w, "\nModels:")
		}
		n++
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.Address, s.Model.Provider, s.Model.Digest)
	}
	tw.Flush()
}

// writeRunSummary prints the summary of a run; extra counts stages by
// status that r.Stages does not list (a no-op repeat's, noop.go).
func writeRunSummary(w io.Writer, r *store.RunRecord, extra map[string]int) {
	counts := map[string]int{}
	for k, n := range extra {
		counts[k] = n
	}
	for _, s := range r.Stages {
		counts[s.Status]++
	}
	fmt.Fprintf(w, "\nRun %s: %s — %d ran, %d cached, %d skipped, %d failed (%s)\n", r.ID, r.Status,
		counts["ran"], counts["cached"], counts["skipped"], counts["failed"], r.Finished.Sub(r.Started).Round(time.Millisecond))
	writeMetrics(w, r)
	if len(r.Outputs) > 0 {
		fmt.Fprintln(w, "\nOutputs:")
		names := make([]string, 0, len(r.Outputs))
		for k := range r.Outputs {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(w, "  %s = %s\n", k, r.Outputs[k])
		}
	}
}

// writeMetrics prints one row per evaluated stage (rounds in order) and one
// column per metric.
func writeMetrics(w io.Writer, r *store.RunRecord) {
	if len(r.Metrics) == 0 {
		return
	}
	var addrs []string
	cols := map[string]bool{}
	rows := map[string]map[string]any{}
	for addr, raw := range r.Metrics {
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		addrs = append(addrs, addr)
		rows[addr] = m
		for k := range m {
			cols[k] = true
		}
	}
	order := map[string]int{}
	for i, s := range r.Stages {
		order[s.Address] = i
	}
	sort.Slice(addrs, func(i, j int) bool { return order[addrs[i]] < order[addrs[j]] })
	var colNames []string
	for c := range cols {
		colNames = append(colNames, c)
	}
	sort.Strings(colNames)
	fmt.Fprintln(w, "\nMetrics:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  STAGE\t%s\n", strings.ToUpper(strings.Join(colNames, "\t")))
	for _, a := range addrs {
		var vals []string
		for _, c := range colNames {
			vals = append(vals, formatMetric(rows[a][c]))
		}
		fmt.Fprintf(tw, "  %s\t%s\n", a, strings.Join(vals, "\t"))
	}
	tw.Flush()
}

func formatMetric(v any) string {
	switch x := v.(type) {
	case float64:
		return fmt.Sprintf("%.4g", x)
	case nil:
		return "-"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func newRunsCmd(stdout, _ io.Writer) *cobra.Command {
	sf := &storeFlags{}
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:               "runs [PATH]",
		Short:             "List recorded runs, newest first (PATH or --spec: the spec whose store to read)",
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeSpecPath,
		RunE: func(cmd *cobra.Command, args []string) error {
			spec := sf.spec
			if len(args) == 1 {
				if cmd.Flags().Changed("spec") && args[0] != spec {
					return usageError{fmt.Errorf("give the spec once: as PATH (%s) or --spec (%s)", args[0], spec)}
				}
				spec = args[0]
			}
			q, closeQ, err := sf.query(spec, "ouro runs")
			if err != nil {
				return err
			}
			defer closeQ()
			runs, err := q.ListRuns(limit)
			if err != nil {
				return err
			}
			if asJSON {
				var out []map[string]any
				for _, r := range runs {
					out = append(out, runJSON(r))
				}
				return writeJSON(stdout, out)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tSTATUS\tSTARTED\tDURATION\tRAN\tCACHED\tFAILED\tPINNED\tCOMMIT\tVARIABLES")
			for _, r := range runs {
				c := map[string]int{}
				for _, s := range r.Stages {
					c[s.Status]++
				}
				dur := "-"
				if !r.Finished.IsZero() {
					dur = r.Finished.Sub(r.Started).Round(time.Millisecond).String()
				}
				commit := r.Provenance.ShortCommit()
				if commit == "" {
					commit = "-"
				}
				vars := changedVariables(r)
				if vars == "" {
					vars = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%v\t%s\t%s\n", r.ID, r.Status, r.Started.Format(time.RFC3339), dur, c["ran"], c["cached"], c["failed"], r.Pinned, commit, vars)
			}
			return tw.Flush()
		},
	}
	sf.registerSpec(cmd)
	cmd.Flags().IntVar(&limit, "limit", 20, "how many runs")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func newShowCmd(stdout, _ io.Writer) *cobra.Command {
	sf := &storeFlags{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:               "show RUN",
		Short:             "Show one run: its stages, metrics and outputs (RUN: an id, a unique prefix, latest or latest~N)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: sf.completeRuns(1),
		RunE: sf.withQuerier("ouro show", func(q store.Querier, args []string) error {
			r, err := q.GetRun(args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(stdout, runJSON(r))
			}
			fmt.Fprintf(stdout, "Run %s (%s), spec %s\n", r.ID, r.Status, runtime.SpecDigestShort(r.SpecDigest))
			fmt.Fprintf(stdout, "Started %s", r.Started.Format(time.RFC3339))
			if !r.Finished.IsZero() {
				fmt.Fprintf(stdout, ", took %s", r.Finished.Sub(r.Started).Round(time.Millisecond))
			}
			fmt.Fprintln(stdout)
			writeProvenance(stdout, r)
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "\nSTAGE\tSTATUS\tDURATION\tKEY\tWORKER")
			for _, s := range r.Stages {
				worker := s.Worker
				if worker == "" {
					worker = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Address, s.Status, s.Duration.Round(time.Millisecond), runtime.SpecDigestShort(s.Key), worker)
			}
			tw.Flush()
			var warned bool
			for _, s := range r.Stages {
				for _, w := range s.Warnings {
					if !warned {
						fmt.Fprintln(stdout, "\nWarnings:")
						warned = true
					}
					fmt.Fprintf(stdout, "  %s: %s\n", s.Address, w)
				}
			}
			writeMetrics(stdout, r)
			writeModels(stdout, r)
			writeServers(stdout, r)
			if len(r.Outputs) > 0 {
				fmt.Fprintln(stdout, "\nOutputs:")
				for _, k := range slices.Sorted(maps.Keys(r.Outputs)) {
					fmt.Fprintf(stdout, "  %s = %s\n", k, r.Outputs[k])
				}
			}
			return nil
		}),
	}
	sf.registerSpec(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func newCacheCmd(stdout, _ io.Writer) *cobra.Command {
	cache := &cobra.Command{Use: "cache", Short: "Inspect and maintain the store: stats, verify, gc"}
	sf := &storeFlags{}
	var keep int
	var asJSON bool
	stats := &cobra.Command{Use: "stats", Short: "Counts and sizes of what the store holds", Args: cobra.NoArgs,
		RunE: sf.withQuerier("ouro cache stats", func(q store.Querier, _ []string) error {
			s, err := q.Stats()
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(stdout, s)
			}
			writeStats(stdout, s)
			return nil
		})}
	verify := &cobra.Command{Use: "verify", Short: "Re-hash every blob; report and drop damaged ones so the next run recomputes them", Args: cobra.NoArgs,
		RunE: sf.withQuerier("ouro cache verify", func(q store.Querier, _ []string) error {
			dmg, err := q.Verify()
			if err != nil {
				return err
			}
			out := map[string]any{"damaged": dmg}
			if dmg == nil {
				out["damaged"] = []store.Damage{}
			}
			if len(dmg) == 0 {
				if asJSON {
					return writeJSON(stdout, out)
				}
				fmt.Fprintln(stdout, "All blobs verified.")
				return nil
			}
			if !asJSON {
				for _, d := range dmg {
					fmt.Fprintf(stdout, "damaged: %s\n", d)
				}
			}
			st, ok := q.(*store.Store)
			if !ok {
				if asJSON {
					out["repaired"] = nil
					_ = writeJSON(stdout, out)
				} else {
					fmt.Fprintln(stdout, "A run holds the store: run `ouro cache verify` again when it ends to drop the damaged blobs.")
				}
				return exitError{exitDiags}
			}
			rs, err := st.Repair(dmg)
			if err != nil {
				return err
			}
			if asJSON {
				out["repaired"] = rs
				_ = writeJSON(stdout, out)
			} else {
				fmt.Fprintf(stdout, "Repaired: dropped %s and %s.\nThe next run recomputes what used them.\n", count(rs.BlobsRemoved, "blob"), count(rs.StagesRemoved, "stage entry"))
			}
			return exitError{exitDiags}
		})}
	gc := &cobra.Command{Use: "gc", Short: "Remove blobs and entries not reachable from the last N runs or pinned runs", Args: cobra.NoArgs,
		RunE: sf.withStore("ouro cache gc", func(st *store.Store, _ []string) error {
			s, err := st.GC(keep)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(stdout, s)
			}
			fmt.Fprintf(stdout, "Kept the work of %s: %s, %s.\nRemoved %s, %s (%s) and %s.\n",
				count(s.RunsKept, "run"), count(s.StagesKept, "stage entry"), count(s.BlobsKept, "blob"),
				count(s.StagesRemoved, "stage entry"), count(s.BlobsRemoved, "blob"), humanBytes(s.BytesRemoved), count(s.AddressRemoved, "address entry"))
			return nil
		})}
	gc.Flags().IntVar(&keep, "keep", 5, "keep what the last N runs use")
	for _, c := range []*cobra.Command{stats, verify, gc} {
		sf.registerSpec(c)
		c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
		cache.AddCommand(c)
	}
	return cache
}

// writeStats prints `ouro cache stats` as a table.
func writeStats(w io.Writer, s store.Stats) {
	fmt.Fprintf(w, "%-20s %8s %12s\n", "KIND", "COUNT", "BYTES")
	for _, k := range []struct {
		name string
		ks   store.KindStats
	}{
		{"stage entries", s.Stages}, {"address entries", s.Addresses}, {"memoized requests", s.Memo},
		{"runs", s.Runs}, {"pinned runs", s.Pinned}, {"cached plans", s.Plans}, {"no-op summaries", s.Noops}, {"blobs", s.Blobs},
	} {
		fmt.Fprintf(w, "%-20s %8d %12s\n", k.name, k.ks.Count, humanBytes(k.ks.Bytes))
	}
	fmt.Fprintf(w, "\nIndex on disk: %s of tables, %s of logs.\n", humanBytes(s.IndexLSM), humanBytes(s.IndexVLog))
}

// humanBytes is 512 B, 9.3 KiB, 1.2 MiB, …
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// newPinCmd is `ouro pin RUN` (pin) or `ouro unpin RUN`: `cache gc` keeps
// everything a pinned run uses, however many runs come after it.
func newPinCmd(stdout, _ io.Writer, pin bool) *cobra.Command {
	sf := &storeFlags{}
	var asJSON bool
	use, short := "pin RUN", "Keep what a run uses through `cache gc` (RUN: an id, a unique prefix, latest or latest~N)"
	if !pin {
		use, short = "unpin RUN", "Let `cache gc` collect what a pinned run uses again"
	}
	cmd := &cobra.Command{
		Use:               use,
		Short:             short,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: sf.completeRuns(1),
		RunE: sf.withStore("ouro "+strings.Fields(use)[0], func(st *store.Store, args []string) error {
			r, err := st.GetRun(args[0])
			if err != nil {
				return err
			}
			if err := st.PinRun(r.ID, pin); err != nil {
				return err
			}
			switch {
			case asJSON:
				return writeJSON(stdout, map[string]any{"run_id": r.ID, "pinned": pin})
			case pin:
				fmt.Fprintf(stdout, "Pinned run %s: cache gc keeps what it uses.\n", r.ID)
			default:
				fmt.Fprintf(stdout, "Unpinned run %s.\n", r.ID)
			}
			return nil
		}),
	}
	sf.registerSpec(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

// explainPlan marks each stage cached or will-run, with the reason, when
// the spec has a store (a dry run: nothing executes).
func explainPlan(w io.Writer, path string, sf *storeFlags, p *compiler.Plan) error {
	dir := sf.dir
	if dir == "" {
		dir = runtime.DefaultStoreDir(path)
	}
	if _, err := os.Stat(dir); err != nil {
		fmt.Fprintf(w, "\nNo store at %s yet: every stage will run.\n", dir)
		return nil
	}
	st, err := sf.open(path, "ouro plan")
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := runtime.Run(context.Background(), p, runtime.Options{
		Store: st, Library: stdlib.NewLibrary(), Functions: stdlib.Functions(),
		SpecDir: specDir(path), DryRun: true,
	})
	if res == nil {
		return err
	}
	fmt.Fprintln(w, "\nCache:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, e := range res.Explain {
		reason := e.Reason
		if e.Status == "cached" {
			reason = ""
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", e.Address, e.Status, reason)
	}
	return tw.Flush()
}
