package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ouroloop/ouro/runtime/store"
)

const completionSpec = `dataset "q" {
  rows   = [{ x = 1 }, { x = 2 }, { x = 3 }]
  schema = object({ x = number })
}

loop "l" {
  rounds = 2

  stage "filter" "big" {
    input = dataset.q
    where = item.x > round
  }
}
`

// complete runs `ouro __complete args…` in-process and returns the
// candidates (without descriptions), the descriptions by candidate, the
// directive line and stderr.
func complete(t *testing.T, args ...string) (words []string, descs map[string]string, directive, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(append([]string{"__complete"}, args...), &out, &errb); code != 0 {
		t.Fatalf("ouro __complete %q: exit %d\n%s%s", args, code, out.String(), errb.String())
	}
	descs = map[string]string{}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, l := range lines[:len(lines)-1] {
		w, d, _ := strings.Cut(l, "\t")
		words = append(words, w)
		descs[w] = d
	}
	return words, descs, lines[len(lines)-1], errb.String()
}

// TestCompletion: run ids for show, diff, pin and unpin (newest first,
// then latest~N; a run recorded read-only in runs.pending included; from
// --spec, -spec or --store; through the query socket while a run holds the
// store; nothing and no error without a store), stage names and addresses
// for run --force/--from (with the spec's variables), fixed flag values,
// templates, doc names, and spec paths.
func TestCompletion(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "c.loop.hcl")
	if err := os.WriteFile(spec, []byte(completionSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	// Three runs: the first creates the store, the second caches every
	// stage (and records a no-op summary), the third is the no-op fast
	// path, whose record waits in runs.pending.
	var ids []string
	for range 3 {
		var j struct {
			RunID string `json:"run_id"`
		}
		if err := json.Unmarshal([]byte(ouroOut(t, 0, "run", "--progress=none", "--json", spec)), &j); err != nil {
			t.Fatal(err)
		}
		ids = append([]string{j.RunID}, ids...) // newest first
	}
	if _, err := os.Stat(filepath.Join(dir, ".ouro", "runs.pending")); err != nil {
		t.Fatalf("the third run recorded no pending run: %v", err)
	}
	runWords := append(slices.Clone(ids), "latest", "latest~1", "latest~2")
	stages := []string{"q", "big", "dataset.q", "loop.l[0].stage.big", "loop.l[1].stage.big"}
	empty := t.TempDir()

	const (
		noFile    = ":4"
		fileExt   = ":8"
		dirs      = ":16"
		keepOrder = ":36" // NoFileComp | KeepOrder
	)
	for _, tc := range []struct {
		name      string
		args      []string
		want      []string
		directive string
	}{
		{"show", []string{"show", "--spec", spec, ""}, runWords, keepOrder},
		{"show spec dir", []string{"show", "--spec", dir, ""}, runWords, keepOrder},
		{"show -spec", []string{"show", "-spec", spec, ""}, runWords, keepOrder},
		{"show --store", []string{"show", "--store", filepath.Join(dir, ".ouro"), ""}, runWords, keepOrder},
		{"show prefix", []string{"show", "--spec", spec, "latest~"}, []string{"latest~1", "latest~2"}, keepOrder},
		{"show id prefix", []string{"show", "--spec", spec, ids[2][:len(ids[2])-3]}, ids[2:], keepOrder},
		{"show one arg", []string{"show", "--spec", spec, "latest", ""}, nil, noFile},
		{"diff first", []string{"diff", "--spec", spec, ""}, runWords, keepOrder},
		{"diff second", []string{"diff", "--spec", spec, "latest", ""}, runWords, keepOrder},
		{"diff third", []string{"diff", "--spec", spec, "latest", "latest~1", ""}, nil, noFile},
		{"pin", []string{"pin", "--spec", spec, ""}, runWords, keepOrder},
		{"unpin", []string{"unpin", "--spec", spec, ""}, runWords, keepOrder},
		{"no store", []string{"show", "--spec", empty, ""}, nil, keepOrder},
		{"no store dir", []string{"pin", "--store", filepath.Join(empty, "nowhere"), ""}, nil, keepOrder},

		{"force", []string{"run", spec, "--force", ""}, stages, keepOrder},
		{"-force", []string{"run", spec, "-force", "loop."}, stages[3:], keepOrder},
		{"force twice", []string{"run", spec, "--force", "big", "--force", "d"}, []string{"dataset.q"}, keepOrder},
		{"from", []string{"run", spec, "--from", "b"}, []string{"big"}, keepOrder},
		{"from=", []string{"run", spec, "--from=loop.l[1"}, []string{"loop.l[1].stage.big"}, keepOrder},
		{"force, spec with errors", []string{"run", filepath.Join(empty, "missing.loop.hcl"), "--force", ""}, nil, noFile},
		{"force, unknown variable", []string{"run", spec, "-var", "nope=1", "--force", ""}, nil, noFile},

		{"progress", []string{"run", "--progress", ""}, []string{"auto", "plain", "bars", "none"}, keepOrder},
		{"-progress=", []string{"run", "-progress=b"}, []string{"bars"}, keepOrder},
		{"graph format", []string{"graph", "--format", ""}, []string{"dot", "mermaid"}, keepOrder},
		{"executor", []string{"run", "--executor", ""}, []string{"local", "temporal"}, keepOrder},
		{"template", []string{"init", "--template", ""}, templateNames(), keepOrder},
		{"template -t", []string{"init", "-t", "self_r"}, []string{"self_refine", "self_rewarding"}, keepOrder},

		{"run path", []string{"run", ""}, []string{"loop.hcl"}, fileExt},
		{"run second path", []string{"run", spec, ""}, nil, noFile},
		{"validate path", []string{"validate", ""}, []string{"loop.hcl"}, fileExt},
		{"runs path", []string{"runs", ""}, []string{"loop.hcl"}, fileExt},
		{"--spec path", []string{"show", "--spec", ""}, []string{"loop.hcl"}, fileExt},
		{"--store dir", []string{"show", "--store", ""}, nil, dirs},
		{"init dir", []string{"init", ""}, nil, dirs},
		{"doc", []string{"doc", "extract_"}, []string{"extract_int", "extract_json", "extract_number"}, noFile},
		{"doc second", []string{"doc", "filter", ""}, nil, noFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			words, _, directive, stderr := complete(t, tc.args...)
			if !slices.Equal(words, tc.want) || directive != tc.directive {
				t.Errorf("ouro __complete %q:\n got %q %s\nwant %q %s", tc.args, words, directive, tc.want, tc.directive)
			}
			// cobra's own debug line is all a completion writes to stderr.
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "Completion ended with directive:") {
				t.Errorf("stderr:\n%s", stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(empty, ".ouro")); err == nil {
		t.Error("completing in a directory without a store created one")
	}

	// Descriptions: latest~N says which run it is; a loop stage's name
	// matches every round, its address one.
	_, descs, _, _ := complete(t, "show", "--spec", spec, "")
	if descs["latest~1"] != ids[1] || !strings.HasPrefix(descs[ids[0]], "ok, started ") {
		t.Errorf("run descriptions: %q", descs)
	}
	_, descs, _, _ = complete(t, "run", spec, "--force", "")
	if descs["big"] != "filter, every round of loop l" || descs["loop.l[1].stage.big"] != "filter, round 1" {
		t.Errorf("stage descriptions: %q", descs)
	}

	// More rounds through -var: the completion compiles with the command
	// line's variables.
	if err := os.WriteFile(spec, []byte(strings.Replace(completionSpec, "rounds = 2", "rounds = var.rounds", 1)+
		"variable \"rounds\" {\n  type    = number\n  default = 1\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if words, _, _, _ := complete(t, "run", spec, "-var", "rounds=3", "--force", "loop."); len(words) != 3 || words[2] != "loop.l[2].stage.big" {
		t.Errorf("with -var rounds=3: %q", words)
	}

	// While a run holds the store, the runs come from it (store.Querier).
	st, err := store.Open(filepath.Join(dir, ".ouro"), store.Options{Command: "ouro run"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stop, err := st.ServeQueries()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if words, _, directive, _ := complete(t, "show", "--spec", spec, ""); !slices.Equal(words, runWords) || directive != keepOrder {
		t.Errorf("with the store held: %q %s, want %q", words, directive, runWords)
	}
}

// TestCompletionScripts: `ouro completion bash|zsh|fish` print their
// scripts; bash, when there is one, sources the script, names its function
// in `complete -p ouro`, and completes `ouro show ` and `ouro run --progress `
// by calling the ouro on PATH (the test binary, see TestMain).
func TestCompletionScripts(t *testing.T) {
	marks := map[string]string{"bash": "__start_ouro", "zsh": "#compdef ouro", "fish": "complete -c ouro"}
	scripts := map[string]string{}
	for shell, mark := range marks {
		out := ouroOut(t, 0, "completion", shell)
		if !strings.Contains(out, mark) || !strings.Contains(out, "__complete") {
			t.Errorf("ouro completion %s lacks %q or __complete:\n%.300s", shell, mark, out)
		}
		scripts[shell] = out
	}
	if help := ouroOut(t, 0, "--help"); !strings.Contains(help, "completion") {
		t.Errorf("ouro --help does not list completion:\n%s", help)
	}

	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "c.loop.hcl"), []byte(completionSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	cliOK(t, "run", "--progress=none", dir)
	script := filepath.Join(t.TempDir(), "ouro.bash")
	if err := os.WriteFile(script, []byte(scripts["bash"]), 0o644); err != nil {
		t.Fatal(err)
	}
	// The script needs bash-completion's _get_comp_words_by_ref; where the
	// package is missing, a minimal one (no word splitting at = or :).
	const prog = `
for f in /usr/share/bash-completion/bash_completion /etc/bash_completion; do
  [ -r "$f" ] && . "$f" && break
done
if ! declare -F _get_comp_words_by_ref >/dev/null; then
  _get_comp_words_by_ref() { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
fi
source "$1" || exit 1
complete -p ouro
compopt() { :; } # it works only while readline completes
try() {
  COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  __start_ouro ouro "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
  echo "$* => ${COMPREPLY[*]}"
}
try ouro show lat
try ouro run --progress ""
`
	cmd := exec.Command(bash, "-c", prog, "bash", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	for _, want := range []string{
		"complete -o default -F __start_ouro ouro\n",
		"ouro show lat => latest\n",
		"ouro run --progress  => auto plain bars none\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("bash output lacks %q:\n%s", want, out)
		}
	}
}
