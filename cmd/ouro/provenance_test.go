package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ouroloop/ouro/runtime/store"
)

const provenanceSpec = `variable "n" {
  type    = number
  default = 2
}

model "policy" {
  provider = "builtin"
}

dataset "d" {
  rows   = [{ q = "1+1" }, { q = "2+2" }]
  schema = object({ q = string })
}

stage "generate" "g" {
  model   = model.policy
  input   = dataset.d
  prompt  = "Q: ${item.q}\nA:"
  samples = var.n
}
`

// gitIn runs git in dir with a fixed identity and returns its output.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// runAndShow runs the spec folder with args and returns `ouro show --json
// latest` decoded into a run record, and `ouro runs` and `ouro show`.
func runAndShow(t *testing.T, dir string, args ...string) (rec store.RunRecord, runs, show string) {
	t.Helper()
	cliOK(t, append([]string{"run", "--progress=none", dir}, args...)...)
	var out, errb bytes.Buffer
	if code := run([]string{"show", "--json", "--store", filepath.Join(dir, ".ouro"), "latest"}, &out, &errb); code != 0 {
		t.Fatalf("show: exit %d: %s", code, errb.String())
	}
	var j struct {
		Variables        map[string]json.RawMessage `json:"variables"`
		ChangedVariables []string                   `json:"changed_variables"`
		Provenance       *store.Provenance          `json:"provenance"`
		Stages           []store.StageRun           `json:"stages"`
	}
	if err := json.Unmarshal(out.Bytes(), &j); err != nil {
		t.Fatalf("show --json: %v\n%s", err, out.String())
	}
	rec = store.RunRecord{Variables: j.Variables, ChangedVariables: j.ChangedVariables, Provenance: j.Provenance, Stages: j.Stages}
	out.Reset()
	if code := run([]string{"runs", "--store", filepath.Join(dir, ".ouro")}, &out, &errb); code != 0 {
		t.Fatalf("runs: exit %d: %s", code, errb.String())
	}
	runs = out.String()
	out.Reset()
	if code := run([]string{"show", "--store", filepath.Join(dir, ".ouro"), "latest"}, &out, &errb); code != 0 {
		t.Fatalf("show: exit %d: %s", code, errb.String())
	}
	return rec, runs, out.String()
}

// TestProvenance: a run records the command line, the binary and machine,
// the variables set, the models it produced, and the git state of its
// spec's work tree (commit, branch, dirty, a digest of the spec folder's
// changes); `ouro runs` and `ouro show` print them. The store beside the
// spec does not make a tree dirty; outside a repository there is no git
// state and no error.
func TestProvenance(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git binary")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "loops", "a")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(dir, "a.loop.hcl")
	if err := os.WriteFile(spec, []byte(provenanceSpec), 0o644); err != nil {
		t.Fatal(err)
	}

	// Outside a work tree (unless the temp dir is in one).
	if exec.Command("git", "-C", root, "rev-parse").Run() != nil {
		rec, _, show := runAndShow(t, dir)
		p := rec.Provenance
		if p == nil || p.Git != nil || !filepath.IsAbs(p.SpecPath) {
			t.Fatalf("outside git: provenance %+v", p)
		}
		if !strings.Contains(show, "Commit: none (the spec is not in a git work tree)") {
			t.Fatalf("show outside git:\n%s", show)
		}
	}

	gitIn(t, root, "init", "-q", "-b", "main")
	gitIn(t, root, "add", "loops/a/a.loop.hcl")
	gitIn(t, root, "commit", "-q", "-m", "first")
	head := gitIn(t, root, "rev-parse", "HEAD")

	rec, runs, show := runAndShow(t, dir, "-var", "n=3", "-j", "1")
	p := rec.Provenance
	if p == nil || p.Git == nil {
		t.Fatalf("in git: provenance %+v", p)
	}
	if p.Git.Commit != head || p.Git.Branch != "main" || p.Git.Dirty || p.Git.DiffDigest != "" {
		t.Errorf("git state %+v, want commit %s on main, clean (the untracked store does not count)", *p.Git, head)
	}
	if p.SpecPath != "loops/a" || p.Jobs != 1 || p.Executor != "local" || p.Ouro != Version || p.Go == "" || p.Cores == 0 {
		t.Errorf("provenance %+v", *p)
	}
	if want := []string{"ouro", "run", "--progress=none", dir, "-var", "n=3", "-j", "1"}; strings.Join(p.Command, " ") != strings.Join(want, " ") {
		t.Errorf("command %q, want %q", p.Command, want)
	}
	if strings.Join(rec.ChangedVariables, ",") != "n" || string(rec.Variables["n"]) != "3" {
		t.Errorf("variables %s, changed %v", rec.Variables, rec.ChangedVariables)
	}
	if !regexp.MustCompile(`(?m)\s` + head[:7] + `\s+n=3$`).MatchString(runs) {
		t.Errorf("ouro runs does not show commit %s and n=3:\n%s", head[:7], runs)
	}
	var model *store.ModelInfo
	for _, s := range rec.Stages {
		if s.Address == "model.policy" {
			model = s.Model
		}
	}
	if model == nil || model.Provider != "builtin" || !strings.HasPrefix(model.Digest, "sha256:") {
		t.Fatalf("model.policy's model: %+v", model)
	}
	for _, want := range []string{
		"Variables: n = 3 (set)\n",
		"Commit " + head + " on main\n",
		"Spec loops/a\n",
		"\nModels:\n  model.policy  builtin  " + model.Digest + "\n",
	} {
		if !strings.Contains(show, want) {
			t.Errorf("ouro show lacks %q:\n%s", want, show)
		}
	}

	// A variable set to its default is not a change.
	rec, runs, _ = runAndShow(t, dir, "-var", "n=2")
	if len(rec.ChangedVariables) != 0 || !regexp.MustCompile(`(?m)\s`+head[:7]+`\s+-$`).MatchString(runs) {
		t.Errorf("n=2 (the default): changed %v\n%s", rec.ChangedVariables, runs)
	}

	// A change outside the spec's folder: dirty, no digest of the folder.
	if err := os.WriteFile(filepath.Join(root, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec, runs, _ = runAndShow(t, dir)
	if g := rec.Provenance.Git; !g.Dirty || g.DiffDigest != "" {
		t.Errorf("untracked file at the root: %+v", *g)
	}
	if !strings.Contains(runs, head[:7]+"*") {
		t.Errorf("ouro runs does not mark the dirty tree:\n%s", runs)
	}

	// A change in the spec's folder: a digest, the same for the same
	// change, another for another.
	if err := os.WriteFile(spec, []byte(provenanceSpec+"# edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	first, _, show := runAndShow(t, dir)
	again, _, _ := runAndShow(t, dir)
	d := first.Provenance.Git.DiffDigest
	if !strings.HasPrefix(d, "sha256:") || again.Provenance.Git.DiffDigest != d {
		t.Errorf("digests of one change: %q then %q", d, again.Provenance.Git.DiffDigest)
	}
	if !strings.Contains(show, "work tree dirty (spec folder changes "+strings.TrimPrefix(d, "sha256:")[:12]+")") {
		t.Errorf("ouro show of a dirty spec folder:\n%s", show)
	}
	if err := os.WriteFile(filepath.Join(dir, "new.jsonl"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	other, _, _ := runAndShow(t, dir)
	if other.Provenance.Git.DiffDigest == d {
		t.Error("a new untracked file in the spec folder left the digest unchanged")
	}
}
