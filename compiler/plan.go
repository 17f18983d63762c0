package compiler

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/hashicorp/hcl/v2"
)

// FormatVersion is the version of the serialised Plan. Bump it whenever the
// encoding or the meaning of a field changes: stores key cached work by the
// plan's content, and a reader refuses plans of another version.
const FormatVersion = 5

// NodeKind says what a plan node computes.
type NodeKind string

const (
	KindLocal   NodeKind = "local"   // a local value: one expression
	KindModel   NodeKind = "model"   // a model block: provider + arguments
	KindDataset NodeKind = "dataset" // a dataset block: the `dataset` operator
	KindStage   NodeKind = "stage"   // a stage: an operator + arguments
	KindState   NodeKind = "state"   // a loop's state for one round (round 0: `state`; later: previous round's `next`)
	KindUntil   NodeKind = "until"   // a loop's stop rule, evaluated after one round
	KindLoop    NodeKind = "loop"    // a loop's result: its executed rounds and final state
	KindOutput  NodeKind = "output"  // an output value
	// KindGroup stands for every instance of a repeated model, dataset or
	// stage (`count`, `for_each`): for count its value is the tuple of its
	// Members' values, for for_each the object of them keyed by each.key.
	KindGroup NodeKind = "group"
	// KindVariable is a module's variable (module.m.var.x): the caller's
	// argument, or the variable's default, converted to its type.
	KindVariable NodeKind = "variable"
	// KindModule is a module instance (module.m): the object of its
	// outputs, which its Expr assembles.
	KindModule NodeKind = "module"
)

// Plan is the compiled, type-checked, unrolled form of a spec: an immutable
// DAG of nodes in topological order. It holds expression sources (not
// evaluated values) so the runtime re-parses and evaluates them with real
// inputs; it never holds secrets. Plans serialise to JSON with Encode.
type Plan struct {
	FormatVersion int    `json:"format_version"`
	SpecDigest    string `json:"spec_digest"`
	// Files lists the spec's files with their contents' digests, sorted.
	Files []PlanFile `json:"files"`
	// Variables holds every input variable's final value (typed JSON).
	Variables map[string]TypedValue `json:"variables"`
	Seed      int64                 `json:"seed"`
	// Nodes are in a deterministic topological order: every node comes
	// after all of its dependencies, ties broken by source position.
	Nodes   []*Node     `json:"nodes"`
	Loops   []*LoopInfo `json:"loops,omitempty"`
	Outputs []string    `json:"outputs,omitempty"` // output node addresses, in source order

	index map[string]*Node
}

// PlanFile records one file of the spec.
type PlanFile struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
}

// TypedValue is a value with its type, encoded with cty's JSON encoding.
type TypedValue struct {
	Type  json.RawMessage `json:"type"`
	Value json.RawMessage `json:"value"`
	// Changed is set on a variable given a value (-var, -var-file) other
	// than its default.
	Changed bool `json:"changed,omitempty"`
}

// Node is one unit of work in the plan.
type Node struct {
	Address  string   `json:"address"` // "stage.x", "loop.l[2].stage.x", "loop.l[2].state", "output.o", …
	Kind     NodeKind `json:"kind"`
	Name     string   `json:"name"`
	Operator string   `json:"operator,omitempty"` // stages and datasets
	Provider string   `json:"provider,omitempty"` // models
	Loop     string   `json:"loop,omitempty"`
	Round    int      `json:"round"` // -1 outside loops
	// Params are the arguments of stages, datasets and models, sorted by
	// name; Expr is the single expression of locals, states, untils and
	// outputs.
	Params []*ParamExpr `json:"params,omitempty"`
	Expr   *Expr        `json:"expr,omitempty"`
	Deps   []string     `json:"deps,omitempty"` // sorted addresses
	// Gate is the `until` node of the previous round: when it evaluates to
	// true the loop has stopped and this node does not run (state nodes
	// still evaluate, to give the loop's final state).
	Gate string `json:"gate,omitempty"`
	// Queue is the task queue a distributed run sends the stage to
	// (`resources { queue }`; empty: the default queue). Not in any key.
	Queue string `json:"queue,omitempty"`
	// Instance is set on each instance of a repeated block: its key, and
	// what count.index or each.key and each.value are in its expressions.
	Instance *Instance `json:"instance,omitempty"`
	// SeedAddress, when set, is the address the node's seed (and so its
	// cache key) is derived from instead of Address: where a `moved` block
	// says the stage was declared before an edit. See SeedAddr.
	SeedAddress string `json:"seed_address,omitempty"`
	// Members are a group's instances in key order (Deps are sorted as
	// strings, where x[10] comes before x[2]); ForEach says they are keyed
	// by for_each, so the group's value is an object, not a tuple.
	Members []string `json:"members,omitempty"`
	ForEach bool     `json:"for_each,omitempty"`
	// Module is the module instance declaring the node ("module.eval",
	// "module.a.module.b"), empty in the root spec. The node's seed comes
	// from its address inside the module (Address without Module and the
	// dot), so a module's cache keys do not depend on how it is called.
	Module string `json:"module,omitempty"`
	// Dir is that module's folder relative to the spec's, slash-separated:
	// file arguments (source, checkpoint) are relative to it.
	Dir string `json:"dir,omitempty"`
	// Type is the type of the node's value (MarshalType encoding).
	Type      json.RawMessage `json:"type"`
	DeclRange hcl.Range       `json:"range"`
}

// SeedAddr is the address the node's seed is derived from: SeedAddress
// when a moved block set it, Address otherwise.
func (n *Node) SeedAddr() string {
	if n.SeedAddress != "" {
		return n.SeedAddress
	}
	return n.Address
}

// Instance identifies one instance of a repeated block. Its address is the
// block's followed by Key: stage.s[1], loop.l[2].stage.s["a"].
type Instance struct {
	Key   string `json:"key"`   // [1] or ["a"]
	Index int    `json:"index"` // count.index; for for_each, the position in key order
	// EachKey and EachValue are each.key and each.value (for_each only).
	EachKey   string      `json:"each_key,omitempty"`
	EachValue *TypedValue `json:"each_value,omitempty"`
}

// ParamExpr is one argument of a node.
type ParamExpr struct {
	Name string `json:"name"`
	Mode string `json:"mode"` // value | per-item | pattern | type
	Expr *Expr  `json:"expr"`
}

// Expr is an expression as written in the spec, with what its references
// resolve to in this node's scope.
type Expr struct {
	Source     string    `json:"source"`     // exact source text
	Normalized string    `json:"normalized"` // tokens joined by single spaces, comments dropped: the cache-key form
	Range      hcl.Range `json:"range"`      // re-parse at Range.Start to keep diagnostics exact
	// Refs maps each reference prefix used in the expression ("stage.tune",
	// "var.rounds", "state", "loop.star") to the address of the node whose
	// value it reads. `round` and per-item names are not listed.
	Refs map[string]string `json:"refs,omitempty"`
	// Type is the expression's result type (per record, for per-item ones).
	Type json.RawMessage `json:"type,omitempty"`
}

// LoopInfo describes one unrolled loop.
type LoopInfo struct {
	Name   string     `json:"name"`
	Rounds int        `json:"rounds"`
	Stages []string   `json:"stages"` // stage names in source order
	Round  []RoundIDs `json:"round"`  // per round
	// FinalState is the state node after the last round (the `next` of the
	// last round); empty when the loop has no state.
	FinalState string    `json:"final_state,omitempty"`
	DeclRange  hcl.Range `json:"range"`
}

// RoundIDs are the addresses of one round's nodes.
type RoundIDs struct {
	State string `json:"state,omitempty"`
	Until string `json:"until,omitempty"`
	// Stages are the round's stage and module-instance addresses in
	// topological order; for a repeated stage or module, its instances and
	// its group. (A loop module's own objects are in the plan's nodes with
	// the round's Loop and Round, read through the module's instance.)
	Stages []string `json:"stages"`
}

// Node returns the node with the given address, or nil.
func (p *Plan) Node(addr string) *Node {
	if p.index == nil {
		p.index = make(map[string]*Node, len(p.Nodes))
		for _, n := range p.Nodes {
			p.index[n.Address] = n
		}
	}
	return p.index[addr]
}

// Param returns the named parameter of a node, or nil.
func (n *Node) Param(name string) *ParamExpr {
	for _, p := range n.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Encode writes the plan as indented JSON.
func (p *Plan) Encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// DecodePlan reads a plan written by Encode, refusing other format versions.
func DecodePlan(r io.Reader) (*Plan, error) {
	var p Plan
	if err := json.NewDecoder(r).Decode(&p); err != nil {
		return nil, fmt.Errorf("decoding plan: %w", err)
	}
	if p.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("plan format version %d is not supported (this ouro reads version %d)", p.FormatVersion, FormatVersion)
	}
	return &p, nil
}
