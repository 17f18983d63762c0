package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/spf13/cobra"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang"
)

// jsonDiag is the machine-readable form of one diagnostic.
type jsonDiag struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	Range    *jsonRange `json:"range,omitempty"`
	Snippet  string     `json:"snippet,omitempty"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

func toJSONDiags(files map[string]*hcl.File, diags hcl.Diagnostics) []jsonDiag {
	out := []jsonDiag{}
	for _, d := range diags {
		jd := jsonDiag{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			jd.Severity = "warning"
		}
		if d.Subject != nil {
			r := d.Subject
			jd.Range = &jsonRange{Filename: r.Filename,
				Start: jsonPos{r.Start.Line, r.Start.Column, r.Start.Byte},
				End:   jsonPos{r.End.Line, r.End.Column, r.End.Byte}}
			if f, ok := files[r.Filename]; ok && f != nil {
				lines := bytes.Split(f.Bytes, []byte("\n"))
				if r.Start.Line >= 1 && r.Start.Line <= len(lines) {
					jd.Snippet = string(lines[r.Start.Line-1])
				}
			}
		}
		out = append(out, jd)
	}
	return out
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func countDiags(diags hcl.Diagnostics) (errs, warns int) {
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			errs++
		} else {
			warns++
		}
	}
	return
}

func newValidateCmd(stdout, stderr io.Writer) *cobra.Command {
	f := &specFlags{}
	cmd := &cobra.Command{
		Use:               "validate [PATH]",
		Short:             "Parse and type-check a spec (a .loop.hcl file or a directory of them) without running anything",
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeSpecPath,
		RunE: func(cmd *cobra.Command, args []string) error {
			l := load(specPath(args), f)
			if f.json {
				errs, warns := countDiags(l.diags)
				_ = writeJSON(stdout, map[string]any{
					"valid":         errs == 0,
					"error_count":   errs,
					"warning_count": warns,
					"diagnostics":   toJSONDiags(l.files, l.diags),
				})
				if errs > 0 {
					return exitError{exitDiags}
				}
				return nil
			}
			if err := l.report(stdout, stderr, false); err != nil {
				return err
			}
			p := l.result.Plan
			stages := 0
			for _, n := range p.Nodes {
				if n.Kind == compiler.KindStage || n.Kind == compiler.KindDataset {
					stages++
				}
			}
			fmt.Fprintf(stdout, "The spec is valid: %s after unrolling %s.\n", count(stages, "stage"), count(len(p.Loops), "loop"))
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func newPlanCmd(stdout, stderr io.Writer) *cobra.Command {
	f := &specFlags{}
	sf := &storeFlags{}
	path := specPath
	cmd := &cobra.Command{
		Use:               "plan [PATH]",
		Short:             "Show the stages that would run, per round, with their operators and inputs",
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeSpecPath,
		RunE: func(cmd *cobra.Command, args []string) error {
			l := load(specPath(args), f)
			if f.json {
				if l.diags.HasErrors() {
					_ = writeJSON(stdout, map[string]any{"diagnostics": toJSONDiags(l.files, l.diags)})
					return exitError{exitDiags}
				}
				return l.result.Plan.Encode(stdout)
			}
			if err := l.report(stdout, stderr, false); err != nil {
				return err
			}
			writePlanText(stdout, l.result.Plan)
			return explainPlan(stdout, path(args), sf, l.result.Plan)
		},
	}
	f.register(cmd)
	sf.register(cmd)
	return cmd
}

// writePlanText prints the plan for people: top-level nodes, then each
// loop round by round, each node with its operator and what it reads.
func writePlanText(w io.Writer, p *compiler.Plan) {
	// A round's nodes: its state, stages, modules (their objects
	// included) and until, in plan order.
	inLoop := map[string]bool{}
	rounds := map[string][][]*compiler.Node{}
	for _, l := range p.Loops {
		rounds[l.Name] = make([][]*compiler.Node, len(l.Round))
		inLoop[l.FinalState] = true
	}
	for _, n := range p.Nodes {
		if n.Loop == "" || n.Kind == compiler.KindLoop || inLoop[n.Address] {
			continue
		}
		if rs := rounds[n.Loop]; n.Round >= 0 && n.Round < len(rs) {
			rs[n.Round] = append(rs[n.Round], n)
			inLoop[n.Address] = true
		}
	}
	line := func(indent string, n *compiler.Node, short string) {
		what := string(n.Kind)
		switch n.Kind {
		case compiler.KindStage:
			what = n.Operator
			if n.Queue != "" {
				what += " @" + n.Queue
			}
		case compiler.KindModel:
			what = "model (" + n.Provider + ")"
		}
		reads := ""
		if len(n.Deps) > 0 {
			reads = "  ← " + strings.Join(n.Deps, ", ")
		}
		fmt.Fprintf(w, "%s%-28s %-14s%s\n", indent, short, what, reads)
	}
	stages := 0
	for _, n := range p.Nodes {
		if n.Kind == compiler.KindStage || n.Kind == compiler.KindDataset {
			stages++
		}
	}
	fmt.Fprintf(w, "Plan: %d stages, %d loops, %d outputs.\n\n", stages, len(p.Loops), len(p.Outputs))
	for _, n := range p.Nodes {
		if inLoop[n.Address] || n.Kind == compiler.KindLoop || n.Kind == compiler.KindOutput {
			continue
		}
		line("", n, n.Address)
	}
	for _, l := range p.Loops {
		fmt.Fprintf(w, "\nloop %s: %d rounds", l.Name, l.Rounds)
		if len(l.Round) > 0 && l.Round[0].Until != "" {
			fmt.Fprint(w, " (stops early when `until` holds)")
		}
		fmt.Fprintln(w)
		for i := range l.Round {
			fmt.Fprintf(w, "  round %d\n", i)
			for _, n := range rounds[l.Name][i] {
				short := strings.TrimPrefix(n.Address, fmt.Sprintf("loop.%s[%d].", l.Name, i))
				line("    ", n, short)
			}
		}
		if l.FinalState != "" {
			fmt.Fprintln(w, "  after the last round")
			line("    ", p.Node(l.FinalState), "final state")
		}
	}
	if len(p.Outputs) > 0 {
		fmt.Fprintln(w)
		for _, o := range p.Outputs {
			line("", p.Node(o), o)
		}
	}
}

func newGraphCmd(stdout, stderr io.Writer) *cobra.Command {
	f := &specFlags{}
	var format string
	cmd := &cobra.Command{
		Use:               "graph [PATH]",
		Short:             "Print the spec's dependency graph as Graphviz DOT or Mermaid (sorted; cycles in red)",
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeSpecPath,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "dot" && format != "mermaid" {
				return usageError{fmt.Errorf("--format must be dot or mermaid, not %q", format)}
			}
			l := load(specPath(args), f)
			writeDiagnostics(stderr, l.files, l.diags)
			if l.result == nil || l.result.Graph == nil {
				return exitError{exitDiags}
			}
			if format == "dot" {
				fmt.Fprint(stdout, l.result.Graph.DOT())
			} else {
				fmt.Fprint(stdout, l.result.Graph.Mermaid())
			}
			if l.diags.HasErrors() {
				return exitError{exitDiags}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&format, "format", "dot", "output format: dot or mermaid")
	mustComplete(cmd, "format", completeChoices("dot\tGraphviz DOT", "mermaid\tMermaid flowchart"))
	return cmd
}

func newFmtCmd(stdout, stderr io.Writer) *cobra.Command {
	var check, asJSON bool
	cmd := &cobra.Command{
		Use:               "fmt [PATH]",
		Short:             "Rewrite .loop.hcl files in canonical format (--check: only list files that need it)",
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeSpecPath,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := specPath(args)
			files, err := specFiles(path)
			if err != nil {
				return err
			}
			var diags hcl.Diagnostics
			allFiles := map[string]*hcl.File{}
			changed := 0
			changedFiles := []string{}
			for _, name := range files {
				src, err := os.ReadFile(name)
				if err != nil {
					return err
				}
				f, d := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
				allFiles[name] = f
				if d.HasErrors() {
					diags = append(diags, d...)
					continue
				}
				out := hclwrite.Format(src)
				if bytes.Equal(out, src) {
					continue
				}
				changed++
				changedFiles = append(changedFiles, name)
				if !asJSON {
					fmt.Fprintln(stdout, name)
				}
				if !check {
					if err := os.WriteFile(name, out, 0o644); err != nil {
						return err
					}
				}
			}
			if asJSON {
				// "files": those not in canonical form (rewritten unless --check).
				_ = writeJSON(stdout, map[string]any{"files": changedFiles, "check": check, "diagnostics": toJSONDiags(allFiles, diags)})
			} else {
				writeDiagnostics(stderr, allFiles, diags)
			}
			if diags.HasErrors() || (check && changed > 0) {
				return exitError{exitDiags}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "do not rewrite; list unformatted files and exit 1 if any")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the files (and diagnostics) as JSON")
	return cmd
}

func specFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, usageError{err}
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var out []string
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != path && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, lang.FileSuffix) {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// count writes n with its noun, plural unless n is 1: "1 stage", "3 loops".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	switch {
	case strings.HasSuffix(noun, "ss"):
		return fmt.Sprintf("%d %ses", n, noun)
	case strings.HasSuffix(noun, "y"):
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(noun, "y"))
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
