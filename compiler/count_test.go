package compiler_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ouroloop/ouro/compiler"
)

const countSpec = `
variable "n" {
  type    = number
  default = 12
}

locals {
  lrs = { small = 0.1, big = 1 }
}

dataset "d" {
  rows   = [{ x = 1 }, { x = 2 }]
  schema = object({ x = number })
}

model "m" {
  count    = 2
  provider = "builtin"
  seed     = count.index + 1
}

stage "map" "seeded" {
  count  = var.n
  input  = dataset.d
  fields = { y = item.x * count.index }
}

stage "filter" "by_lr" {
  for_each = local.lrs
  input    = stage.seeded[1]
  where    = item.y > each.value
}

loop "l" {
  rounds = 2
  state  = { best = 0 }

  stage "filter" "kept" {
    count = 3
    input = stage.seeded[count.index]
    where = item.y > state.best + round + count.index
  }

  stage "concat" "all" {
    inputs = stage.kept[*]
  }

  next = { best = state.best + length(stage.kept[*]) }
}

output "sizes" {
  value = [for s in stage.seeded : s]
}
`

func TestCountPlan(t *testing.T) {
	src := countSpec
	res, diags := compileSource(t, []byte(src), "count.loop.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p := res.Plan
	for _, a := range []string{"model.m[0]", "model.m[1]", "stage.seeded[11]", `stage.by_lr["big"]`, `stage.by_lr["small"]`,
		"loop.l[0].stage.kept[2]", "loop.l[1].stage.kept[0]", "loop.l[1].stage.kept", "loop.l[1].stage.all"} {
		if p.Node(a) == nil {
			t.Errorf("no node %s", a)
		}
	}
	g := p.Node("stage.seeded")
	if g == nil || g.Kind != compiler.KindGroup || len(g.Members) != 12 || g.Members[10] != "stage.seeded[10]" || g.Members[2] != "stage.seeded[2]" {
		t.Fatalf("group stage.seeded: %+v", g)
	}
	if n := p.Node("stage.seeded[7]"); n.Instance == nil || n.Instance.Index != 7 || n.Instance.Key != "[7]" || n.Name != "seeded" {
		t.Errorf("stage.seeded[7]: %+v", n.Instance)
	}
	if n := p.Node(`stage.by_lr["small"]`); n.Instance == nil || n.Instance.EachKey != "small" || string(n.Instance.EachValue.Value) != "0.1" {
		t.Errorf(`stage.by_lr["small"]: %+v`, n.Instance)
	}
	if n := p.Node("loop.l[1].stage.all"); !slices.Contains(n.Deps, "loop.l[1].stage.kept") {
		t.Errorf("loop.l[1].stage.all deps %v", n.Deps)
	}
	if n := p.Node("loop.l[1].stage.kept"); n.Kind != compiler.KindGroup || n.Members[0] != "loop.l[1].stage.kept[0]" || n.Gate != "loop.l[0].until" && n.Gate != "" {
		t.Errorf("loop.l[1].stage.kept: %+v", n)
	}
	// A count above the plan's node limit is refused before expansion.
	big := strings.Replace(src, "default = 12", fmt.Sprintf("default = %d", compiler.MaxPlanNodes+1), 1)
	if _, d := compileSource(t, []byte(big), "big.loop.hcl"); !d.HasErrors() || !strings.Contains(d.Error(), "Invalid count") {
		t.Errorf("count above MaxPlanNodes: %v", d)
	}
}

// TestCountZero: a block with count = 0 has no instances; its group is the
// empty tuple, and its body is still checked.
func TestCountZero(t *testing.T) {
	src := strings.Replace(countSpec, "count    = 2\n  provider", "count    = 0\n  provider", 1)
	res, diags := compileSource(t, []byte(src), "zero.loop.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if g := res.Plan.Node("model.m"); g == nil || len(g.Members) != 0 || res.Plan.Node("model.m[0]") != nil {
		t.Fatalf("model.m: %+v", g)
	}
	bad := strings.Replace(src, "seed     = count.index + 1", "seed     = count.index + 1\n  layerz = 2", 1)
	if _, d := compileSource(t, []byte(bad), "zero.loop.hcl"); !strings.Contains(d.Error(), "layerz") {
		t.Errorf("count = 0 body not checked: %v", d)
	}
}
