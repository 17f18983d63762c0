package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ouroloop/ouro/examples"
)

// TestInitTemplatesCoverExamples: one template per paper folder of
// examples/, sorted (the --list order), the default among them.
func TestInitTemplatesCoverExamples(t *testing.T) {
	var want []string
	for _, d := range exampleDirs(t) {
		want = append(want, filepath.Base(d))
	}
	slices.Sort(want)
	if got := templateNames(); !slices.Equal(got, want) {
		t.Errorf("templates %v, want the example folders %v", got, want)
	}
	if !slices.IsSorted(templateNames()) {
		t.Errorf("templates not sorted: %v", templateNames())
	}
	if _, ok := findTemplate(defaultTemplate); !ok {
		t.Errorf("default template %q missing", defaultTemplate)
	}
	for _, tm := range initTemplates {
		if tm.title == "" || tm.paper == "" || tm.about == "" || strings.Contains(tm.about, "\n") || len(tm.quick) == 0 {
			t.Errorf("template %s: title, paper, a one-line about and quick variables are required", tm.name)
		}
	}
}

// TestInitEmbedsNoStore: the embedded examples hold specs, data, one
// .gitignore and the trainer, never a store (.ouro), a run's output or any
// other dot file, README or generator.
func TestInitEmbedsNoStore(t *testing.T) {
	n := 0
	err := fs.WalkDir(examples.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for _, el := range strings.Split(p, "/") {
			if el == ".ouro" || el == "out" {
				t.Errorf("embedded %s", p)
			}
		}
		if d.IsDir() {
			return nil
		}
		n++
		base := path.Base(p)
		top, rest, _ := strings.Cut(p, "/")
		switch {
		case top == "trainers":
			if p != "trainers/trl_sft.py" {
				t.Errorf("embedded %s", p)
			}
		case top == "modules":
			if name, file, ok := strings.Cut(rest, "/"); !ok || name == "" || strings.Contains(file, "/") || !strings.HasSuffix(file, ".loop.hcl") {
				t.Errorf("embedded %s: not a module's spec (modules/<name>/*.loop.hcl)", p)
			}
		case base == ".gitignore":
			if strings.Contains(rest, "/") {
				t.Errorf("embedded %s", p)
			}
		case strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_"):
			t.Errorf("embedded dot file %s", p)
		case strings.HasSuffix(p, ".loop.hcl") && !strings.Contains(rest, "/"):
		case strings.HasPrefix(rest, "data/"):
		default:
			t.Errorf("embedded %s: neither a spec, data nor a .gitignore", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("nothing embedded")
	}
}

// TestInitEmbedsTrackedFiles: go:embed reads the disk, so a file left in
// an example's data/ would be embedded; every embedded file must be one
// git tracks, and every tracked spec and data file must be either
// embedded or generated (examples.Generated), not both. That a generated
// file has the tracked bytes is examples' TestGeneratedMatchesCommitted.
func TestInitEmbedsTrackedFiles(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	out, err := exec.Command("git", "-C", "../../examples", "ls-files", "--full-name", ".").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	var tracked []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		rel := strings.TrimPrefix(l, "examples/")
		top, rest, ok := strings.Cut(rel, "/")
		if !ok {
			continue
		}
		if name, file, ok := strings.Cut(rest, "/"); top == "modules" && ok && name != "" && !strings.Contains(file, "/") && strings.HasSuffix(file, ".loop.hcl") {
			tracked = append(tracked, rel)
			continue
		}
		if _, isTemplate := findTemplate(top); isTemplate &&
			(strings.HasPrefix(rest, "data/") || rest == ".gitignore" || (strings.HasSuffix(rest, ".loop.hcl") && !strings.Contains(rest, "/"))) {
			tracked = append(tracked, rel)
		}
	}
	tracked = append(tracked, "trainers/trl_sft.py")
	var embedded []string
	err = fs.WalkDir(examples.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			embedded = append(embedded, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var generated []string
	for _, tm := range initTemplates {
		for _, g := range examples.Generated(tm.name) {
			generated = append(generated, tm.name+"/"+g.Path)
		}
	}
	if len(generated) == 0 {
		t.Error("no template has generated files (self_improving_transformers should)")
	}
	for _, p := range embedded {
		if !slices.Contains(tracked, p) {
			t.Errorf("embedded %s, which git does not track (a local file in an example folder?)", p)
		}
		if slices.Contains(generated, p) {
			t.Errorf("%s is both embedded and generated (examples/embed.go's patterns)", p)
		}
	}
	for _, p := range generated {
		if !slices.Contains(tracked, p) {
			t.Errorf("generated %s, which git does not track", p)
		}
	}
	for _, p := range tracked {
		if !slices.Contains(embedded, p) && !slices.Contains(generated, p) {
			t.Errorf("examples/%s is tracked but neither embedded nor generated (examples/embed.go)", p)
		}
	}
}

var sourceAttr = regexp.MustCompile(`(?m)^\s*source\s*=\s*"([^"]+)"`)

// TestInitEveryTemplateValidates scaffolds every template into a fresh
// directory and validates it as the README stub says (default variables,
// the stub's quick variables, and the cluster configuration where the
// spec has one). The scaffold refers to nothing outside itself: the
// datasets the spec reads are there, byte for byte the example's, and no
// path leaves the folder.
func TestInitEveryTemplateValidates(t *testing.T) {
	for _, tm := range initTemplates {
		t.Run(tm.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "new", "loop")
			var stdout, stderr bytes.Buffer
			if code := run([]string{"init", dir, "-template", tm.name}, &stdout, &stderr); code != 0 {
				t.Fatalf("init: exit %d\n%s", code, stderr.String())
			}
			for _, f := range []string{"README.md", ".gitignore"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Error(err)
				}
			}
			ignore, _ := os.ReadFile(filepath.Join(dir, ".gitignore"))
			if !slices.Contains(strings.Split(string(ignore), "\n"), ".ouro/") {
				t.Errorf(".gitignore %q lacks .ouro/", ignore)
			}
			readme, _ := os.ReadFile(filepath.Join(dir, "README.md"))
			if !strings.Contains(string(readme), "ouro run "+strings.Join(tm.quick, " ")) {
				t.Errorf("README.md does not show the quick run:\n%s", readme)
			}
			specs, _ := filepath.Glob(filepath.Join(dir, "*.loop.hcl"))
			if len(specs) == 0 {
				t.Fatal("no spec written")
			}
			for _, s := range specs {
				src, err := os.ReadFile(s)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(src, []byte(`"../`)) {
					t.Errorf("%s refers outside its folder", s)
				}
				trainers, _ := filepath.Glob(filepath.Join(dir, "trainers", "*"))
				for _, tr := range trainers {
					if old := "examples/trainers/" + filepath.Base(tr); bytes.Contains(src, []byte(old)) {
						t.Errorf("%s still names %s, which the scaffold has as trainers/%s", s, old, filepath.Base(tr))
					}
				}
				for _, m := range sourceAttr.FindAllSubmatch(src, -1) {
					rel := string(m[1])
					if mod, ok := strings.CutPrefix(rel, "./modules/"); ok {
						// A module's source: its folder, file for file.
						want, _ := filepath.Glob(filepath.Join("../../examples/modules", mod, "*.loop.hcl"))
						got, _ := filepath.Glob(filepath.Join(dir, "modules", mod, "*"))
						if len(want) == 0 || len(got) != len(want) {
							t.Errorf("module %s: scaffold has %d files, examples/modules/%s %d", rel, len(got), mod, len(want))
						}
						for _, w := range want {
							wb, _ := os.ReadFile(w)
							gb, err := os.ReadFile(filepath.Join(dir, "modules", mod, filepath.Base(w)))
							if err != nil || !bytes.Equal(gb, wb) {
								t.Errorf("module file %s differs from %s (%v)", filepath.Base(w), w, err)
							}
						}
						continue
					}
					got, err := os.ReadFile(filepath.Join(dir, rel))
					if err != nil {
						t.Errorf("dataset source %s: %v", rel, err)
						continue
					}
					want, err := os.ReadFile(filepath.Join("../../examples", tm.name, rel))
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Errorf("%s differs from examples/%s/%s", rel, tm.name, rel)
					}
				}
			}
			validate := func(extra ...string) {
				t.Helper()
				var stdout, stderr bytes.Buffer
				args := append([]string{"validate", dir}, extra...)
				if code := run(args, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "The spec is valid") {
					t.Errorf("ouro %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
				}
				if stderr.Len() > 0 {
					t.Errorf("ouro %s: diagnostics\n%s", strings.Join(args, " "), stderr.String())
				}
			}
			validate()
			validate(tm.quick...)
			if declaresVariable(t, dir, "scale") {
				args := []string{"-var", "scale=cluster"}
				if declaresVariable(t, dir, "trainer") {
					args = append(args, "-var", "trainer=command")
				}
				validate(args...)
			}
		})
	}
}

// TestInitRunsDefaultTemplate: `ouro init` then `ouro run` (the stub's
// quick variables) in the new folder, through the real CLI: the run
// succeeds, its store is the folder's .ouro (which the .gitignore
// covers), it writes nothing else there, and `ouro show latest` finds it.
func TestInitRunsDefaultTemplate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and trains a model")
	}
	bin := buildOuro(t)
	dir := filepath.Join(t.TempDir(), "myloop")
	ouroCmd(t, bin, "init", dir)
	tm, _ := findTemplate(defaultTemplate)
	before := listFiles(t, dir)
	out := ouroCmd(t, bin, append([]string{"run", dir, "--json", "--progress=none"}, tm.quick...)...)
	var r runOut
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("bad --json output: %v\n%s", err, out)
	}
	if r.Status != "ok" || len(r.Outputs) == 0 {
		t.Fatalf("status %s, outputs %v", r.Status, r.Outputs)
	}
	for _, s := range r.Stages {
		if s.Status != "ran" && s.Status != "skipped" {
			t.Errorf("%s %s, want ran", s.Address, s.Status)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".ouro", "index")); err != nil {
		t.Errorf("no store beside the spec: %v", err)
	}
	if after := listFiles(t, dir); after != before {
		t.Errorf("the run wrote outside .ouro:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	show := string(ouroCmd(t, bin, "show", "latest", "--spec", dir))
	if !strings.Contains(show, "(ok)") || !strings.Contains(show, "Outputs:") {
		t.Errorf("ouro show latest:\n%s", show)
	}
}

// TestInitRefusesConflicts: when any file init would write exists — or
// a folder it needs is a file — it lists them and writes nothing.
func TestInitRefusesConflicts(t *testing.T) {
	tm, _ := findTemplate("star")
	files, err := scaffold(tm)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		setup map[string]string // path → content
		want  []string
	}{
		{"one file", map[string]string{"data/seed.jsonl": "mine\n", "notes.txt": "x"}, []string{"data/seed.jsonl"}},
		{"two files", map[string]string{".gitignore": "bin/\n", "README.md": "# mine\n"}, []string{".gitignore", "README.md"}},
		{"folder is a file", map[string]string{"data": "not a folder"}, []string{"data"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for p, c := range tc.setup {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			before := listFiles(t, dir)
			err := writeScaffold(dir, files)
			if err == nil {
				t.Fatal("no error")
			}
			var want []string
			for _, w := range tc.want {
				want = append(want, filepath.Join(dir, w))
			}
			if got := conflicts(dir, files); !slices.Equal(got, want) {
				t.Errorf("conflicts %v, want %v", got, want)
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
			if after := listFiles(t, dir); after != before {
				t.Errorf("files changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
	t.Run("target is a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := writeScaffold(f, files); err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Errorf("err %v", err)
		}
	})
}

func TestNearestTemplate(t *testing.T) {
	for in, want := range map[string]string{
		"stra": "star", "STAR": "star", "self-refine": "self_refine", "selfrefine": "self_refine",
		"rest-em": "rest_em", "self_rew": "self_rewarding", "bestofn": "best_of_n",
		"zzz": "", "": "", "transformer": "",
	} {
		if got := nearestTemplate(in); got != want {
			t.Errorf("nearestTemplate(%q) = %q, want %q", in, got, want)
		}
	}
}
