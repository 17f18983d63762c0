package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang"
	"github.com/ouroloop/ouro/runtime/store"
	"github.com/ouroloop/ouro/stdlib"
)

// Version is the ouro release; set with -ldflags "-X main.Version=…".
var Version = "0.1.0-dev"

// Exit codes.
const (
	exitOK    = 0
	exitDiags = 1 // the spec (or data) has errors
	exitUsage = 2 // the command line is wrong
)

// usageError marks errors in the command line itself.
type usageError struct{ error }

// exitError carries an exit code whose message was already printed.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// common flags of every spec command.
type specFlags struct {
	vars     []string
	varFiles []string
	json     bool
}

func (f *specFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.vars, "var", nil, "set a variable: -var name=value (repeatable)")
	cmd.Flags().StringArrayVar(&f.varFiles, "var-file", nil, "read variables from an HCL file of name = value lines (repeatable)")
	cmd.Flags().BoolVar(&f.json, "json", false, "print diagnostics (and results) as JSON")
}

// normalizeArgs accepts Terraform-style single-dash long flags
// (-var, -var-file, -json, -check, -format, -spec, …) by rewriting them to
// --flags. `ouro __complete` arguments pass through it too, so a completion
// sees the flags as the command would.
func normalizeArgs(args []string) []string {
	out := make([]string, 0, len(args))
	long := []string{"var", "var-file", "json", "check", "format", "force", "from", "store", "wait", "progress", "j", "executor", "temporal", "blobs", "queue", "slots", "namespace", "exit-code", "template", "list", "spec", "label", "rows", "output"}
	for _, a := range args {
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") {
			name := strings.TrimPrefix(a, "-")
			if i := strings.IndexByte(name, '='); i >= 0 {
				name = name[:i]
			}
			for _, l := range long {
				if name == l && l != "j" {
					a = "-" + a
					break
				}
			}
		}
		out = append(out, a)
	}
	return out
}

// commandLineKey holds the command line (without the program name) in a
// command's context, for the run record's provenance.
type commandLineKey struct{}

func commandLine(cmd *cobra.Command) []string {
	args, _ := cmd.Context().Value(commandLineKey{}).([]string)
	return append([]string{"ouro"}, args...)
}

func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(normalizeArgs(args))
	cmd, err := root.ExecuteContextC(context.WithValue(context.Background(), commandLineKey{}, args))
	if err == nil {
		return exitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	code := exitDiags
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		code = exitUsage
		fmt.Fprintf(stderr, "ouro: %v\nRun 'ouro --help' for usage.\n", err)
	} else {
		fmt.Fprintf(stderr, "ouro: %v\n", err)
	}
	if wantsJSON(cmd, args) {
		_ = writeJSON(stdout, refusalJSON(err, code))
	}
	return code
}

// wantsJSON reports whether the command line asked for --json output
// (read from the parsed flag, or from the arguments when parsing failed).
func wantsJSON(cmd *cobra.Command, args []string) bool {
	if cmd != nil {
		if f := cmd.Flags().Lookup("json"); f != nil && f.Changed {
			return f.Value.String() == "true"
		}
	}
	for _, a := range normalizeArgs(args) {
		if a == "--json" || a == "--json=true" {
			return true
		}
	}
	return false
}

// refusalJSON is the --json form of an error that stopped a command before
// it could print its result: {"error": {"message", "kind", ...}}, kind
// being "usage", "store_locked" (with the holder) or "error".
func refusalJSON(err error, code int) map[string]any {
	e := map[string]any{"message": err.Error(), "kind": "error", "exit_code": code}
	var le *store.LockedError
	switch {
	case code == exitUsage:
		e["kind"] = "usage"
	case errors.As(err, &le):
		e["kind"] = "store_locked"
		holder := map[string]any{"pid": le.PID, "host": le.Host, "command": le.Command}
		if !le.Started.IsZero() {
			holder["started"] = le.Started
		}
		e["store"], e["holder"] = le.Dir, holder
	}
	return map[string]any{"error": e}
}

func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, s := range []string{"unknown command", "unknown flag", "unknown shorthand", "flag needs an argument", "invalid argument", "accepts ", "requires ", "bad flag"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "ouro",
		Short: "Compile and run LLM self-improvement loops written as .loop.hcl specs",
		Long: `ouro compiles LLM self-improvement loops — data acquisition, data selection,
model optimization, inference refinement and evaluation, written declaratively in
.loop.hcl files — into a typed DAG, and runs it with a cache so finished work is
never done twice.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newValidateCmd(stdout, stderr),
		newPlanCmd(stdout, stderr),
		newGraphCmd(stdout, stderr),
		newFmtCmd(stdout, stderr),
		newDocCmd(stdout, stderr),
		newRunCmd(stdout, stderr),
		newRunsCmd(stdout, stderr),
		newShowCmd(stdout, stderr),
		newDiffCmd(stdout, stderr),
		newReportCmd(stdout, stderr),
		newCacheCmd(stdout, stderr),
		newPinCmd(stdout, stderr, true), newPinCmd(stdout, stderr, false),
		newServeCmd(stdout, stderr),
		newExportCmd(stdout, stderr),
		newWorkerCmd(stdout, stderr),
		newInitCmd(stdout, stderr),
		newVersionCmd(stdout),
		newLspCmd(stdout, stderr),
	)
	return root
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print ouro's version, the plan format version and what the binary was built from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rev, modified, goVersion := binaryInfo()
			if asJSON {
				return writeJSON(stdout, map[string]any{"version": Version, "plan_format": compiler.FormatVersion,
					"revision": rev, "modified": modified, "go": goVersion, "os": goruntime.GOOS, "arch": goruntime.GOARCH})
			}
			fmt.Fprintf(stdout, "ouro %s (plan format %d)\n", Version, compiler.FormatVersion)
			if rev == "" {
				rev = "unknown revision (built without VCS information, e.g. by go run)"
			} else if modified {
				rev += " (modified)"
			}
			fmt.Fprintf(stdout, "built from %s with %s for %s/%s\n", rev, goVersion, goruntime.GOOS, goruntime.GOARCH)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func specPath(args []string) string {
	if len(args) == 0 {
		return "."
	}
	return args[0]
}

// loaded is a spec read, checked and compiled.
type loaded struct {
	cfg    *lang.Config
	result *compiler.Result
	diags  hcl.Diagnostics
	files  map[string]*hcl.File
}

// load parses and compiles the spec at path with the command line's
// variables. It never prints; callers report diags.
func load(path string, f *specFlags) *loaded {
	p := lang.NewParser()
	cfg, diags := p.LoadPath(path)
	l := &loaded{cfg: cfg}
	var inputs []compiler.VarInput
	for _, vf := range f.varFiles {
		entries, d := p.LoadVarFile(vf)
		diags = append(diags, d...)
		for _, e := range entries {
			inputs = append(inputs, compiler.VarInput{Name: e.Name, Expr: e.Expr, Range: e.Range, FromFile: true})
		}
	}
	for _, v := range f.vars {
		name, value, ok := strings.Cut(v, "=")
		if !ok || name == "" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid -var option", Detail: fmt.Sprintf("The option -var %q is not of the form name=value.", v)})
			continue
		}
		inputs = append(inputs, compiler.VarInput{Name: name, Raw: value, IsRaw: true})
	}
	if !diags.HasErrors() && cfg != nil {
		res, d := compiler.Compile(cfg, compiler.Options{
			Registry:  stdlib.NewRegistry(),
			Functions: stdlib.Functions(),
			Vars:      inputs,
		})
		diags = append(diags, d...)
		l.result = res
	}
	l.diags = diags
	l.files = p.Files()
	return l
}

// report prints diagnostics to stderr (or as JSON to stdout with --json) and
// returns exitError{1} when there are errors.
func (l *loaded) report(stdout, stderr io.Writer, asJSON bool) error {
	if asJSON {
		return nil
	}
	writeDiagnostics(stderr, l.files, l.diags)
	if l.diags.HasErrors() {
		return exitError{exitDiags}
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
