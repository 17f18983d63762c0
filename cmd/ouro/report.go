package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ouroloop/ouro/cmd/ouro/internal/report"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/store"
)

// newReportCmd is `ouro report`: the flags, the store and the file; what
// goes into the report and how it looks is package report's.
func newReportCmd(stdout, _ io.Writer) *cobra.Command {
	sf := &storeFlags{}
	var out string
	var labels []string
	var rows int
	cmd := &cobra.Command{
		Use:   "report [RUN ...]",
		Short: "Write one self-contained HTML file about runs: provenance, metric curves, stage timeline, samples (RUN: an id, a unique prefix, latest or latest~N; default latest)",
		Long: `Write one self-contained HTML file about one or more runs: what produced
each (spec, commit, variables, ouro version, wall time, cache hits), every
metric as curves per round (several runs overlaid, named by run id or
--label), a timeline of the stages, and a searchable, paged viewer of the
records of generate, judge, verify, filter, refine and evaluate stages (at
most --rows per stage embedded; a filter's records marked kept or dropped).
The file loads nothing from the network or other files, so it opens offline
from file://.`,
		RunE: func(_ *cobra.Command, args []string) error {
			if rows < 0 {
				return usageError{errors.New("--rows must be 0 or more")}
			}
			if len(labels) > max(len(args), 1) {
				return usageError{fmt.Errorf("%d --label values for %d runs", len(labels), max(len(args), 1))}
			}
			outDir := filepath.Dir(out)
			if info, err := os.Stat(outDir); err != nil || !info.IsDir() {
				return fmt.Errorf("cannot write %s: directory %s does not exist", out, outDir)
			}
			dir := sf.dir
			if dir == "" {
				dir = runtime.DefaultStoreDir(sf.spec)
			}
			if _, err := os.Stat(filepath.Join(dir, "index")); err != nil {
				return fmt.Errorf("no ouro store at %s: run a spec there first (ouro run), or name the store with --store or the spec with --spec", dir)
			}
			opts := report.Options{Labels: labels, Rows: rows, Ouro: Version}
			var runs report.Runs
			st, err := sf.openStore(sf.spec, "ouro report", true)
			var le *store.LockedError
			switch {
			case err == nil:
				defer st.Close()
				runs, opts.Stages = st, st
			case errors.As(err, &le) && store.DialQueries(le) != nil:
				runs = store.DialQueries(le)
				opts.Unavailable = fmt.Sprintf("the store is held by pid %d (%s), which answers only run queries, so no stage records are shown; write the report again when it has finished.", le.PID, le.Command)
			default:
				return err
			}
			rep, err := report.Build(runs, args, opts)
			if err != nil {
				return explainRunError(err, runs, dir)
			}
			tmp, err := os.CreateTemp(outDir, ".report-*.html")
			if err != nil {
				return fmt.Errorf("cannot write %s: %w", out, err)
			}
			defer os.Remove(tmp.Name())
			if err := tmp.Chmod(0o644); err != nil {
				tmp.Close()
				return err
			}
			if err := rep.WriteHTML(tmp); err != nil {
				tmp.Close()
				return err
			}
			if err := tmp.Close(); err != nil {
				return err
			}
			if err := os.Rename(tmp.Name(), out); err != nil {
				return err
			}
			info, err := os.Stat(out)
			if err != nil {
				return err
			}
			samples := 0
			for _, r := range rep.Runs {
				samples += len(r.Samples)
			}
			fmt.Fprintf(stdout, "Wrote %s (%s): %s, %s, %s\n", out, byteSize(info.Size()), count(len(rep.Runs), "run"), count(len(rep.Metrics), "metric"), count(samples, "stage sample table"))
			for _, m := range rep.Missing {
				fmt.Fprintf(stdout, "  missing: %s\n", m)
			}
			return nil
		},
	}
	sf.registerSpec(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "report.html", "the HTML file to write")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "name a run in legends, in the order of the runs (repeatable)")
	cmd.Flags().IntVar(&rows, "rows", report.DefaultRows, "most records embedded per stage")
	return cmd
}

// explainRunError adds to a run that is not in the store (whose error
// names the nearest ids) how to list them, or that there are none.
func explainRunError(err error, runs report.Runs, dir string) error {
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if l, ok := runs.(interface {
		ListRuns(int) ([]*store.RunRecord, error)
	}); ok {
		if recent, lerr := l.ListRuns(1); lerr == nil && len(recent) == 0 {
			return fmt.Errorf("%w: the store at %s holds no runs yet", err, dir)
		}
	}
	return fmt.Errorf("%w (ouro runs lists the runs in %s; name one by its id, a unique prefix, latest or latest~N)", err, dir)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB, %d bytes", float64(n)/(1<<20), n)
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB, %d bytes", float64(n)/(1<<10), n)
	}
	return fmt.Sprintf("%d bytes", n)
}
