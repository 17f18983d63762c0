package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const diffSpec = `variable "temperature" {
  type    = number
  default = 1.0
}

variable "rounds" {
  type    = number
  default = 2
}

dataset "q" {
  rows   = [{ question = "2+3", answer = 5 }, { question = "4+4", answer = 8 }]
  schema = object({ question = string, answer = number })
}

model "policy" {
  provider = "builtin"
  seed     = 1
}

loop "n" {
  rounds = var.rounds

  stage "generate" "paths" {
    model       = model.policy
    input       = dataset.q
    prompt      = "Q: ${item.question}\nA:"
    samples     = 2
    temperature = var.temperature
    max_tokens  = 6
    stop        = ["\n"]
  }

  stage "extract" "answers" {
    input       = stage.paths
    from        = item.completion
    pattern     = "{answer:int}"
    on_mismatch = "null"
  }

  stage "evaluate" "accuracy" {
    model      = model.policy
    input      = stage.answers
    prompt     = "Q: ${item.question}\nA:"
    max_tokens = 6
    stop       = ["\n"]
    score      = try(item.parsed.answer == item.answer, false)
    metrics = {
      round = round
      acc   = fraction(scores)
    }
  }
}
`

func ouroOut(t *testing.T, wantCode int, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(args, &out, &errb); code != wantCode {
		t.Fatalf("ouro %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, out.String(), errb.String())
	}
	return out.String() + errb.String()
}

// TestDiff: two runs of one spec with another temperature and one more
// round: diff names the variables, says which stages' keys changed and
// why (a parameter for generate, its input for extract, the same key
// cached for the model), lists the metrics per round with deltas and the
// round only in B, and --exit-code and --json follow the documented rules.
func TestDiff(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "d.loop.hcl"), []byte(diffSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	st := filepath.Join(dir, ".ouro")
	cliOK(t, "run", "--progress=none", dir)
	cliOK(t, "run", "--progress=none", dir, "-var", "temperature=0.5", "-var", "rounds=3")

	text := ouroOut(t, 0, "diff", "--store", st, "latest~1", "latest")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^Variables:\n  rounds\s+2\s+→ 3\n  temperature\s+1\s+→ 0.5\n`),
		regexp.MustCompile(`(?m)^  loop\.n\[0\]\.stage\.paths\s+ran\s+ran\s+params changed: temperature$`),
		regexp.MustCompile(`(?m)^  loop\.n\[0\]\.stage\.answers\s+ran\s+ran\s+input changed: input$`),
		regexp.MustCompile(`(?m)^  loop\.n\[2\]\.stage\.paths\s+-\s+ran\s+only in B$`),
		regexp.MustCompile(`(?m)^  model\.policy\s+ran\s+cached\s+same key: B took A's result`),
		regexp.MustCompile(`(?m)^  loop\.n\.stage\.accuracy\s+round\s+2\s+-\s+2\s*$`),
		regexp.MustCompile(`(?m)^  loop\.n\.stage\.accuracy\s+round\s+1\s+1\s+1\s+\+0$`),
	} {
		if !want.MatchString(text) {
			t.Errorf("diff lacks %s:\n%s", want, text)
		}
	}
	// The evaluate stage reads the generate stage's model too: its key
	// changed through its input only.
	if !regexp.MustCompile(`(?m)^  loop\.n\[1\]\.stage\.accuracy\s+ran\s+ran\s+input changed: input$`).MatchString(text) {
		t.Errorf("evaluate's reason:\n%s", text)
	}

	var j runDiff
	if err := json.Unmarshal([]byte(ouroOut(t, 1, "diff", "--json", "--exit-code", "--store", st, "latest~1", "latest")), &j); err != nil {
		t.Fatal(err)
	}
	if !j.Differ || len(j.Variables) != 2 || j.Same != 0 || len(j.Stages) != 11 {
		t.Errorf("--json: differ %v, %d variables, %d same stages, %d that differ", j.Differ, len(j.Variables), j.Same, len(j.Stages))
	}
	for _, s := range j.Stages {
		if s.Address == "loop.n[0].stage.paths" && s.Changed["temperature"] != "parameter" {
			t.Errorf("paths changed parts %v", s.Changed)
		}
		if s.Address == "loop.n[0].stage.answers" && s.Changed["input"] != "input" {
			t.Errorf("answers changed parts %v", s.Changed)
		}
	}

	// A run against itself (and a no-op re-run against the run it
	// repeats) agree.
	if out := ouroOut(t, 0, "diff", "--exit-code", "--store", st, "latest", "latest"); !strings.Contains(out, "Stages: 0 differ") {
		t.Errorf("self diff:\n%s", out)
	}
	cliOK(t, "run", "--progress=none", dir, "-var", "temperature=0.5", "-var", "rounds=3")
	ouroOut(t, 0, "diff", "--exit-code", "--store", st, "latest~1", "latest")

	// Trouble: an unknown run names the nearest ids; with --exit-code it
	// exits 2.
	out := ouroOut(t, 1, "diff", "--store", st, "latest", "2025")
	if !strings.Contains(out, `run "2025": not found; the nearest: 2026`) {
		t.Errorf("unknown run:\n%s", out)
	}
	ouroOut(t, 2, "diff", "--exit-code", "--store", st, "latest", "nope")
	ouroOut(t, 2, "diff", "--store", st, "latest")
}
