package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/agext/levenshtein"
	"github.com/spf13/cobra"

	"github.com/ouroloop/ouro/examples"
)

// An initTemplate is one paper example `ouro init` can copy: the folder
// examples/<name> (embedded by package examples) plus what the README stub
// says about it.
type initTemplate struct {
	name  string
	title string   // the README stub's heading
	paper string   // authors, venue, arXiv id
	about string   // one line for `ouro init --list`
	quick []string // -var flags for a short smoke run (checked by the tests)
}

const defaultTemplate = "star"

// initTemplates are sorted by name: `ouro init --list` prints them in this
// order. TestInitTemplatesCoverExamples keeps the list equal to the paper
// folders of examples/.
var initTemplates = []initTemplate{
	{name: "best_of_n", title: "Best-of-N with a verifier",
		paper: "Cobbe et al., Training Verifiers to Solve Math Word Problems, 2021, arXiv:2110.14168",
		about: "Best-of-N with a verifier (Cobbe et al. 2021): sample N answers, answer with the best-scored one",
		quick: []string{"-var", "pretrain_steps=20", "-var", "doublings=1", "-var", "questions=5"}},
	{name: "rest_em", title: "ReST-EM / RAFT: expert iteration",
		paper: "Singh et al., Beyond Human Data, 2023, arXiv:2312.06585; Dong et al., RAFT, 2023, arXiv:2304.06767",
		about: "ReST-EM / RAFT (Singh et al., Dong et al. 2023): sample, keep the rewarded answers, fine-tune the base, repeat",
		quick: []string{"-var", "pretrain_steps=20", "-var", "tune_steps=10", "-var", "iterations=1", "-var", "problems=10"}},
	{name: "self_consistency", title: "Self-Consistency",
		paper: "Wang et al., Self-Consistency Improves Chain of Thought Reasoning in Language Models, ICLR 2023, arXiv:2203.11171",
		about: "Self-Consistency (Wang et al. 2023): sample N answers, answer by majority vote",
		quick: []string{"-var", "pretrain_steps=20", "-var", "doublings=1", "-var", "questions=5"}},
	{name: "self_improving_transformers", title: "Self-Improving Transformers",
		paper: "Lee et al., Self-Improving Transformers Overcome Easy-to-Hard and Length Generalization Challenges, ICML 2025, arXiv:2502.01612",
		about: "Self-Improving Transformers (Lee et al. 2025): label harder problems yourself, keep what seeded models agree on",
		quick: []string{"-var", "rounds=1", "-var", "pretrain_steps=20", "-var", "round_steps=10",
			"-var", "problems=20", "-var", "train_per_length=50", "-var", "replay=20"}},
	{name: "self_instruct", title: "Self-Instruct",
		paper: "Wang et al., Self-Instruct: Aligning Language Models with Self-Generated Instructions, ACL 2023, arXiv:2212.10560",
		about: "Self-Instruct (Wang et al. 2023): grow a task pool from seeds, dedupe it, instruction-tune on it",
		quick: []string{"-var", "pretrain_steps=20", "-var", "tune_steps=5", "-var", "rounds=1", "-var", "proposals=1"}},
	{name: "self_refine", title: "Self-Refine",
		paper: "Madaan et al., Self-Refine: Iterative Refinement with Self-Feedback, NeurIPS 2023, arXiv:2303.17651",
		about: "Self-Refine (Madaan et al. 2023): draft, critique and revise with the model's own feedback",
		quick: []string{"-var", "seeds=2", "-var", "drafter_problems=10", "-var", "critic_problems=10", "-var", "draft_steps=20", "-var", "role_steps=10", "-var", "max_iterations=1", "-var", "questions=5"}},
	{name: "self_rewarding", title: "Self-Rewarding Language Models",
		paper: "Yuan et al., Self-Rewarding Language Models, 2024, arXiv:2401.10020",
		about: "Self-Rewarding LMs (Yuan et al. 2024): the model judges its own answers; iterative DPO on best/worst pairs",
		quick: []string{"-var", "seeds=2", "-var", "labeled=10", "-var", "answerer_steps=10", "-var", "seed_steps=20", "-var", "dpo_epochs=1", "-var", "iterations=1", "-var", "prompts=5", "-var", "responses=2"}},
	{name: "spin", title: "SPIN: Self-Play Fine-Tuning",
		paper: "Chen et al., Self-Play Fine-Tuning Converts Weak Language Models to Strong Language Models, ICML 2024, arXiv:2401.01335",
		about: "SPIN (Chen et al. 2024): DPO of the data's answers over the model's own, iterated",
		quick: []string{"-var", "seeds=2", "-var", "sft_steps=20", "-var", "dpo_epochs=1", "-var", "iterations=1", "-var", "problems=10"}},
	{name: "star", title: "STaR: Self-Taught Reasoner",
		paper: "Zelikman et al., STaR: Bootstrapping Reasoning With Reasoning, NeurIPS 2022, arXiv:2203.14465",
		about: "STaR (Zelikman et al. 2022): keep the rationales that reach the right answer, fine-tune, repeat",
		quick: []string{"-var", "rounds=1", "-var", "base_steps=30", "-var", "tune_steps=30", "-var", "samples=1"}},
}

func findTemplate(name string) (initTemplate, bool) {
	for _, t := range initTemplates {
		if t.name == name {
			return t, true
		}
	}
	return initTemplate{}, false
}

func templateNames() []string {
	names := make([]string, len(initTemplates))
	for i, t := range initTemplates {
		names[i] = t.name
	}
	return names
}

// unknownTemplate is the usage error for a --template that names none:
// the nearest name when one is close, and every name.
func unknownTemplate(name string) error {
	msg := fmt.Sprintf("no template named %q", name)
	if near := nearestTemplate(name); near != "" {
		msg += fmt.Sprintf("; did you mean %q?", near)
	}
	return usageError{fmt.Errorf("%s\nThe templates: %s (default %s); 'ouro init --list' says what each is",
		msg, strings.Join(templateNames(), ", "), defaultTemplate)}
}

// nearestTemplate is the template name closest to name (dashes read as
// underscores, case ignored), when it is a likely typo or a prefix.
func nearestTemplate(name string) string {
	n := strings.ToLower(strings.ReplaceAll(name, "-", "_"))
	if n == "" {
		return ""
	}
	best, bestDist := "", 1<<30
	for _, t := range initTemplates {
		d := levenshtein.Distance(n, t.name, nil)
		if strings.HasPrefix(t.name, n) && len(n) >= 3 {
			d = 0
		}
		if d < bestDist {
			best, bestDist = t.name, d
		}
	}
	if bestDist <= max(2, len(n)/3) {
		return best
	}
	return ""
}

// A scaffoldFile is one file `ouro init` writes, at a slash path relative
// to the target directory: data, or what gen streams when it is set (a
// generated data set, see examples.Generated).
type scaffoldFile struct {
	path string
	data []byte
	gen  func(io.Writer) error
}

// trainerRef matches a spec's reference to the shared command trainers
// beside the example folders, "../trainers/<file>".
var trainerRef = regexp.MustCompile(`"\.\./trainers/([^"/]+)"`)

// moduleRef matches a spec's module source among the shared modules
// beside the example folders, "../modules/<name>".
var moduleRef = regexp.MustCompile(`"\.\./modules/([^"/]+)"`)

// scaffold lists the files of template t: its specs (with "../trainers/"
// references pointed at a trainers/ folder of the scaffold, which gets the
// scripts they name, and descriptions naming examples/trainers/ likewise;
// "../modules/" sources at a modules/ folder holding the modules named),
// its data/ (embedded, or generated when the example registers a
// generator), a README stub and a .gitignore holding .ouro/ (plus the
// example's own ignore lines). Sorted by path. Nothing is generated yet:
// writeScaffold runs the generators.
func scaffold(t initTemplate) ([]scaffoldFile, error) {
	var files []scaffoldFile
	var specs, trainers, modules, ignores, generated []string
	err := fs.WalkDir(examples.FS, t.name, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := examples.FS.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, t.name+"/")
		switch {
		case rel == ".gitignore":
			for _, l := range strings.Split(string(data), "\n") {
				if l = strings.TrimSpace(l); l != "" && l != ".ouro/" {
					ignores = append(ignores, l)
				}
			}
			return nil
		case strings.HasSuffix(rel, ".loop.hcl") && !strings.Contains(rel, "/"):
			specs = append(specs, rel)
			for _, m := range trainerRef.FindAllSubmatch(data, -1) {
				s := string(m[1])
				if !slices.Contains(trainers, s) {
					trainers = append(trainers, s)
				}
				// The prose (a variable's description) follows the command.
				data = bytes.ReplaceAll(data, []byte("examples/trainers/"+s), []byte("trainers/"+s))
			}
			data = trainerRef.ReplaceAll(data, []byte(`"trainers/$1"`))
			for _, m := range moduleRef.FindAllSubmatch(data, -1) {
				if s := string(m[1]); !slices.Contains(modules, s) {
					modules = append(modules, s)
				}
			}
			data = moduleRef.ReplaceAll(data, []byte(`"./modules/$1"`))
		}
		files = append(files, scaffoldFile{path: rel, data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", t.name, err)
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("template %s has no spec (a build without the examples?)", t.name)
	}
	for _, g := range examples.Generated(t.name) {
		files = append(files, scaffoldFile{path: g.Path, gen: g.Write})
		generated = append(generated, g.Path)
	}
	for _, tr := range trainers {
		data, err := examples.FS.ReadFile("trainers/" + tr)
		if err != nil {
			return nil, fmt.Errorf("template %s names ../trainers/%s, which ouro does not embed", t.name, tr)
		}
		files = append(files, scaffoldFile{path: "trainers/" + tr, data: data})
	}
	for _, m := range modules {
		n := len(files)
		err := fs.WalkDir(examples.FS, "modules/"+m, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := examples.FS.ReadFile(p)
			files = append(files, scaffoldFile{path: p, data: data})
			return err
		})
		if err != nil || len(files) == n {
			return nil, fmt.Errorf("template %s names ../modules/%s, which ouro does not embed", t.name, m)
		}
	}
	files = append(files,
		scaffoldFile{path: ".gitignore", data: []byte(strings.Join(append([]string{".ouro/"}, ignores...), "\n") + "\n")},
		scaffoldFile{path: "README.md", data: readmeStub(t, specs, trainers, modules, ignores, generated)})
	slices.SortFunc(files, func(a, b scaffoldFile) int { return strings.Compare(a.path, b.path) })
	return files, nil
}

// readmeStub is the scaffold's README: what the template is, how to run
// it, what the folder holds and where the full write-up lives.
func readmeStub(t initTemplate, specs, trainers, modules, ignores, generated []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n", t.title)
	fmt.Fprintf(&b, "%s.\n\n", t.about)
	fmt.Fprintf(&b, "Paper: %s.\n\n", t.paper)
	fmt.Fprintf(&b, "Scaffolded by `ouro init --template %s` (ouro %s) from the ouro\nrepository's `examples/%s`.\n\n", t.name, Version, t.name)
	b.WriteString("## Run it\n\nFrom this folder:\n\n")
	b.WriteString("    ouro validate        # parse and type-check the spec; nothing runs\n")
	b.WriteString("    ouro run             # run the loop; every finished stage is cached in .ouro/\n")
	b.WriteString("    ouro show latest     # the last run's stages, metrics and outputs\n\n")
	fmt.Fprintf(&b, "A full run trains small models on the CPU and can take minutes. A short\nsmoke run with small variables:\n\n    ouro run %s\n\n", strings.Join(t.quick, " "))
	b.WriteString("The spec's `variable` blocks list what else `-var name=value` can change.\nA second `ouro run` with nothing changed is entirely cached.\n\n")
	b.WriteString("## What is here\n\n")
	for _, s := range specs {
		fmt.Fprintf(&b, "- `%s`: the loop.\n", s)
	}
	if len(generated) > 0 {
		fmt.Fprintf(&b, "- `data/`: the datasets it reads,\n  `%s`.\n  `ouro init` generated them with the code\n  `examples/%s/gendata.go` in the ouro repository runs, so they\n  are that folder's files byte for byte.\n",
			strings.Join(generated, "`, `"), t.name)
	} else {
		fmt.Fprintf(&b, "- `data/`: the datasets it reads, already generated. The generator,\n  `examples/%s/gendata.go` in the ouro repository, is not copied: it is a\n  `go:build ignore` program importing ouro's own module, so it runs only in an\n  ouro checkout.\n", t.name)
	}
	for _, tr := range trainers {
		fmt.Fprintf(&b, "- `trainers/%s`: the command trainer `-var trainer=command` runs\n  (ouro's docs/trainers.md; needs python3 with its packages).\n", tr)
	}
	for _, m := range modules {
		fmt.Fprintf(&b, "- `modules/%s/`: a module the spec uses (`source = \"./modules/%s\"`),\n  ouro's `examples/modules/%s`.\n", m, m, m)
	}
	ignored := "`.ouro/` (the store)"
	for _, l := range ignores {
		ignored += fmt.Sprintf(", `%s`", l)
	}
	fmt.Fprintf(&b, "- `.gitignore`: keeps %s out of git.\n\n", ignored)
	fmt.Fprintf(&b, "The paper's steps mapped to the spec's blocks, and the numbers from an\nactual run, are in `examples/%s/README.md` in the ouro repository\n(github.com/ouroloop/ouro).\n", t.name)
	return b.Bytes()
}

// conflicts lists the scaffold paths that already exist under dir (or
// whose parent exists as something other than a directory), as written
// on the command line, sorted and without repeats.
func conflicts(dir string, files []scaffoldFile) []string {
	var out []string
	add := func(rel string) {
		if p := filepath.Join(dir, filepath.FromSlash(rel)); !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
next:
	for _, f := range files {
		for parent := path.Dir(f.path); parent != "."; parent = path.Dir(parent) {
			if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(parent))); err == nil && !st.IsDir() {
				add(parent)
				continue next
			}
		}
		// Anything there, even a dangling symlink, is a conflict; so is
		// a path that cannot be examined.
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(f.path))); !errors.Is(err, fs.ErrNotExist) {
			add(f.path)
		}
	}
	slices.Sort(out)
	return out
}

// writeScaffold writes files under dir, creating it and the folders
// needed, after checking that none of them exists: either every file is
// written or, when any exists, none is (and nothing is generated). Files
// are created exclusively, so one appearing between the check and the
// write is not overwritten either. A generated file is streamed to disk.
func writeScaffold(dir string, files []scaffoldFile) error {
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", dir)
	}
	if c := conflicts(dir, files); len(c) > 0 {
		return fmt.Errorf("refusing to overwrite %s (nothing was written; choose another directory or move them):\n  %s",
			count(len(c), "existing file"), strings.Join(c, "\n  "))
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		w, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		if f.gen != nil {
			bw := bufio.NewWriterSize(w, 1<<16)
			if err = f.gen(bw); err == nil {
				err = bw.Flush()
			}
		} else {
			_, err = w.Write(f.data)
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
	}
	return nil
}

func writeTemplateList(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, t := range initTemplates {
		name := t.name
		if name == defaultTemplate {
			name += " (default)"
		}
		fmt.Fprintf(tw, "%s\t%s\n", name, t.about)
	}
	tw.Flush()
}

func newInitCmd(stdout, _ io.Writer) *cobra.Command {
	var tmpl string
	var list bool
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Scaffold a new loop from a paper example: spec, data, README, .gitignore",
		Long: `init writes a runnable loop into DIR (default: the current directory,
created when missing) from one of the paper examples: its spec, its data,
a README stub and a .gitignore for the store. It never overwrites a file:
when any it would write exists, it lists them and writes nothing.
'ouro init --list' prints the templates.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeDir,
		RunE: func(cmd *cobra.Command, args []string) error {
			if list {
				if len(args) > 0 || cmd.Flags().Changed("template") {
					return usageError{errors.New("--list takes no directory or --template")}
				}
				writeTemplateList(stdout)
				return nil
			}
			t, ok := findTemplate(tmpl)
			if !ok {
				return unknownTemplate(tmpl)
			}
			dir := specPath(args)
			files, err := scaffold(t)
			if err != nil {
				return err
			}
			if err := writeScaffold(dir, files); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Wrote the %s template (%s) to %s:\n", t.name, t.title, dir)
			for _, f := range files {
				fmt.Fprintf(stdout, "  %s\n", filepath.Join(dir, filepath.FromSlash(f.path)))
			}
			in := ""
			if filepath.Clean(dir) != "." {
				in = " " + dir
			}
			fmt.Fprintf(stdout, "\nNext:\n  ouro validate%s\n  ouro run%s\n  ouro show latest", in, in)
			if in != "" {
				fmt.Fprintf(stdout, " --spec%s", in)
			}
			fmt.Fprintln(stdout)
			return nil
		},
	}
	cmd.Flags().StringVarP(&tmpl, "template", "t", defaultTemplate, "the paper example to start from (ouro init --list)")
	cmd.Flags().BoolVar(&list, "list", false, "list the templates")
	var choices []string
	for _, t := range initTemplates {
		choices = append(choices, cobra.CompletionWithDesc(t.name, t.title))
	}
	mustComplete(cmd, "template", completeChoices(choices...))
	return cmd
}
