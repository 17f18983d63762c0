// Package examples holds what `ouro init` writes out of the paper
// examples: each folder's specs and data/, one .gitignore, the command
// trainer the specs name as ../trainers/trl_sft.py and the shared modules
// they name as ../modules/<name>. Most of it is
// embedded; a data set too big to embed (the self_improving_transformers
// example's 7.5 MB) is generated instead by the same deterministic code
// its gendata.go runs, so the two are the same bytes (embed_test.go).
//
// Nothing else is embedded — not the READMEs, not the gendata.go
// generators (they import this module), and never a developer's local
// store: go:embed reads the disk, not git, so every pattern below names
// specs, data folders or single files, never a whole example folder, where
// an .ouro/ store or a run's out/ may sit.
package examples

import (
	"embed"
	"io"
	"sync"

	"github.com/ouroloop/ouro/examples/internal/sitdata"
)

// FS holds <template>/*.loop.hcl and <template>/data/... for each paper
// folder whose data is not generated (see Generated),
// trainers/trl_sft.py, and the shared modules the specs use as
// ../modules/<name> (modules/<name>/*.loop.hcl).
//
//go:embed best_of_n/*.loop.hcl best_of_n/data
//go:embed rest_em/*.loop.hcl rest_em/data
//go:embed self_consistency/*.loop.hcl self_consistency/data
//go:embed self_improving_transformers/*.loop.hcl self_improving_transformers/.gitignore
//go:embed self_instruct/*.loop.hcl self_instruct/data
//go:embed self_refine/*.loop.hcl self_refine/data
//go:embed self_rewarding/*.loop.hcl self_rewarding/data
//go:embed spin/*.loop.hcl spin/data
//go:embed star/*.loop.hcl star/data
//go:embed trainers/trl_sft.py
//go:embed modules/*/*.loop.hcl
var FS embed.FS

// A GeneratedFile is a file of a template that FS does not hold: Write
// generates it, the bytes of the committed examples/<template>/<Path>.
type GeneratedFile struct {
	Path  string // slash path relative to the template folder, e.g. "data/test.jsonl"
	Write func(w io.Writer) error
}

// Generated lists the generated files of template, none for most. The
// files of one template share one generation, run on the first Write and
// kept only as long as the returned slice is.
func Generated(template string) []GeneratedFile {
	switch template {
	case "self_improving_transformers":
		files := sync.OnceValue(sitdata.Files)
		var out []GeneratedFile
		for i, f := range sitdata.Paths() {
			out = append(out, GeneratedFile{f, func(w io.Writer) error { return files()[i].Encode(w) }})
		}
		return out
	}
	return nil
}
