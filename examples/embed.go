// Package examples embeds what `ouro init` copies out of the paper
// examples: each folder's specs and data/, one .gitignore, and the command
// trainer the specs name as ../trainers/trl_sft.py. Nothing else — not the
// READMEs, not the gendata.go generators (they import this module), and
// never a developer's local store: go:embed reads the disk, not git, so
// every pattern below names specs, data folders or single files, never a
// whole example folder, where an .ouro/ store or a run's out/ may sit.
package examples

import "embed"

// FS holds <template>/*.loop.hcl and <template>/data/... for each paper
// folder, and trainers/trl_sft.py.
//
//go:embed best_of_n/*.loop.hcl best_of_n/data
//go:embed rest_em/*.loop.hcl rest_em/data
//go:embed self_consistency/*.loop.hcl self_consistency/data
//go:embed self_improving_transformers/*.loop.hcl self_improving_transformers/data self_improving_transformers/.gitignore
//go:embed self_instruct/*.loop.hcl self_instruct/data
//go:embed self_refine/*.loop.hcl self_refine/data
//go:embed self_rewarding/*.loop.hcl self_rewarding/data
//go:embed spin/*.loop.hcl spin/data
//go:embed star/*.loop.hcl star/data
//go:embed trainers/trl_sft.py
var FS embed.FS
