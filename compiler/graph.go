package compiler

import (
	"fmt"
	"sort"
	"strings"
)

// Graph is the template dependency graph of a spec: one node per declared
// object (loops not unrolled, a loop's parts grouped under it), edges from
// each object to what it reads. It exists even when the spec has errors, so
// `ouro graph` can draw a cycle.
type Graph struct {
	Nodes []GraphNode
	Edges []GraphEdge // sorted by (From, To)
}

// GraphNode is one object of the spec.
type GraphNode struct {
	ID    string // template address, e.g. "stage.parsed", "loop.star.stage.tune"
	Label string // "parsed (extract)"
	Kind  string // local | model | dataset | stage | state | next | until | rounds | loop | output | group
	Loop  string // enclosing loop, "" at top level
}

// GraphEdge says From reads To.
type GraphEdge struct {
	From, To string
	Cycle    bool // the edge is part of a dependency cycle
}

var kindNames = map[nodeKind]string{
	tLocal: "local", tModel: "model", tDataset: "dataset", tStage: "stage", tRounds: "rounds",
	tInit: "init", tState: "state", tNext: "next", tUntil: "until", tLoop: "loop", tOutput: "output", tGroup: "group",
	tVar: "variable", tModule: "module",
}

func (c *compiler) graph() *Graph {
	g := &Graph{}
	for _, n := range c.order {
		if n.kind == tInit || n.kind == tRounds {
			continue
		}
		label := n.name
		if n.inst != nil {
			label += n.inst.key
		}
		switch n.kind {
		case tStage:
			label = fmt.Sprintf("%s (%s)", label, n.op)
		case tModel:
			label = "model " + label
			if n.op != "" {
				label += " (" + n.op + ")"
			}
		case tDataset:
			label = "dataset " + label
		case tLocal:
			label = "local " + n.name
		case tOutput:
			label = "output " + n.name
		case tState, tNext, tUntil:
			label = kindNames[n.kind]
		case tLoop:
			label = "loop " + n.name
		case tVar:
			label = "var " + n.name
		case tModule:
			label = "module " + label
		case tGroup:
			label = n.name + "[*]"
			if n.memberKind == tModel || n.memberKind == tDataset || n.memberKind == tModule {
				label = kindNames[n.memberKind] + " " + label
			}
		}
		loop := ""
		if n.loop != nil && n.kind != tLoop {
			loop = n.loop.Name
		} else if n.unroll != nil {
			loop = n.unroll.Name // a loop module's own objects
		}
		g.Nodes = append(g.Nodes, GraphNode{ID: n.addr, Label: label, Kind: kindNames[n.kind], Loop: loop})
	}
	shown := map[string]bool{}
	for _, gn := range g.Nodes {
		shown[gn.ID] = true
	}
	// A loop's state reads its round-0 value: draw the edges of the init
	// node from the state node, and skip the internal loop-result edges.
	// A repeated block's group is drawn as one node between its instances
	// and what reads it: expanding those edges would draw count² of them
	// for a chain of counted blocks.
	alias := func(n *tnode) *tnode {
		if n.kind == tInit {
			return c.nodes["loop."+n.name+".state"]
		}
		return n
	}
	seen := map[[2]string]bool{}
	for _, n := range c.order {
		from := alias(n)
		if from == nil || !shown[from.addr] || n.kind == tLoop {
			continue
		}
		for _, d := range n.deps {
			to := alias(d)
			if to == nil || to == from || !shown[to.addr] {
				continue
			}
			k := [2]string{from.addr, to.addr}
			if seen[k] {
				continue
			}
			seen[k] = true
			g.Edges = append(g.Edges, GraphEdge{From: from.addr, To: to.addr, Cycle: c.cycleEdges[[2]string{n.addr, d.addr}]})
		}
	}
	sort.Slice(g.Nodes, func(i, j int) bool { return g.Nodes[i].ID < g.Nodes[j].ID })
	sort.Slice(g.Edges, func(i, j int) bool {
		if g.Edges[i].From != g.Edges[j].From {
			return g.Edges[i].From < g.Edges[j].From
		}
		return g.Edges[i].To < g.Edges[j].To
	})
	return g
}

// DOT renders the graph in Graphviz syntax: nodes and edges sorted, loops
// as clusters, cycle edges red. Edges point from an object to what it
// reads... reversed here so arrows follow the data: To -> From.
func (g *Graph) DOT() string {
	var b strings.Builder
	b.WriteString("digraph ouro {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n")
	loops := map[string][]GraphNode{}
	var loopNames []string
	for _, n := range g.Nodes {
		if n.Loop != "" {
			if loops[n.Loop] == nil {
				loopNames = append(loopNames, n.Loop)
			}
			loops[n.Loop] = append(loops[n.Loop], n)
			continue
		}
		fmt.Fprintf(&b, "  %q [label=%q%s];\n", n.ID, n.Label, dotShape(n.Kind))
	}
	sort.Strings(loopNames)
	for _, l := range loopNames {
		fmt.Fprintf(&b, "  subgraph %q {\n    label=%q;\n    style=rounded;\n", "cluster_"+l, "loop "+l)
		for _, n := range loops[l] {
			fmt.Fprintf(&b, "    %q [label=%q%s];\n", n.ID, n.Label, dotShape(n.Kind))
		}
		b.WriteString("  }\n")
	}
	for _, e := range g.Edges {
		attr := ""
		if e.Cycle {
			attr = " [color=red, penwidth=2]"
		}
		fmt.Fprintf(&b, "  %q -> %q%s;\n", e.To, e.From, attr)
	}
	b.WriteString("}\n")
	return b.String()
}

func dotShape(kind string) string {
	switch kind {
	case "dataset":
		return ", shape=cylinder"
	case "model":
		return ", shape=component"
	case "output":
		return ", shape=note"
	case "state", "next", "until", "local":
		return ", shape=ellipse"
	case "group":
		return ", shape=box3d"
	case "loop":
		return ", shape=doubleoctagon"
	}
	return ""
}

// Mermaid renders the graph as a Mermaid flowchart, sorted like DOT.
func (g *Graph) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	ids := map[string]string{}
	for i, n := range g.Nodes {
		ids[n.ID] = fmt.Sprintf("n%d", i)
	}
	loops := map[string][]GraphNode{}
	var loopNames []string
	for _, n := range g.Nodes {
		if n.Loop != "" {
			if loops[n.Loop] == nil {
				loopNames = append(loopNames, n.Loop)
			}
			loops[n.Loop] = append(loops[n.Loop], n)
			continue
		}
		fmt.Fprintf(&b, "  %s[%s]\n", ids[n.ID], mermaidQuote(n.Label))
	}
	sort.Strings(loopNames)
	for _, l := range loopNames {
		fmt.Fprintf(&b, "  subgraph loop_%s [\"loop %s\"]\n", l, l)
		for _, n := range loops[l] {
			fmt.Fprintf(&b, "    %s[%s]\n", ids[n.ID], mermaidQuote(n.Label))
		}
		b.WriteString("  end\n")
	}
	var red []int
	for i, e := range g.Edges {
		fmt.Fprintf(&b, "  %s --> %s\n", ids[e.To], ids[e.From])
		if e.Cycle {
			red = append(red, i)
		}
	}
	for _, i := range red {
		fmt.Fprintf(&b, "  linkStyle %d stroke:red,stroke-width:2px\n", i)
	}
	return b.String()
}

// mermaidQuote quotes a node label for Mermaid, which knows no backslash
// escapes: a quote (in an instance key, f["a"]) is the entity #quot;.
func mermaidQuote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, "#quot;") + `"`
}
