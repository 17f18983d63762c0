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
	commonpb "go.temporal.io/api/common/v1"
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
	// Mode is how a stage becomes a Temporal execution: ModeActivity, a
	// standalone activity; ModeWorkflow, a one-activity workflow; "" (the
	// default), a standalone activity when the server has them and a
	// workflow otherwise.
	Mode string
	Log  *slog.Logger
}

// Modes of a Runner.
const (
	ModeAuto     = ""
	ModeActivity = "activity"
	ModeWorkflow = "workflow"
)

// Runner is a runtime.StageRunner that runs stages on workers through
// Temporal.
type Runner struct {
	opts RunnerOptions

	plansMu sync.Mutex
	plans   map[*compiler.Plan]string // plan → digest in the blob store

	modeMu sync.Mutex
	mode   string        // resolved: ModeActivity or ModeWorkflow once known
	flows  worker.Worker // the coordinator's workflow poller (workflow mode)
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

// Start prepares the runner: in workflow mode it polls the workflow queue
// from the coordinator too, so stage workflows progress even when every
// worker serves another queue.
func (r *Runner) Start() error {
	switch r.opts.Mode {
	case ModeAuto, ModeActivity:
		return nil
	case ModeWorkflow:
		return r.useWorkflows()
	}
	return fmt.Errorf("unknown Temporal mode %q (activity or workflow)", r.opts.Mode)
}

// Stop stops the coordinator's workflow poller, if it has one.
func (r *Runner) Stop() {
	r.modeMu.Lock()
	defer r.modeMu.Unlock()
	if r.flows != nil {
		r.flows.Stop()
		r.flows = nil
	}
}

// Mode is how stages run so far: ModeActivity, ModeWorkflow, or ModeAuto
// before the first stage has told.
func (r *Runner) Mode() string {
	r.modeMu.Lock()
	defer r.modeMu.Unlock()
	if r.mode == "" && r.opts.Mode != ModeAuto {
		return r.opts.Mode
	}
	return r.mode
}

func (r *Runner) currentMode() string {
	r.modeMu.Lock()
	defer r.modeMu.Unlock()
	if r.mode != "" {
		return r.mode
	}
	return r.opts.Mode
}

// useWorkflows switches to one workflow per stage and starts the
// coordinator's workflow poller.
func (r *Runner) useWorkflows() error {
	r.modeMu.Lock()
	defer r.modeMu.Unlock()
	r.mode = ModeWorkflow
	if r.flows != nil {
		return nil
	}
	w := worker.New(r.opts.Client, WorkflowQueue(r.opts.Fingerprint), worker.Options{})
	RegisterWorkflow(w)
	if err := w.Start(); err != nil {
		return err
	}
	r.flows = w
	return nil
}

func (r *Runner) useActivities() {
	r.modeMu.Lock()
	defer r.modeMu.Unlock()
	if r.mode == "" {
		r.mode = ModeActivity
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
	out, err := r.execute(ctx, t, wi, queue)
	if err != nil {
		if ctx.Err() != nil {
			return cty.NilVal, ctx.Err()
		}
		// The failed attempts' answers go into the store's memo too, so
		// a re-run (here or local) does not send those requests again.
		_ = r.mergeMemo(context.WithoutCancel(ctx), t.Exec.Memo, t.Key)
		return cty.NilVal, err
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

// execute runs the stage on Temporal and waits for its output: as a
// standalone activity, or as a workflow when the server has no standalone
// activities (or the runner is told to use workflows).
func (r *Runner) execute(ctx context.Context, t *runtime.StageTask, wi WorkflowInput, queue string) (*StageOutput, error) {
	if r.currentMode() != ModeWorkflow {
		out, err := r.executeActivity(ctx, t, wi, queue)
		var unimplemented *serviceerror.Unimplemented
		if !errors.As(err, &unimplemented) || r.opts.Mode == ModeActivity {
			return out, err
		}
		r.opts.Log.Info("this Temporal server runs no standalone activities; running each stage as a workflow", "server_said", err)
		if err := r.useWorkflows(); err != nil {
			return nil, err
		}
	}
	return r.executeWorkflow(ctx, t, wi, queue)
}

// retryPolicy is a stage's: capped attempts, and no retry of a failure
// another attempt cannot fix.
func retryPolicy(attempts int32) *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:        500 * time.Millisecond,
		BackoffCoefficient:     2,
		MaximumInterval:        30 * time.Second,
		MaximumAttempts:        attempts,
		NonRetryableErrorTypes: []string{errStageFailed, errVersionMismatch},
	}
}

// executeActivity runs the stage as a standalone activity whose id is the
// stage's key: a second coordinator (or this one, run again after a kill)
// attaches to the running or finished execution.
func (r *Runner) executeActivity(ctx context.Context, t *runtime.StageTask, wi WorkflowInput, queue string) (*StageOutput, error) {
	id := ActivityID(t.Key)
	h, err := r.opts.Client.ExecuteActivity(ctx, client.StartActivityOptions{
		ID:                       id,
		TaskQueue:                wi.TaskQueue,
		HeartbeatTimeout:         wi.Heartbeat,
		ScheduleToStartTimeout:   wi.ScheduleToStart,
		StartToCloseTimeout:      wi.StartToClose,
		RetryPolicy:              retryPolicy(wi.Attempts),
		ActivityIDReusePolicy:    enumspb.ACTIVITY_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		ActivityIDConflictPolicy: enumspb.ACTIVITY_ID_CONFLICT_POLICY_USE_EXISTING,
		Summary:                  t.Node.Address,
	}, ActivityName, wi.Stage)
	var started *serviceerror.ActivityExecutionAlreadyStarted
	if errors.As(err, &started) {
		// It finished before (a coordinator killed after the stage ended
		// and before it wrote the entry): its result is still there.
		h, err = r.opts.Client.GetActivityHandle(client.GetActivityHandleOptions{ActivityID: id}), nil
	}
	var unimplemented *serviceerror.Unimplemented
	if errors.As(err, &unimplemented) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("starting the stage on Temporal: %w", err)
	}
	r.useActivities()
	watchCtx, stopWatch := context.WithCancel(ctx)
	go r.watch(watchCtx, t.Exec.Progress, func(ctx context.Context) ([]*commonpb.Payloads, error) {
		d, err := h.Describe(ctx, client.DescribeActivityOptions{IncludeHeartbeatDetails: true})
		if err != nil {
			return nil, err
		}
		return []*commonpb.Payloads{d.RawResponse.GetInfo().GetHeartbeatDetails()}, nil
	})
	var out StageOutput
	err = h.Get(ctx, &out)
	stopWatch()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		f := failure{queue: queue}
		if d, derr := h.Describe(context.WithoutCancel(ctx), client.DescribeActivityOptions{}); derr == nil {
			f.worker = d.LastWorkerIdentity
			f.attempt = d.Attempt
		}
		return nil, r.stageError(err, f)
	}
	r.useActivities()
	return &out, nil
}

// executeWorkflow runs the stage as a workflow (id: the stage's key) of
// one activity.
func (r *Runner) executeWorkflow(ctx context.Context, t *runtime.StageTask, wi WorkflowInput, queue string) (*StageOutput, error) {
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
		run, err = r.opts.Client.GetWorkflow(ctx, id, ""), nil
	}
	if err != nil {
		return nil, fmt.Errorf("starting the stage on Temporal: %w", err)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	go r.watch(watchCtx, t.Exec.Progress, func(ctx context.Context) ([]*commonpb.Payloads, error) {
		resp, err := r.opts.Client.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			return nil, err
		}
		var details []*commonpb.Payloads
		for _, pa := range resp.GetPendingActivities() {
			details = append(details, pa.GetHeartbeatDetails())
		}
		return details, nil
	})
	var out StageOutput
	err = run.Get(ctx, &out)
	stopWatch()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		f := failure{queue: queue}
		var ae *temporal.ActivityError
		if errors.As(err, &ae) {
			f.worker = ae.Identity()
			switch ae.RetryState() {
			case enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED:
				f.attempt = wi.Attempts
			case enumspb.RETRY_STATE_NON_RETRYABLE_FAILURE:
				f.nonRetryable = true
			}
		}
		return nil, r.stageError(err, f)
	}
	return &out, nil
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
func (r *Runner) watch(ctx context.Context, ctr runtime.Progress, details func(context.Context) ([]*commonpb.Payloads, error)) {
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
		all, err := details(ctx)
		if err != nil {
			continue
		}
		for _, p := range all {
			var hb Heartbeat
			if p == nil || dc.FromPayloads(p, &hb) != nil {
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

// timeoutName is Temporal's name of a timeout, as its docs spell it.
func timeoutName(t enumspb.TimeoutType) string {
	switch t {
	case enumspb.TIMEOUT_TYPE_START_TO_CLOSE:
		return "start-to-close"
	case enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE:
		return "schedule-to-close"
	case enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START:
		return "schedule-to-start"
	case enumspb.TIMEOUT_TYPE_HEARTBEAT:
		return "heartbeat"
	}
	return strings.ToLower(t.String())
}

// failure is what the coordinator knows of a failed stage besides the
// error: its queue, the worker of the last attempt and how many attempts
// it had.
type failure struct {
	queue        string
	worker       string
	attempt      int32
	nonRetryable bool
}

// stageError words a failed stage: which worker, how many attempts, why;
// a stage's diagnostics come back as diagnostics, to be shown with their
// snippets.
func (r *Runner) stageError(err error, f failure) error {
	var te *temporal.TimeoutError
	if errors.As(err, &te) && te.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START {
		return fmt.Errorf("no worker took the stage within %s: no `ouro worker --queue %s` of this ouro (operator library %s) is polling Temporal",
			r.opts.ScheduleToStart, f.queue, r.opts.Fingerprint)
	}
	var app *temporal.ApplicationError
	var details FailureDetails
	cause := err
	if errors.As(err, &app) {
		cause = app
		if app.HasDetails() {
			_ = app.Details(&details)
		}
		if app.NonRetryable() {
			f.nonRetryable = true
		}
	} else if te == nil {
		var ae *temporal.ActivityError
		if !errors.As(err, &ae) {
			return err // not the stage's failure: Temporal's or the connection's
		}
	}
	worker := details.Worker
	if worker == "" {
		worker = f.worker
	}
	if len(details.Diagnostics) > 0 {
		return runtime.DiagnosticsError{Diags: decodeDiags(details.Diagnostics)}
	}
	msg := cause.Error()
	if app != nil {
		msg = app.Message()
	}
	if te != nil {
		msg = fmt.Sprintf("%s timeout (the worker stopped heartbeating: killed, or lost its connection)", timeoutName(te.TimeoutType()))
	}
	retry := ""
	switch {
	case f.nonRetryable:
		retry = " (not retried: another attempt would fail the same way)"
	case f.attempt >= int32(r.opts.Attempts):
		retry = fmt.Sprintf(" after %d attempts", r.opts.Attempts)
	}
	if worker == "" {
		worker = "unknown"
	}
	return fmt.Errorf("failed on worker %s%s: %s", worker, retry, msg)
}
