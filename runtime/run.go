package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime/store"
)

// StageRunner runs one prepared stage. The local runner calls the operator
// in-process; a distributed engine (Temporal activities on worker machines
// reading blobs from an object store, package runtime/scaleout) takes its
// place, while the Badger index stays with the coordinating process: a
// runner returns the stage's value, and the runtime writes the entry.
//
// Datasets, models and stages whose operator writes files outside the store
// (FileWriter) always run in the coordinating process: they read and write
// the spec's own files.
type StageRunner interface {
	RunStage(ctx context.Context, t *StageTask) (cty.Value, error)
}

// StageTask is one stage to run. With the plan, the node's address and the
// values of its dependencies, a remote worker prepares the very same stage
// again (ExecuteRemote) and checks that it computes the same key.
type StageTask struct {
	Plan *compiler.Plan
	Node *compiler.Node
	// Key is the stage's cache key.
	Key string
	Op  Operator
	// Exec is the stage prepared for running in this process.
	Exec *Exec
	// Deps holds the value of every node in Node.Deps, by address.
	Deps map[string]cty.Value
	// SpecDir is the spec's directory (absolute).
	SpecDir string
}

// LocalRunner runs stages in this process.
type LocalRunner struct{}

// RunStage implements StageRunner.
func (LocalRunner) RunStage(ctx context.Context, t *StageTask) (cty.Value, error) {
	return t.Op.Run(ctx, t.Exec)
}

// Options configure a run.
type Options struct {
	Store     *store.Store
	Library   Library
	Functions map[string]function.Function
	Runner    StageRunner // default LocalRunner
	// Parallelism bounds the stages running at once (default: cores).
	Parallelism int
	SpecDir     string
	// Force re-runs these stages (names like "tune" match every round;
	// addresses like "loop.star[1].stage.tune" match one).
	Force []string
	// From re-runs this stage and everything downstream of it.
	From string
	// DryRun decides what would run without running anything (`ouro plan`).
	DryRun bool
	Log    *slog.Logger
	// Events, when set, receives a line-oriented account of the run.
	Events func(Event)
	// RecordEvery is how often the stored run record is brought up to date
	// with the stages settled so far while the run goes on (default 1s),
	// so `ouro runs` of a run killed mid-way shows what it finished.
	RecordEvery time.Duration
	// Provenance, when set, is stored in the run record (what produced
	// the run: command line, binary, git state).
	Provenance *store.Provenance
}

// Event reports a node's progress.
type Event struct {
	Address  string
	Kind     compiler.NodeKind
	Status   string // running | ran | cached | failed | skipped | will-run
	Reason   string
	Duration time.Duration
	Err      error
	// Progress is the item counter of a stage that starts running
	// (Status "running"): item-level operators report to it, and a
	// progress view reads it while the stage runs.
	Progress *Counter
	// Warnings are what a stage that ran (Status "ran") told the user.
	Warnings []string
	// Records is the size of the output of a stage that ran (Status
	// "ran") when its value is a dataset; HasRecords says it is one.
	Records    int64
	HasRecords bool
}

// Counter is a stage's item-level progress, safe for concurrent use: the
// operator calls SetTotal and Add (the Progress interface), a view reads
// Done and Total.
type Counter struct {
	done, total atomic.Int64
}

// SetTotal sets how many items the stage will process (0: unknown).
func (c *Counter) SetTotal(n int64) { c.total.Store(n) }

// Add records n more finished items.
func (c *Counter) Add(n int64) { c.done.Add(n) }

// Done is the number of finished items.
func (c *Counter) Done() int64 { return c.done.Load() }

// Total is the expected number of items, 0 if unknown.
func (c *Counter) Total() int64 { return c.total.Load() }

// Statuses of a node.
const (
	statusPending = iota
	statusDone
	statusFailed
	statusSkipped
)

type nodeState struct {
	node   *compiler.Node
	status int
	value  cty.Value
	err    error
	reason string // why it ran / was skipped
	run    store.StageRun
	waits  int
	users  []*nodeState
	stop   bool // until nodes: the loop stopped here
	// release gives back the node's parallelism slot (nil if it holds
	// none; idempotent). runStage calls it before storing the entry.
	release func()
}

type run struct {
	plan   *compiler.Plan
	opts   Options
	vars   map[string]cty.Value
	env    *Env
	log    *slog.Logger
	mu     sync.Mutex
	states map[string]*nodeState
	record *store.RunRecord
	lms    map[string]LM
	lmMu   sync.Mutex
	forced map[string]bool

	// computing holds the cache keys some node of this run is computing
	// now; a node with the same key (two module instances given the same
	// arguments) waits for it and takes its entry from the store.
	computingMu sync.Mutex
	computing   map[string]chan struct{}
	blobs       store.BlobStore // where stages read and write blobs
	memo        Memo            // the per-request memo

	startOnce sync.Once // writes the "running" record before the first stage runs
	startErr  error
	started   atomic.Bool // the "running" record is stored

	settledMu sync.Mutex
	settled   map[string]store.StageRun // stages that ran, were cached or failed, by address
	unsaved   bool                      // settled has changed since the record was last stored
	// settledMetrics holds the metrics of the settled stages that have
	// them, so a record read during the run shows them too.
	settledMetrics map[string]json.RawMessage

	filesMu     sync.Mutex
	files       map[string]string // source/checkpoint pattern -> FileDigest
	outputFiles []string          // FileWriter files
}

func (r *run) state(addr string) *nodeState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.states[addr]
}

// Result is what a run produced.
type Result struct {
	Record *store.RunRecord
	// Explain holds, for DryRun, each stage's decision and reason.
	Explain []Event
	Outputs map[string]cty.Value
	// Files maps every `source` or `checkpoint` path or glob whose files
	// went into a stage key to their FileDigest: with the plan and the
	// store, they decide every key of the run.
	Files map[string]string
	// OutputFiles are the files the run's stages write outside the store
	// (FileWriter), as the spec gives them, sorted.
	OutputFiles []string
}

// Run executes a plan. It returns the run record (also stored) even when
// stages failed; the error is non-nil if any stage failed or the run was
// cancelled.
func Run(ctx context.Context, plan *compiler.Plan, opts Options) (*Result, error) {
	if opts.Runner == nil {
		opts.Runner = LocalRunner{}
	}
	if opts.Parallelism <= 0 {
		opts.Parallelism = runtime.NumCPU()
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &run{plan: plan, opts: opts, log: opts.Log, states: map[string]*nodeState{}, lms: map[string]LM{}, forced: map[string]bool{},
		files: map[string]string{}, settled: map[string]store.StageRun{}, settledMetrics: map[string]json.RawMessage{}}
	scratch, err := os.MkdirTemp("", "ouro-scratch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	r.blobs, r.memo = opts.Store.Blobs(), opts.Store.Memo()
	r.env = &Env{Blobs: r.blobs, SpecDir: opts.SpecDir, Scratch: scratch, Log: opts.Log}
	if r.vars, err = planVariables(plan); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	r.record = &store.RunRecord{ID: store.NewRunID(now), Started: now, SpecDigest: plan.SpecDigest,
		Variables: map[string]json.RawMessage{}, Metrics: map[string]json.RawMessage{}, Outputs: map[string]json.RawMessage{}, Status: "running"}
	r.record.PID = os.Getpid()
	r.record.Host, _ = os.Hostname()
	r.record.Provenance = opts.Provenance
	r.record.PlanFormat = plan.FormatVersion
	for name, tv := range plan.Variables {
		r.record.Variables[name] = tv.Value
		if tv.Changed {
			r.record.ChangedVariables = append(r.record.ChangedVariables, name)
		}
	}
	sort.Strings(r.record.ChangedVariables)
	for _, n := range plan.Nodes {
		r.states[n.Address] = &nodeState{node: n, run: store.StageRun{Name: n.Name, Address: n.Address, Round: n.Round}}
	}
	for _, n := range plan.Nodes {
		s := r.states[n.Address]
		for _, d := range n.Deps {
			ds := r.states[d]
			if ds == nil {
				return nil, fmt.Errorf("plan node %s depends on unknown node %s", n.Address, d)
			}
			s.waits++
			ds.users = append(ds.users, s)
		}
	}
	r.markForced()
	res := &Result{Outputs: map[string]cty.Value{}}
	stopRecording := r.keepRecord()
	r.execute(ctx)
	stopRecording()

	// The record, in plan order.
	failed := false
	for _, n := range plan.Nodes {
		s := r.states[n.Address]
		switch n.Kind {
		case compiler.KindStage, compiler.KindDataset, compiler.KindModel:
		default:
			if s.status == statusFailed {
				failed = true
				s.run.Status = "failed"
				r.record.Stages = append(r.record.Stages, s.run)
			}
			continue
		}
		if s.run.Status == "" {
			s.run.Status = "skipped"
		}
		if s.status == statusFailed {
			failed = true
		}
		if opts.DryRun {
			res.Explain = append(res.Explain, Event{Address: n.Address, Kind: n.Kind, Status: s.run.Status, Reason: s.reason})
		}
		if s.status == statusDone {
			if ref := producedModel(s.value); ref != nil {
				s.run.Model = &store.ModelInfo{Provider: ref.Provider, Digest: ref.Digest}
			}
		}
		r.record.Stages = append(r.record.Stages, s.run)
		if s.status == statusDone && s.value.Type().IsObjectType() && s.value.Type().HasAttribute("metrics") {
			if j, err := EncodeValue(s.value.GetAttr("metrics")); err == nil {
				r.record.Metrics[n.Address] = j
			}
		}
	}
	for _, o := range plan.Outputs {
		s := r.states[o]
		if s.status == statusDone {
			res.Outputs[s.node.Name] = s.value
			if j, err := EncodeValue(s.value); err == nil {
				r.record.Outputs[s.node.Name] = j
			}
		}
	}
	r.record.Finished = time.Now().UTC()
	r.record.Status = "ok"
	var runErr error
	if failed {
		r.record.Status = "failed"
		runErr = r.firstError()
	}
	if ctx.Err() != nil {
		r.record.Status = "cancelled"
		runErr = ctx.Err()
	}
	if !opts.DryRun {
		if err := opts.Store.PutRun(r.record); err != nil && runErr == nil {
			runErr = err
		}
	}
	res.Record = r.record
	res.Files = r.files
	res.OutputFiles = r.outputFiles
	sort.Strings(res.OutputFiles)
	return res, runErr
}

// noteOutputFile records a file a stage writes outside the store.
func (r *run) noteOutputFile(f string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.outputFiles {
		if g == f {
			return
		}
	}
	r.outputFiles = append(r.outputFiles, f)
}

// resolve makes a path from the spec relative to the spec's directory.
func (r *run) resolve(f string) string {
	if filepath.IsAbs(f) || r.env == nil {
		return f
	}
	return filepath.Join(r.env.SpecDir, f)
}

// StageError is a failed node with its address.
type StageError struct {
	Address string
	Err     error
}

func (e *StageError) Error() string {
	msg := e.Err.Error()
	if strings.HasPrefix(msg, e.Address+":") {
		return msg // the operator already named the stage
	}
	return e.Address + ": " + msg
}
func (e *StageError) Unwrap() error { return e.Err }

// FailedError lists every failed node of a run.
type FailedError struct{ Stages []*StageError }

func (e *FailedError) Error() string {
	var parts []string
	for _, s := range e.Stages {
		parts = append(parts, s.Error())
	}
	return fmt.Sprintf("%d stage(s) failed:\n  %s", len(e.Stages), strings.Join(parts, "\n  "))
}

func (r *run) firstError() error {
	fe := &FailedError{}
	for _, n := range r.plan.Nodes {
		s := r.states[n.Address]
		if s.status == statusFailed && s.err != nil {
			fe.Stages = append(fe.Stages, &StageError{Address: n.Address, Err: s.err})
		}
	}
	if len(fe.Stages) == 0 {
		return errors.New("run failed")
	}
	return fe
}

func (r *run) markForced() {
	match := func(n *compiler.Node, sel string) bool {
		if sel == n.Address || sel == n.Name || sel == "stage."+n.Name {
			return true
		}
		// One instance of a repeated stage in every round: stage.s[1], s[1].
		return n.Instance != nil && (sel == "stage."+n.Name+n.Instance.Key || sel == n.Name+n.Instance.Key)
	}
	for _, n := range r.plan.Nodes {
		for _, f := range r.opts.Force {
			if match(n, f) {
				r.forced[n.Address] = true
			}
		}
	}
	if r.opts.From == "" {
		return
	}
	var mark func(s *nodeState)
	mark = func(s *nodeState) {
		if r.forced[s.node.Address] {
			return
		}
		r.forced[s.node.Address] = true
		for _, u := range s.users {
			mark(u)
		}
	}
	for _, n := range r.plan.Nodes {
		if match(n, r.opts.From) {
			mark(r.states[n.Address])
		}
	}
}

// execute schedules nodes as their dependencies finish. Cheap nodes
// (expressions) run inline; stages run on up to Parallelism goroutines.
func (r *run) execute(ctx context.Context) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, r.opts.Parallelism)
	var schedule func(s *nodeState)
	finish := func(s *nodeState) {
		r.mu.Lock()
		var ready []*nodeState
		for _, u := range s.users {
			u.waits--
			if u.waits == 0 {
				ready = append(ready, u)
			}
		}
		r.mu.Unlock()
		for _, u := range ready {
			schedule(u)
		}
	}
	schedule = func(s *nodeState) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			heavy := s.node.Kind == compiler.KindStage || s.node.Kind == compiler.KindDataset || s.node.Kind == compiler.KindModel
			if heavy {
				select {
				case sem <- struct{}{}:
					held := true
					s.release = func() {
						if held {
							held = false
							<-sem
						}
					}
				case <-ctx.Done():
				}
			}
			r.step(ctx, s)
			if heavy {
				r.settle(s)
				if s.release != nil {
					s.release()
				}
			}
			finish(s)
		}()
	}
	var roots []*nodeState
	for _, n := range r.plan.Nodes {
		if s := r.states[n.Address]; s.waits == 0 {
			roots = append(roots, s)
		}
	}
	for _, s := range roots {
		schedule(s)
	}
	wg.Wait()
}

func (r *run) emit(ev Event) {
	if r.opts.Events != nil {
		r.mu.Lock()
		r.opts.Events(ev)
		r.mu.Unlock()
	}
}

// step decides and runs one node whose dependencies are all settled.
func (r *run) step(ctx context.Context, s *nodeState) {
	n := s.node
	if (n.Kind == compiler.KindModel || n.Kind == compiler.KindDataset) && unused(s) {
		// A model or dataset nothing reads (say, one used only in another
		// configuration of the spec) is not loaded.
		s.status, s.reason = statusSkipped, "not used"
		s.run.Status = "skipped"
		return
	}
	if r.opts.DryRun {
		for _, d := range n.Deps {
			if ds := r.state(d); ds.run.Status == "will-run" {
				s.status, s.reason = statusSkipped, "upstream "+d+" will run"
				s.run.Status = "will-run"
				if ds.node.Kind != compiler.KindStage && ds.node.Kind != compiler.KindDataset && ds.node.Kind != compiler.KindModel {
					s.reason = ds.reason
				}
				if n.Kind == compiler.KindStage || n.Kind == compiler.KindDataset || n.Kind == compiler.KindModel {
					r.emit(Event{Address: n.Address, Kind: n.Kind, Status: "will-run", Reason: s.reason})
				}
				return
			}
		}
	}
	// Skip when an input failed or was skipped, or the loop stopped.
	for _, d := range n.Deps {
		ds := r.state(d)
		if ds.status == statusFailed || ds.status == statusSkipped {
			if n.Kind == compiler.KindLoop && ds.status == statusSkipped && ds.reason == "loop stopped" {
				continue
			}
			s.status, s.reason = statusSkipped, "upstream "+d+" did not finish"
			if ds.status == statusSkipped && ds.reason == "loop stopped" {
				s.reason = "loop stopped"
			}
			r.skipEvent(s)
			return
		}
	}
	if n.Gate != "" {
		g := r.state(n.Gate)
		if g.stop && n.Kind != compiler.KindState {
			s.status, s.reason = statusSkipped, "loop stopped"
			r.skipEvent(s)
			return
		}
		if g.stop && n.Kind == compiler.KindState {
			// The final state of a stopped loop; later states are skipped.
			s.reason = "final"
		}
	}
	if ctx.Err() != nil {
		s.status, s.err, s.reason = statusSkipped, ctx.Err(), "cancelled"
		r.skipEvent(s)
		return
	}
	var err error
	switch n.Kind {
	case compiler.KindLocal, compiler.KindState, compiler.KindOutput, compiler.KindVariable, compiler.KindModule:
		s.value, err = r.evalExpr(n, n.Expr)
		if err == nil && (n.Kind == compiler.KindState || n.Kind == compiler.KindVariable) {
			s.value, err = r.conform(n, s.value)
		}
	case compiler.KindUntil:
		var v cty.Value
		v, err = r.evalExpr(n, n.Expr)
		if err == nil {
			v, err = convert.Convert(v, cty.Bool)
		}
		if err == nil {
			if v.IsNull() || !v.IsKnown() {
				err = fmt.Errorf("`until` evaluated to null")
			} else {
				s.value = v
				s.stop = v.True()
			}
		}
	case compiler.KindLoop:
		s.value, err = r.loopValue(n)
	case compiler.KindGroup:
		s.value = r.groupValue(n)
	default:
		err = r.runStage(ctx, s)
		if s.status == statusSkipped {
			return
		}
	}
	if err != nil {
		s.status, s.err = statusFailed, err
		s.run.Status, s.run.Error = "failed", err.Error()
		r.emit(Event{Address: n.Address, Kind: n.Kind, Status: "failed", Err: err})
		return
	}
	s.status = statusDone
}

func (r *run) skipEvent(s *nodeState) {
	s.run.Status = "skipped"
	if s.node.Kind == compiler.KindStage {
		r.emit(Event{Address: s.node.Address, Kind: s.node.Kind, Status: "skipped", Reason: s.reason})
	}
}

// conform converts a state value to the loop's state type.
func (r *run) conform(n *compiler.Node, v cty.Value) (cty.Value, error) {
	t, err := compiler.UnmarshalType(n.Type)
	if err != nil || t == cty.DynamicPseudoType {
		return v, nil
	}
	return convert.Convert(v, t)
}

// loopValue assembles loop.L: the rounds that ran and the final state.
func (r *run) loopValue(n *compiler.Node) (cty.Value, error) {
	var info *compiler.LoopInfo
	for _, l := range r.plan.Loops {
		if l.Name == n.Name {
			info = l
		}
	}
	t, err := compiler.UnmarshalType(n.Type)
	if err != nil {
		return cty.NilVal, err
	}
	roundType := t.AttributeType("rounds").ElementType()
	var rounds []cty.Value
	final := cty.NullVal(t.AttributeType("state"))
	for i, ids := range info.Round {
		ok := true
		attrs := map[string]cty.Value{"round": cty.NumberIntVal(int64(i))}
		for _, addr := range ids.Stages {
			st := r.state(addr)
			if st.node.Instance != nil {
				continue // read through its group
			}
			if st.status != statusDone {
				ok = false
				break
			}
			attrs[st.node.Name] = st.value
		}
		if !ok {
			break
		}
		if ids.State != "" {
			attrs["state"] = r.state(ids.State).value
		}
		v, err := convert.Convert(cty.ObjectVal(attrs), roundType)
		if err != nil {
			return cty.NilVal, fmt.Errorf("round %d: %w", i, err)
		}
		rounds = append(rounds, v)
		if ids.Until != "" && r.state(ids.Until).stop {
			break
		}
	}
	// The final state is the last state node that was evaluated.
	for i := info.Rounds; i >= 0; i-- {
		st := r.state(fmt.Sprintf("loop.%s[%d].state", info.Name, i))
		if st != nil && st.status == statusDone {
			final = st.value
			break
		}
	}
	list := cty.ListValEmpty(roundType)
	if len(rounds) > 0 {
		list = cty.ListVal(rounds)
	}
	return cty.ObjectVal(map[string]cty.Value{"rounds": list, "state": final}), nil
}

// groupValue assembles a repeated block's value from its instances: the
// tuple of them for count, the object keyed by each.key for for_each.
func (r *run) groupValue(n *compiler.Node) cty.Value {
	if n.ForEach {
		m := make(map[string]cty.Value, len(n.Members))
		for _, a := range n.Members {
			st := r.state(a)
			m[st.node.Instance.EachKey] = st.value
		}
		return cty.ObjectVal(m)
	}
	vals := make([]cty.Value, len(n.Members))
	for i, a := range n.Members {
		vals[i] = r.state(a).value
	}
	return cty.TupleVal(vals)
}

// compute claims key for the calling node: nil when no other node of the
// run is computing it (the caller must call computed when done), else a
// channel closed when that node is done.
func (r *run) compute(key string) <-chan struct{} {
	r.computingMu.Lock()
	defer r.computingMu.Unlock()
	if ch, ok := r.computing[key]; ok {
		return ch
	}
	if r.computing == nil {
		r.computing = map[string]chan struct{}{}
	}
	r.computing[key] = make(chan struct{})
	return nil
}

// computed releases a key claimed by compute, waking the nodes waiting
// for it.
func (r *run) computed(key string) {
	r.computingMu.Lock()
	defer r.computingMu.Unlock()
	close(r.computing[key])
	delete(r.computing, key)
}

// unused reports whether nothing reads a model or dataset node: no user,
// or only the group of its block, which nothing reads.
func unused(s *nodeState) bool {
	for _, u := range s.users {
		if u.node.Kind != compiler.KindGroup || len(u.users) > 0 {
			return false
		}
	}
	return true
}

// runStage runs (or finds in the cache) a stage, dataset or model node.
func (r *run) runStage(ctx context.Context, s *nodeState) error {
	n := s.node
	lib := r.opts.Library
	var sig *compiler.Signature
	var op Operator
	var prov Provider
	var name string
	var version int
	if n.Kind == compiler.KindModel {
		var ok bool
		if prov, ok = lib.Provider(n.Provider); !ok {
			return fmt.Errorf("no implementation of model provider %q", n.Provider)
		}
		sig, _ = lib.Signatures().Provider(n.Provider)
		name, version = "provider:"+prov.Name(), prov.Version()
	} else {
		var ok bool
		if op, ok = lib.Operator(n.Operator); !ok {
			return fmt.Errorf("operator %q has no implementation yet", n.Operator)
		}
		sig, _ = lib.Signatures().Operator(n.Operator)
		name, version = op.Name(), op.Version()
	}
	if sig == nil {
		return fmt.Errorf("no signature for %s", n.Address)
	}
	p, err := r.prepare(n, sig, name, version)
	if err != nil {
		return err
	}
	s.run.Key = p.key
	s.run.Operator, s.run.Version, s.run.Seed = name, version, p.exec.Seed
	s.run.Parts = make(map[string]string, len(p.params))
	for k, d := range p.params {
		// 16 hex digits tell two runs' parts apart and keep records small.
		d = strings.TrimPrefix(d, "sha256:")
		s.run.Parts[k] = d[:min(16, len(d))]
	}
	if len(p.kinds) > 0 {
		s.run.Inputs = p.kinds
	}
	forced := r.forced[n.Address]
	missing := ""
	if fw, ok := op.(FileWriter); ok {
		for _, f := range fw.OutputFiles(p.exec) {
			if n.Dir != "" && !filepath.IsAbs(f) {
				f = filepath.Join(filepath.FromSlash(n.Dir), f) // a module's: relative to its folder
			}
			r.noteOutputFile(f)
			if missing == "" {
				if _, err := os.Stat(r.resolve(f)); err != nil {
					missing = f
				}
			}
		}
	}
	for !forced && missing == "" {
		result, ok, err := r.opts.Store.StageResult(p.key)
		if err != nil {
			return err
		}
		if ok {
			t, err := compiler.UnmarshalType(n.Type)
			if err == nil {
				v, derr := DecodeValue(result, t)
				if derr == nil {
					s.value = v
					s.status = statusDone
					s.run.Status = "cached"
					r.emit(Event{Address: n.Address, Kind: n.Kind, Status: "cached"})
					return nil
				}
			}
		}
		wait := r.compute(p.key)
		if wait == nil {
			defer r.computed(p.key)
			break
		}
		// Another node computes this key: its entry, once stored, is
		// this node's too (or, if it failed, this node computes it).
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.reason = r.explain(n, p, version, forced)
	if missing != "" && !forced {
		s.reason = fmt.Sprintf("output file %s is missing", missing)
	}
	if r.opts.DryRun {
		s.status = statusSkipped
		s.run.Status = "will-run"
		r.emit(Event{Address: n.Address, Kind: n.Kind, Status: "will-run", Reason: s.reason})
		return nil
	}
	if err := p.finish(); err != nil {
		return err
	}
	// The first stage that runs records the run as "running", so a run
	// killed while working leaves a record; a run where everything is
	// cached writes its record once, at the end.
	r.startOnce.Do(func() {
		r.startErr = r.opts.Store.PutRun(r.progressRecord())
		r.started.Store(r.startErr == nil)
	})
	if r.startErr != nil {
		return r.startErr
	}
	ctr := &Counter{}
	r.emit(Event{Address: n.Address, Kind: n.Kind, Status: "running", Reason: s.reason, Progress: ctr})
	start := time.Now()
	s.run.Started = start.UTC()
	x := p.exec
	r.bindExec(x, ctr)
	for _, d := range n.Deps {
		if ds := r.state(d); ds.status == statusDone && isEmptyDataset(ds.value) {
			x.Warn("input %s has no records", d)
		}
	}
	var v cty.Value
	if prov != nil {
		var ref compiler.ModelRef
		ref, err = prov.Resolve(ctx, x)
		ref.Address = ""
		if ref.Provider == "" {
			ref.Provider = prov.Name()
		}
		v = compiler.ModelVal(ref)
	} else {
		runner := r.opts.Runner
		if _, writesFiles := op.(FileWriter); writesFiles || n.Kind != compiler.KindStage {
			runner = LocalRunner{}
		}
		deps := map[string]cty.Value{}
		for _, d := range n.Deps {
			if ds := r.state(d); ds.status == statusDone {
				deps[d] = ds.value
			}
		}
		specDir, _ := filepath.Abs(r.opts.SpecDir)
		v, err = runner.RunStage(ctx, &StageTask{Plan: r.plan, Node: n, Key: p.key, Op: op, Exec: x, Deps: deps, SpecDir: specDir})
	}
	s.run.Duration = time.Since(start)
	s.run.Counts = x.Counts
	s.run.Worker = x.Worker
	s.run.Warnings = x.Warnings
	s.run.Servers = x.Servers
	if err != nil {
		return err
	}
	if t, terr := compiler.UnmarshalType(n.Type); terr == nil && t != cty.DynamicPseudoType && !compiler.IsModelType(t) && !compiler.IsDatasetType(t) {
		if cv, cerr := convert.Convert(v, t); cerr == nil {
			v = cv
		}
	}
	enc, err := EncodeValue(v)
	if err != nil {
		return fmt.Errorf("encoding result: %w", err)
	}
	var blobs []store.Digest
	for _, d := range referencedBlobs(v) {
		if has, _ := r.opts.Store.HasBlob(store.Digest(d)); has {
			blobs = append(blobs, store.Digest(d))
		}
	}
	entry := &store.StageEntry{Key: p.key, Address: n.Address, Operator: name, Version: version,
		Params: p.params, Inputs: p.inputs, Result: enc, Blobs: blobs, Created: time.Now().UTC(), Duration: s.run.Duration}
	// The operator is done: let another stage run while the entry is
	// committed (PutStage groups concurrent commits). Nothing reads this
	// stage's result before step returns and finish schedules its users.
	if s.release != nil {
		s.release()
	}
	if err := r.opts.Store.PutStage(entry); err != nil {
		return err
	}
	s.value = v
	s.run.Status = "ran"
	ev := Event{Address: n.Address, Kind: n.Kind, Status: "ran", Duration: s.run.Duration, Reason: s.reason, Progress: ctr, Warnings: x.Warnings}
	if v.IsKnown() && !v.IsNull() && compiler.IsDatasetType(v.Type()) {
		ev.Records, ev.HasRecords = v.EncapsulatedValue().(*compiler.DatasetRef).Count, true
	}
	r.emit(ev)
	return nil
}

// settle notes a stage that ran, was cached or failed, for the record kept
// while the run goes on. Called by the goroutine that ran the stage, after
// it.
func (r *run) settle(s *nodeState) {
	switch s.run.Status {
	case "ran", "cached", "failed":
	default:
		return
	}
	var metrics json.RawMessage
	if s.status == statusDone && s.value.Type().IsObjectType() && s.value.Type().HasAttribute("metrics") {
		metrics, _ = EncodeValue(s.value.GetAttr("metrics"))
	}
	r.settledMu.Lock()
	r.settled[s.node.Address] = s.run
	if metrics != nil {
		r.settledMetrics[s.node.Address] = metrics
	}
	r.unsaved = true
	r.settledMu.Unlock()
}

// progressRecord is the run record as it stands: running, with the stages
// settled so far in plan order.
func (r *run) progressRecord() *store.RunRecord {
	rec := *r.record
	rec.Stages = nil
	r.settledMu.Lock()
	defer r.settledMu.Unlock()
	for _, n := range r.plan.Nodes {
		if sr, ok := r.settled[n.Address]; ok {
			rec.Stages = append(rec.Stages, sr)
		}
	}
	if len(r.settledMetrics) > 0 {
		rec.Metrics = make(map[string]json.RawMessage, len(r.settledMetrics))
		for a, m := range r.settledMetrics {
			rec.Metrics[a] = m
		}
	}
	r.unsaved = false
	return &rec
}

// keepRecord stores the progress record every RecordEvery while stages
// settle, once the run has stored its running record (a run where
// everything is cached writes its record once, at the end). It returns a
// function that stops it; the final record is written by Run.
func (r *run) keepRecord() (stop func()) {
	if r.opts.DryRun {
		return func() {}
	}
	every := r.opts.RecordEvery
	if every <= 0 {
		every = time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			r.settledMu.Lock()
			unsaved := r.unsaved
			r.settledMu.Unlock()
			if unsaved && r.started.Load() {
				if err := r.opts.Store.PutRun(r.progressRecord()); err != nil {
					r.log.Warn("run record not updated", "err", err)
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// explain says why a stage runs, comparing with the last cached entry of
// the same address.
func (r *run) explain(n *compiler.Node, p *prepared, version int, forced bool) string {
	if forced {
		return "forced"
	}
	last, ok, err := r.opts.Store.LastForAddress(n.Address)
	if err != nil || !ok {
		return "new"
	}
	if last.Version != version {
		return fmt.Sprintf("operator upgraded (v%d → v%d)", last.Version, version)
	}
	var inputs, params []string
	for k, d := range p.params {
		if last.Params[k] == d {
			continue
		}
		if _, isInput := p.inputs[k]; isInput {
			inputs = append(inputs, k)
		} else {
			params = append(params, k)
		}
	}
	for k := range last.Params {
		if _, ok := p.params[k]; !ok {
			params = append(params, k)
		}
	}
	sort.Strings(inputs)
	sort.Strings(params)
	var parts []string
	if len(inputs) > 0 {
		parts = append(parts, "input changed: "+strings.Join(inputs, ", "))
	}
	if len(params) > 0 {
		parts = append(parts, "params changed: "+strings.Join(params, ", "))
	}
	if len(parts) == 0 {
		return "seed or scope changed"
	}
	return strings.Join(parts, "; ")
}

// openModel returns a memoised client for a model value.
func (r *run) openModel(ctx context.Context, m cty.Value) (LM, error) {
	if !m.IsKnown() || m.IsNull() || !compiler.IsModelType(m.Type()) {
		return nil, fmt.Errorf("not a model value")
	}
	ref := *m.EncapsulatedValue().(*compiler.ModelRef)
	key := ref.Provider + "\x00" + ref.Digest + "\x00" + ref.Config
	r.lmMu.Lock()
	defer r.lmMu.Unlock()
	if lm, ok := r.lms[key]; ok {
		return lm, nil
	}
	prov, ok := r.opts.Library.Provider(ref.Provider)
	if !ok {
		return nil, fmt.Errorf("no implementation of model provider %q", ref.Provider)
	}
	lm, err := prov.Open(ctx, ref, r.env)
	if err != nil {
		return nil, err
	}
	wrapped := &memoLM{lm: lm, memo: r.memo}
	r.lms[key] = wrapped
	return wrapped, nil
}

// bindExec connects a prepared stage to this run: its memo, its progress
// counter and the models it opens (memoised, and counted in the record).
func (r *run) bindExec(x *Exec, ctr *Counter) {
	x.Memo = r.memo
	x.Progress = ctr
	x.OpenModel = func(ctx context.Context, m cty.Value) (LM, error) {
		lm, err := r.openModel(ctx, m)
		if err != nil {
			return nil, err
		}
		return &countingLM{memoLM: lm.(*memoLM), x: x, mu: &r.mu}, nil
	}
}

// planVariables decodes the plan's variable values.
func planVariables(plan *compiler.Plan) (map[string]cty.Value, error) {
	vars := map[string]cty.Value{}
	for name, tv := range plan.Variables {
		t, err := ctyjson.UnmarshalType(tv.Type)
		if err != nil {
			return nil, err
		}
		v, err := ctyjson.Unmarshal(tv.Value, t)
		if err != nil {
			return nil, err
		}
		vars[name] = v
	}
	return vars, nil
}

// ReferencedBlobs lists the digests of the datasets and models inside a
// value.
// Only content digests (sha256:…) are blobs: a model served elsewhere
// (openai:…) is named by its identity's digest and has none.
func ReferencedBlobs(v cty.Value) []string {
	var out []string
	for _, d := range referencedBlobs(v) {
		if strings.HasPrefix(d, "sha256:") {
			out = append(out, d)
		}
	}
	return out
}

// SpecDigestShort abbreviates a digest for display.
func SpecDigestShort(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// DefaultStoreDir is where a spec's store lives unless --store says
// otherwise: .ouro beside the spec.
func DefaultStoreDir(specPath string) string {
	info, err := os.Stat(specPath)
	if err == nil && info.IsDir() {
		return filepath.Join(specPath, ".ouro")
	}
	return filepath.Join(filepath.Dir(specPath), ".ouro")
}

// isEmptyDataset reports whether v is a dataset of 0 records.
func isEmptyDataset(v cty.Value) bool {
	if !v.IsKnown() || v.IsNull() || !compiler.IsDatasetType(v.Type()) {
		return false
	}
	ref, ok := v.EncapsulatedValue().(*compiler.DatasetRef)
	return ok && ref.Count == 0
}

// producedModel is the model a node's value holds: the value itself (a
// model block), or its "model" attribute (what a trainer stage such as
// sft or dpo returns, beside its metrics); nil for anything else.
func producedModel(v cty.Value) *compiler.ModelRef {
	if v.Type().IsObjectType() && v.Type().HasAttribute("model") && v.IsKnown() && !v.IsNull() {
		v = v.GetAttr("model")
	}
	if !v.Type().Equals(compiler.ModelType) || !v.IsKnown() || v.IsNull() {
		return nil
	}
	return v.EncapsulatedValue().(*compiler.ModelRef)
}
