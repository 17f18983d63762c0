package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime/store"
)

// RemoteStage is what a worker machine receives to run one stage: the plan,
// the stage's address and key, and its dependencies' values as EncodeValue
// gives them. It is everything Run knew when it decided to run the stage.
type RemoteStage struct {
	Plan    *compiler.Plan
	Address string
	Key     string
	Deps    map[string]json.RawMessage
	SpecDir string
}

// RemoteEnv is the worker's side of a remote stage: its operator library,
// function table, blob store (the shared object store), per-request memo
// and progress counter.
type RemoteEnv struct {
	Library   Library
	Functions map[string]function.Function
	Blobs     store.BlobStore
	Memo      Memo
	Progress  Progress
	Log       *slog.Logger
}

// RemoteResult is a remote stage's outcome: its value (EncodeValue form),
// the blobs that value references (already in the blob store) and the
// record's counters.
type RemoteResult struct {
	Result   json.RawMessage
	Blobs    []string
	Counts   map[string]int64
	Warnings []string
	Servers  map[string]*store.ServerStats
	Duration time.Duration
}

// ErrKeyMismatch is returned (wrapped) by ExecuteRemote when the worker
// computes another key for the stage than the coordinator did: the two run
// different operator implementations, and the result could not be cached
// under the coordinator's key.
var ErrKeyMismatch = fmt.Errorf("stage key mismatch")

// ExecuteRemote prepares and runs one stage of a plan, the way Run does in
// the coordinating process, but with the dependencies' values given and the
// blobs, memo and progress of a worker. It never touches a store's index.
func ExecuteRemote(ctx context.Context, rs *RemoteStage, env RemoteEnv) (*RemoteResult, error) {
	var n *compiler.Node
	for _, pn := range rs.Plan.Nodes {
		if pn.Address == rs.Address {
			n = pn
		}
	}
	if n == nil || n.Kind != compiler.KindStage {
		return nil, fmt.Errorf("plan has no stage %s", rs.Address)
	}
	op, ok := env.Library.Operator(n.Operator)
	if !ok {
		return nil, fmt.Errorf("%s: operator %q is not registered on this worker", n.Address, n.Operator)
	}
	sig, ok := env.Library.Signatures().Operator(n.Operator)
	if !ok {
		return nil, fmt.Errorf("%s: no signature for operator %q on this worker", n.Address, n.Operator)
	}
	log := env.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	scratch, err := os.MkdirTemp("", "ouro-scratch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	r := &run{plan: rs.Plan, log: log, states: map[string]*nodeState{}, lms: map[string]LM{}, forced: map[string]bool{},
		files: map[string]string{}, blobs: env.Blobs, memo: env.Memo,
		opts: Options{Library: env.Library, Functions: env.Functions, SpecDir: rs.SpecDir, Log: log}}
	r.env = &Env{Blobs: env.Blobs, SpecDir: rs.SpecDir, Scratch: scratch, Log: log}
	if r.vars, err = planVariables(rs.Plan); err != nil {
		return nil, err
	}
	byAddr := map[string]*compiler.Node{}
	for _, pn := range rs.Plan.Nodes {
		byAddr[pn.Address] = pn
	}
	for _, d := range n.Deps {
		dn := byAddr[d]
		raw, ok := rs.Deps[d]
		if dn == nil || !ok {
			return nil, fmt.Errorf("%s: the value of its input %s was not sent", n.Address, d)
		}
		t, err := compiler.UnmarshalType(dn.Type)
		if err != nil {
			return nil, err
		}
		v, err := DecodeValue(raw, t)
		if err != nil {
			return nil, fmt.Errorf("%s: decoding input %s: %w", n.Address, d, err)
		}
		r.states[d] = &nodeState{node: dn, status: statusDone, value: v}
	}
	p, err := r.prepare(n, sig, op.Name(), op.Version())
	if err != nil {
		return nil, err
	}
	if p.key != rs.Key {
		return nil, fmt.Errorf("%s: %w: the worker computes %s, the coordinator %s (do both run the same ouro?)", n.Address, ErrKeyMismatch, p.key, rs.Key)
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	x := p.exec
	ctr := &Counter{}
	r.bindExec(x, ctr)
	if env.Progress != nil {
		x.Progress = env.Progress
	}
	start := time.Now()
	v, err := op.Run(ctx, x)
	if err != nil {
		return nil, err
	}
	if t, terr := compiler.UnmarshalType(n.Type); terr == nil && t != cty.DynamicPseudoType && !compiler.IsModelType(t) && !compiler.IsDatasetType(t) {
		if cv, cerr := convert.Convert(v, t); cerr == nil {
			v = cv
		}
	}
	enc, err := EncodeValue(v)
	if err != nil {
		return nil, fmt.Errorf("encoding result: %w", err)
	}
	return &RemoteResult{Result: enc, Blobs: referencedBlobs(v), Counts: x.Counts, Warnings: x.Warnings, Servers: x.Servers, Duration: time.Since(start)}, nil
}
