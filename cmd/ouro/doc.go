package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/stdlib"
	"github.com/ouroloop/ouro/stdlib/funcs"
)

func newDocCmd(stdout, _ io.Writer) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doc [OPERATOR|PROVIDER|FUNCTION]",
		Short: "List every operator, model provider and function, or document one",
		Args:  cobra.MaximumNArgs(1),
		ValidArgsFunction: func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return docNames(stdlib.NewRegistry(), toComplete), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := stdlib.NewRegistry()
			if asJSON {
				name := ""
				if len(args) == 1 {
					name = args[0]
				}
				entries := docJSON(reg, name)
				if len(entries) == 0 {
					return usageError{fmt.Errorf("no operator, provider or function named %q; run 'ouro doc' for the list", name)}
				}
				return writeJSON(stdout, entries)
			}
			if len(args) == 0 {
				writeDocIndex(stdout, reg)
				return nil
			}
			if !writeDoc(stdout, reg, args[0]) {
				return usageError{fmt.Errorf("no operator, provider or function named %q; run 'ouro doc' for the list", args[0])}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON: a list of {kind, name, family, doc, params | signature, category}")
	return cmd
}

// docJSON is `ouro doc --json`: every operator, provider and function (or
// those named name), with the columns of the text's argument table.
func docJSON(reg *stdlib.Registry, name string) []map[string]any {
	out := []map[string]any{}
	sigEntry := func(kind string, sig *compiler.Signature) map[string]any {
		params := []map[string]any{}
		for _, p := range sig.Params {
			ty, mode, def := paramColumns(p)
			pe := map[string]any{"name": p.Name, "type": ty, "mode": mode, "default": def, "doc": p.Doc}
			if len(p.OneOf) > 0 {
				pe["one_of"] = p.OneOf
			}
			params = append(params, pe)
		}
		e := map[string]any{"kind": kind, "name": sig.Name, "doc": sig.Doc, "params": params}
		if kind == "operator" {
			e["family"] = string(sig.Family)
		}
		return e
	}
	for _, n := range reg.OperatorNames() {
		if sig, _ := reg.Operator(n); name == "" || n == name {
			out = append(out, sigEntry("operator", sig))
		}
	}
	for _, n := range reg.ProviderNames() {
		if sig, _ := reg.Provider(n); name == "" || n == name {
			out = append(out, sigEntry("model provider", sig))
		}
	}
	for _, d := range funcs.Docs() {
		if name == "" || d.Name == name {
			out = append(out, map[string]any{"kind": "function", "name": d.Name, "signature": d.Signature, "doc": d.Description, "category": d.Category})
		}
	}
	return out
}

// docNames are the names `ouro doc` documents that start with prefix:
// operators, model providers, functions, each with its first sentence.
func docNames(reg *stdlib.Registry, prefix string) []cobra.Completion {
	var out []cobra.Completion
	seen := map[string]bool{}
	add := func(name, kind, doc string) {
		if !seen[name] && strings.HasPrefix(name, prefix) {
			seen[name] = true
			out = append(out, cobra.CompletionWithDesc(name, kind+": "+firstSentence(doc)))
		}
	}
	for _, n := range reg.OperatorNames() {
		sig, _ := reg.Operator(n)
		add(n, "operator", sig.Doc)
	}
	for _, n := range reg.ProviderNames() {
		sig, _ := reg.Provider(n)
		add(n, "model provider", sig.Doc)
	}
	for _, d := range funcs.Docs() {
		add(d.Name, "function", d.Description)
	}
	return out
}

// writeDoc documents everything named name — an operator, a model provider,
// a function — and reports whether there was anything. `ouro lsp` shows the
// same text on hover.
func writeDoc(w io.Writer, reg *stdlib.Registry, name string) bool {
	found := false
	if sig, ok := reg.Operator(name); ok {
		writeSignatureDoc(w, "operator", sig)
		found = true
	}
	if sig, ok := reg.Provider(name); ok {
		if found {
			fmt.Fprintln(w)
		}
		writeSignatureDoc(w, "model provider", sig)
		found = true
	}
	for _, d := range funcs.Docs() {
		if d.Name == name {
			if found {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "function %s\n\n  %s\n\n%s\n", d.Name, d.Signature, wrap(d.Description, 78, ""))
			found = true
		}
	}
	return found
}

func writeDocIndex(w io.Writer, reg *stdlib.Registry) {
	families := []compiler.Family{compiler.Acquisition, compiler.Selection, compiler.Optimization, compiler.Refinement, compiler.Evaluation}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OPERATORS")
	for _, fam := range families {
		fmt.Fprintf(tw, "\n  %s\n", fam)
		for _, n := range reg.OperatorNames() {
			sig, _ := reg.Operator(n)
			if sig.Family == fam {
				fmt.Fprintf(tw, "    %s\t%s\n", n, firstSentence(sig.Doc))
			}
		}
	}
	fmt.Fprintln(tw, "\nMODEL PROVIDERS")
	for _, n := range reg.ProviderNames() {
		sig, _ := reg.Provider(n)
		fmt.Fprintf(tw, "    %s\t%s\n", n, firstSentence(sig.Doc))
	}
	fmt.Fprintln(tw, "\nFUNCTIONS")
	cat := ""
	for _, d := range sortedByCategory(funcs.Docs()) {
		if d.Category != cat {
			cat = d.Category
			fmt.Fprintf(tw, "\n  %s\n", cat)
		}
		fmt.Fprintf(tw, "    %s\t%s\n", d.Signature, firstSentence(d.Description))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nRun 'ouro doc NAME' for one operator, provider or function.")
}

func sortedByCategory(docs []funcs.Doc) []funcs.Doc {
	out := append([]funcs.Doc(nil), docs...)
	// stable: categories in first-seen order of a sorted list, names sorted within
	cats := map[string]int{}
	for _, d := range out {
		if _, ok := cats[d.Category]; !ok {
			cats[d.Category] = len(cats)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && (cats[out[j].Category] < cats[out[j-1].Category] || (cats[out[j].Category] == cats[out[j-1].Category] && out[j].Name < out[j-1].Name)); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// writeSignatureDoc documents one operator or provider from the same
// signature the compiler checks.
func writeSignatureDoc(w io.Writer, kind string, sig *compiler.Signature) {
	fmt.Fprintf(w, "%s %s (%s)\n\n%s\n\n", kind, sig.Name, sig.Family, wrap(sig.Doc, 78, ""))
	writeParamTable(w, sig.Params)
}

// writeParamTable prints `ouro doc`'s table of arguments; `ouro lsp` shows
// one argument's row on hover.
func writeParamTable(w io.Writer, params []*compiler.Param) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ARGUMENT\tTYPE\tMODE\tDEFAULT\tDESCRIPTION")
	for _, p := range params {
		ty, mode, def := paramColumns(p)
		doc := p.Doc
		if len(p.OneOf) > 0 {
			doc += " One of: " + strings.Join(p.OneOf, ", ") + "."
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", p.Name, ty, mode, def, doc)
	}
	tw.Flush()
}

// paramColumns are an argument's type, mode and default as `ouro doc`
// shows them ("required", "optional" or the default value).
func paramColumns(p *compiler.Param) (ty, mode, def string) {
	def = "required"
	if !p.Required {
		def = "optional"
		if p.Default != cty.NilVal && !p.Default.IsNull() {
			def = valueString(p.Default)
		}
	}
	ty = "any"
	if p.Type != cty.NilType {
		ty = compiler.TypeString(p.Type)
		if compiler.IsDatasetType(p.Type) {
			ty = "dataset"
		}
	}
	if p.Mode == compiler.ModePattern {
		ty = "pattern"
	} else if p.Mode == compiler.ModeType {
		ty = "type"
	}
	return ty, p.Mode.String(), def
}

func valueString(v cty.Value) string {
	switch {
	case v.Type() == cty.String:
		return fmt.Sprintf("%q", v.AsString())
	case v.Type() == cty.Number:
		return v.AsBigFloat().Text('g', -1)
	case v.Type() == cty.Bool:
		return fmt.Sprint(v.True())
	case v.LengthInt() == 0:
		if v.Type().IsMapType() {
			return "{}"
		}
		return "[]"
	}
	return v.GoString()
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

func wrap(s string, width int, indent string) string {
	var b strings.Builder
	col := 0
	for i, word := range strings.Fields(s) {
		if i > 0 && col+1+len(word) > width {
			b.WriteString("\n" + indent)
			col = 0
		} else if i > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(word)
		col += len(word)
	}
	return b.String()
}
