package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ouroloop/ouro/cmd/ouro/internal/lsp"
	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/stdlib"
)

func newLspCmd(_, _ io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "lsp",
		Short: "Run the language server on stdin and stdout, for editors (docs/editor.md)",
		Long: `ouro lsp speaks the Language Server Protocol on stdin and stdout: diagnostics
from the compiler ouro validate runs, hover with ouro doc's text, go-to-definition
and find-references, completion and formatting (ouro fmt). docs/editor.md shows
the setup for Neovim and VS Code.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return lsp.Serve(cmd.Context(), stdio{}, lspOptions())
		},
	}
}

// lspOptions hands the language server what the CLI compiles and documents
// with.
func lspOptions() lsp.Options {
	reg := stdlib.NewRegistry()
	return lsp.Options{
		Registry:  reg,
		Functions: stdlib.Functions(),
		Doc: func(name string) (string, bool) {
			var b strings.Builder
			ok := writeDoc(&b, reg, name)
			return b.String(), ok
		},
		ArgDoc: func(sig *compiler.Signature, p *compiler.Param) string {
			var b strings.Builder
			kind := "operator"
			if sig.Family == compiler.Provider {
				kind = "model provider"
			}
			fmt.Fprintf(&b, "argument %s of %s %s\n\n", p.Name, kind, sig.Name)
			writeParamTable(&b, []*compiler.Param{p})
			return b.String()
		},
		Version: Version,
	}
}

// stdio is the server's connection: stdin and stdout.
type stdio struct{}

func (stdio) Read(p []byte) (int, error)  { return os.Stdin.Read(p) }
func (stdio) Write(p []byte) (int, error) { return os.Stdout.Write(p) }
func (stdio) Close() error                { return nil }
