package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ouroloop/ouro/bench/noop"
)

// TestPinKeepsThroughGC: a pinned run's results survive `cache gc --keep 1`
// after a newer run; once unpinned they are collected and recomputed.
func TestPinKeepsThroughGC(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "p.loop.hcl")
	v1 := string(noop.Ouro(3))
	if !strings.Contains(v1, "item.score + 2") {
		t.Fatalf("unexpected generated spec:\n%s", v1)
	}
	v2 := strings.Replace(v1, "item.score + 2", "item.score + 5", 1)
	cli := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("ouro %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
		}
		return out.String()
	}
	runSpec := func(src string) (id string, ran int, pinned bool) {
		t.Helper()
		if err := os.WriteFile(spec, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		var rec struct {
			RunID  string `json:"run_id"`
			Pinned bool   `json:"pinned"`
			Stages []struct {
				Status string `json:"status"`
			} `json:"stages"`
		}
		if err := json.Unmarshal([]byte(cli("run", "--json", "--progress=none", spec)), &rec); err != nil {
			t.Fatal(err)
		}
		for _, s := range rec.Stages {
			if s.Status == "ran" {
				ran++
			}
		}
		return rec.RunID, ran, rec.Pinned
	}
	r1, ran, pinned := runSpec(v1)
	if ran != 3 || pinned {
		t.Fatalf("first run: %d ran, pinned %v", ran, pinned)
	}
	if _, ran, _ := runSpec(v2); ran != 1 {
		t.Fatalf("changed map: %d ran, want 1", ran)
	}
	if out := cli("pin", r1[:len(r1)-2], "--spec", dir); !strings.Contains(out, "Pinned run "+r1) {
		t.Errorf("pin: %q", out)
	}
	var shown struct {
		Pinned bool `json:"pinned"`
	}
	if err := json.Unmarshal([]byte(cli("show", r1, "--spec", dir, "--json")), &shown); err != nil || !shown.Pinned {
		t.Errorf("show after pin: pinned %v, %v", shown.Pinned, err)
	}
	cli("cache", "gc", "--keep", "1", "--spec", dir)
	if _, ran, _ := runSpec(v1); ran != 0 {
		t.Errorf("after gc, pinned run's results: %d ran, want 0", ran)
	}
	if out := cli("unpin", r1, "--spec", dir); !strings.Contains(out, "Unpinned run "+r1) {
		t.Errorf("unpin: %q", out)
	}
	if _, ran, _ := runSpec(v2); ran != 0 {
		t.Errorf("v2 again: %d ran, want 0", ran)
	}
	cli("cache", "gc", "--keep", "1", "--spec", dir)
	if _, ran, _ := runSpec(v1); ran != 1 {
		t.Errorf("after unpin and gc: %d ran, want 1", ran)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"pin", "nosuchrun", "--spec", dir}, &out, &errb); code == 0 {
		t.Errorf("pin of an unknown run succeeded: %s", out.String())
	}
}
