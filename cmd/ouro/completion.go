package main

// Shell completion. `ouro completion bash|zsh|fish` is cobra's default
// command (its generators, GenBashCompletionV2 and the others); what is
// ouro's is the dynamic part, answered by cobra's hidden `__complete`
// command, which the generated scripts call on every TAB:
//
//   - RUN arguments (show, diff, pin, unpin): the runs of the store the
//     command would use, newest first, then latest, latest~1, …; read-only
//     (unless runs wait to be imported), through the running process when
//     a run holds the store (store.Querier), and nothing when there is no
//     store;
//   - run --force/--from: the stages and datasets of the spec named by PATH,
//     compiled with the -var and -var-file given so far, as names (every
//     round) and addresses (one round);
//   - flags with a fixed set of values, init --template, and the names
//     `ouro doc` documents;
//   - PATH arguments and --spec: directories and *.loop.hcl files.
//
// A completion never prints: trouble (a locked store whose owner does not
// answer, a spec that does not compile) offers nothing.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/store"
)

// completionRuns is how many runs a RUN argument offers.
const completionRuns = 20

// completionTimeout bounds how long a completion waits for the process
// that holds the store: a TAB that hangs is worse than one that offers
// nothing.
const completionTimeout = 2 * time.Second

// specExt is the extension PATH arguments complete to (with directories).
var specExt = strings.TrimPrefix(lang.FileSuffix, ".")

// completeSpecPath completes a command's one PATH argument: directories
// and spec files.
func completeSpecPath(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return []cobra.Completion{specExt}, cobra.ShellCompDirectiveFilterFileExt
}

// completeDir completes a directory argument.
func completeDir(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveFilterDirs
}

// completeChoices completes a flag to one of a fixed list of values, each
// "value\tdescription", in the order given.
func completeChoices(choices ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []cobra.Completion
		for _, c := range choices {
			if strings.HasPrefix(c, toComplete) {
				out = append(out, c)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	}
}

// mustComplete registers a flag's completion; the flag is the caller's
// own, so an error is a bug.
func mustComplete(cmd *cobra.Command, flag string, fn cobra.CompletionFunc) {
	if err := cmd.RegisterFlagCompletionFunc(flag, fn); err != nil {
		panic(err)
	}
}

// completeRuns completes the first n arguments of a command naming runs.
func (f *storeFlags) completeRuns(n int) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) >= n {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return f.runCompletions(toComplete), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	}
}

// runCompletions lists the runs of the store of --spec (or --store) that
// start with prefix: their ids, newest first, then latest and latest~N,
// each with a description.
func (f *storeFlags) runCompletions(prefix string) []cobra.Completion {
	runs := f.completionListRuns()
	var out []cobra.Completion
	add := func(word, desc string) {
		if strings.HasPrefix(word, prefix) {
			out = append(out, cobra.CompletionWithDesc(word, desc))
		}
	}
	for _, r := range runs {
		desc := r.Status + ", started " + r.Started.Local().Format("2006-01-02 15:04")
		if c := r.Provenance.ShortCommit(); c != "" {
			desc += ", commit " + c
		}
		if r.Pinned {
			desc += ", pinned"
		}
		add(r.ID, desc)
	}
	for i, r := range runs {
		word := "latest"
		if i > 0 {
			word = fmt.Sprintf("latest~%d", i)
		}
		add(word, r.ID)
	}
	return out
}

// completionListRuns reads the newest runs of the store without creating,
// writing or waiting for it: a store held by a run is asked through its
// query socket.
func (f *storeFlags) completionListRuns() []*store.RunRecord {
	dir := f.dir
	if dir == "" {
		dir = runtime.DefaultStoreDir(f.spec)
	}
	if _, err := os.Stat(filepath.Join(dir, "index")); err != nil {
		return nil // no store (yet)
	}
	// Read-only unless runs wait in runs.pending (store/pending.go), which
	// only a writable open makes visible, as `ouro runs` would.
	_, pendErr := os.Stat(filepath.Join(dir, "runs.pending"))
	var q store.Querier
	st, err := store.Open(dir, store.Options{ReadOnly: pendErr != nil, Command: "ouro __complete"})
	var le *store.LockedError
	switch {
	case err == nil:
		defer st.Close()
		q = st
	case errors.As(err, &le):
		c := store.DialQueries(le)
		if c == nil {
			return nil
		}
		q = c
	default:
		return nil // unreadable, or an older store that must be written first
	}
	done := make(chan []*store.RunRecord, 1)
	go func() {
		runs, _ := q.ListRuns(completionRuns)
		done <- runs
	}()
	select {
	case runs := <-done:
		return runs
	case <-time.After(completionTimeout):
		return nil
	}
}

// completeStages completes --force and --from of `ouro run`: the stages
// and datasets of the spec named by PATH, each by name ("tune", every
// round of a loop) and by address ("loop.star[1].stage.tune", one round).
func completeStages(f *specFlags) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		l := load(specPath(args), f)
		if l.result == nil || l.result.Plan == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return stageCompletions(l.result.Plan, toComplete), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	}
}

// stageCompletions lists what --force and --from accept that starts with
// prefix: names first (in plan order, once each), then addresses.
func stageCompletions(p *compiler.Plan, prefix string) []cobra.Completion {
	var names, addrs []cobra.Completion
	seen := map[string]bool{}
	for _, n := range p.Nodes {
		if n.Kind != compiler.KindStage && n.Kind != compiler.KindDataset {
			continue
		}
		what := n.Operator
		if n.Kind == compiler.KindDataset {
			what = "dataset"
		}
		if n.Name != n.Address && !seen[n.Name] && strings.HasPrefix(n.Name, prefix) {
			seen[n.Name] = true
			desc := what
			if n.Loop != "" {
				desc += ", every round of loop " + n.Loop
			}
			names = append(names, cobra.CompletionWithDesc(n.Name, desc))
		}
		if strings.HasPrefix(n.Address, prefix) {
			desc := what
			if n.Loop != "" {
				desc += fmt.Sprintf(", round %d", n.Round)
			}
			addrs = append(addrs, cobra.CompletionWithDesc(n.Address, desc))
		}
	}
	return append(names, addrs...)
}
