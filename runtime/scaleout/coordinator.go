package scaleout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/bucket"
	"github.com/ouroloop/ouro/runtime/store"
)

// RunnerOptions configure the coordinator's side.
type RunnerOptions struct {
	Client client.Client
	// Store is the coordinator's own store: its blobs are copied to Blobs
	// for the workers and back, and worker memo chunks merge into its memo.
	Store       *store.Store
	Blobs       *bucket.Blobs
	Fingerprint string
	// Heartbeat is how long a silent worker keeps a stage before Temporal
	// gives it to another (default 10s).
	Heartbeat time.Duration
	// ScheduleToStart bounds the wait for a worker of the stage's queue
	// (default 10m).
	ScheduleToStart time.Duration
	// StartToClose bounds one attempt (default 24h).
	StartToClose time.Duration
	// Attempts caps the attempts of a stage (default 3).
	Attempts int
	Log      *slog.Logger
}

// Runner is a runtime.StageRunner that runs stages on workers through
// Temporal.
type Runner struct {
	opts RunnerOptions

	plansMu sync.Mutex
	plans   map[*compiler.Plan]string // plan → digest in the blob store
	flows   worker.Worker
}

var _ runtime.StageRunner = (*Runner)(nil)

// NewRunner returns a runner. Start it before the run and Stop it after.
func NewRunner(opts RunnerOptions) *Runner {
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 10 * time.Second
	}
	if opts.ScheduleToStart <= 0 {
		opts.ScheduleToStart = 10 * time.Minute
	}
	if opts.StartToClose <= 0 {
		opts.StartToClose = 24 * time.Hour
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 3
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Runner{opts: opts, plans: map[*compiler.Plan]string{}}
}

// Start polls the workflow queue from the coordinator too, so stage
// workflows progress even when every worker serves another queue.
func (r *Runner) Start() error {
	r.flows = worker.New(r.opts.Client, WorkflowQueue(r.opts.Fingerprint), worker.Options{})
	RegisterWorkflow(r.flows)
	return r.flows.Start()
}

// Stop stops the coordinator's workflow poller.
func (r *Runner) Stop() {
	if r.flows != nil {
		r.flows.Stop()
	}
}

// Pollers lists, per stage queue the plan uses, the identities of the
// workers polling it; a queue with none is a warning before the run.
func (r *Runner) Pollers(ctx context.Context, plan *compiler.Plan) (map[string][]string, error) {
	out := map[string][]string{}
	for _, n := range plan.Nodes {
		if n.Kind != compiler.KindStage {
			continue
		}
		q := n.Queue
		if q == "" {
			q = DefaultQueue
		}
		if _, done := out[q]; done {
			continue
		}
		resp, err := r.opts.Client.DescribeTaskQueue(ctx, TaskQueue(q, r.opts.Fingerprint), enumspb.TASK_QUEUE_TYPE_ACTIVITY)
		if err != nil {
			return nil, err
		}
		ids := []string{}
		for _, p := range resp.GetPollers() {
			ids = append(ids, p.GetIdentity())
		}
		sort.Strings(ids)
		out[q] = ids
	}
	return out, nil
}

// planDigest writes the plan to the blob store once.
func (r *Runner) planDigest(p *compiler.Plan) (string, error) {
	r.plansMu.Lock()
	defer r.plansMu.Unlock()
	if d, ok := r.plans[p]; ok {
		return d, nil
	}
	var buf bytes.Buffer
	if err := p.Encode(&buf); err != nil {
		return "", err
	}
	d, err := store.PutBytes(r.opts.Blobs, buf.Bytes())
	if err != nil {
		return "", err
	}
	r.plans[p] = string(d)
	return string(d), nil
}

// RunStage implements runtime.StageRunner.
func (r *Runner) RunStage(ctx context.Context, t *runtime.StageTask) (cty.Value, error) {
	planDigest, err := r.planDigest(t.Plan)
	if err != nil {
		return cty.NilVal, err
	}
	local := r.opts.Store.Blobs()
	in := StageInput{Plan: planDigest, Address: t.Node.Address, Key: t.Key, Deps: map[string]json.RawMessage{}, SpecDir: t.SpecDir, Fingerprint: r.opts.Fingerprint}
	deps := make([]string, 0, len(t.Deps))
	for d := range t.Deps {
		deps = append(deps, d)
	}
	sort.Strings(deps)
	for _, d := range deps {
		v := t.Deps[d]
		for _, b := range runtime.ReferencedBlobs(v) {
			if err := bucket.Copy(r.opts.Blobs, local, store.Digest(b)); err != nil {
				return cty.NilVal, fmt.Errorf("uploading input %s: %w", d, err)
			}
		}
		enc, err := runtime.EncodeValue(v)
		if err != nil {
			return cty.NilVal, err
		}
		in.Deps[d] = enc
	}
	queue := t.Node.Queue
	if queue == "" {
		queue = DefaultQueue
	}
	wi := WorkflowInput{Stage: in, TaskQueue: TaskQueue(queue, r.opts.Fingerprint), Heartbeat: r.opts.Heartbeat,
		ScheduleToStart: r.opts.ScheduleToStart, StartToClose: r.opts.StartToClose, Attempts: int32(r.opts.Attempts)}
	id := WorkflowID(t.Key)
	run, err := r.opts.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                WorkflowQueue(r.opts.Fingerprint),
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// The coordinator polls the workflow queue itself (Start): the
		// server may hand it the first workflow task in the start's reply.
		EnableEagerStart: true,
	}, WorkflowName, wi)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		// It finished before (a coordinator killed after the stage ended
		// and before it wrote the entry): its result is still there.
		run, err = r.opts.Client.GetWorkflow(ctx, id, ""), nil
	}
	if err != nil {
		return cty.NilVal, fmt.Errorf("starting the stage on Temporal: %w", err)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	go r.watch(watchCtx, id, t.Exec.Progress)
	var out StageOutput
	err = run.Get(ctx, &out)
	stopWatch()
	if err != nil {
		if ctx.Err() != nil {
			return cty.NilVal, ctx.Err()
		}
		// The failed attempts' answers go into the store's memo too, so
		// a re-run (here or local) does not send those requests again.
		_ = r.mergeMemo(context.WithoutCancel(ctx), t.Exec.Memo, t.Key)
		return cty.NilVal, r.stageError(err, queue)
	}
	if err := r.mergeMemo(ctx, t.Exec.Memo, t.Key); err != nil {
		return cty.NilVal, err
	}
	for _, b := range out.Blobs {
		if err := bucket.Copy(local, r.opts.Blobs, store.Digest(b)); err != nil {
			return cty.NilVal, fmt.Errorf("fetching the result: %w", err)
		}
	}
	for k, n := range out.Counts {
		t.Exec.Count(k, n)
	}
	t.Exec.Warnings = append(t.Exec.Warnings, out.Warnings...)
	for id, st := range out.Servers {
		t.Exec.AddServer(id, *st)
	}
	t.Exec.Worker = out.Worker
	typ, err := compiler.UnmarshalType(t.Node.Type)
	if err != nil {
		return cty.NilVal, err
	}
	return runtime.DecodeValue(out.Result, typ)
}

// mergeMemo copies a stage's memo chunks into the coordinator's memo and,
// once the memo has them on disk, deletes them from the blob store.
func (r *Runner) mergeMemo(ctx context.Context, memo runtime.Memo, key string) error {
	if memo == nil {
		return nil
	}
	names, err := r.opts.Blobs.ListObjects(ctx, memoPrefix(key))
	if err != nil {
		return fmt.Errorf("merging the stage's memo: %w", err)
	}
	for _, name := range names {
		data, err := r.opts.Blobs.ReadObject(ctx, name)
		if err != nil {
			return fmt.Errorf("merging the stage's memo: %w", err)
		}
		if err := readChunk(name, data, memo.Put); err != nil {
			return err
		}
	}
	if f, ok := memo.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			return err
		}
	} else {
		return nil // keep the chunks: nothing says the entries are durable
	}
	for _, n := range names {
		_ = r.opts.Blobs.DeleteObject(ctx, n)
	}
	return nil
}

// watch copies the running attempt's heartbeat progress into the stage's
// counter, so the coordinator's progress view moves as in a local run.
func (r *Runner) watch(ctx context.Context, id string, ctr runtime.Progress) {
	if ctr == nil {
		return
	}
	var last int64
	dc := converter.GetDefaultDataConverter()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		resp, err := r.opts.Client.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			continue
		}
		for _, pa := range resp.GetPendingActivities() {
			var hb Heartbeat
			if pa.GetHeartbeatDetails() == nil || dc.FromPayloads(pa.GetHeartbeatDetails(), &hb) != nil {
				continue
			}
			ctr.SetTotal(hb.Total)
			if hb.Done > last {
				ctr.Add(hb.Done - last)
				last = hb.Done
			}
		}
	}
}

// stageError words a failed stage: which worker, how many attempts, why;
// a stage's diagnostics come back as diagnostics, to be shown with their
// snippets.
func (r *Runner) stageError(err error, queue string) error {
	var ae *temporal.ActivityError
	if !errors.As(err, &ae) {
		return err
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) && te.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START {
		return fmt.Errorf("no worker took the stage within %s: no `ouro worker --queue %s` of this ouro (operator library %s) is polling Temporal",
			r.opts.ScheduleToStart, queue, r.opts.Fingerprint)
	}
	var app *temporal.ApplicationError
	var details FailureDetails
	cause := err
	if errors.As(err, &app) {
		cause = app
		if app.HasDetails() {
			_ = app.Details(&details)
		}
	}
	worker := details.Worker
	if worker == "" {
		worker = ae.Identity()
	}
	if len(details.Diagnostics) > 0 {
		return runtime.DiagnosticsError{Diags: decodeDiags(details.Diagnostics)}
	}
	msg := cause.Error()
	if te != nil {
		msg = fmt.Sprintf("%s timeout (the worker stopped heartbeating: killed, or lost its connection)", strings.ToLower(strings.TrimPrefix(te.TimeoutType().String(), "TIMEOUT_TYPE_")))
	}
	retry := ""
	switch ae.RetryState() {
	case enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED:
		retry = fmt.Sprintf(" after %d attempts", r.opts.Attempts)
	case enumspb.RETRY_STATE_NON_RETRYABLE_FAILURE:
		retry = " (not retried: another attempt would fail the same way)"
	}
	if worker == "" {
		worker = "unknown"
	}
	return fmt.Errorf("failed on worker %s%s: %s", worker, retry, msg)
}
