package scaleout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty/function"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/bucket"
	"github.com/ouroloop/ouro/runtime/store"
)

// WorkerOptions configure a worker.
type WorkerOptions struct {
	Client      client.Client
	Blobs       *bucket.Blobs
	Library     runtime.Library
	Functions   map[string]function.Function
	Fingerprint string
	// Queue is the stage queue this worker serves (default "default").
	Queue string
	// Slots is how many stages it runs at once (default 1: a stage may
	// use every core).
	Slots int
	// Identity names the worker in Temporal and in run records.
	Identity string
	Log      *slog.Logger
	// MemoFlush is how often model answers are written to the blob store
	// as a memo chunk (default 50ms): a killed worker's stage re-sends at
	// most the requests answered in its last interval.
	MemoFlush time.Duration
}

// Worker runs stages handed out by Temporal.
type Worker struct {
	opts WorkerOptions

	plansMu sync.Mutex
	plans   map[string]*compiler.Plan
}

// NewWorker checks the options; Run starts polling.
func NewWorker(opts WorkerOptions) *Worker {
	if opts.Queue == "" {
		opts.Queue = DefaultQueue
	}
	if opts.Slots <= 0 {
		opts.Slots = 1
	}
	if opts.MemoFlush <= 0 {
		opts.MemoFlush = 50 * time.Millisecond
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Worker{opts: opts, plans: map[string]*compiler.Plan{}}
}

// Run polls the stage queue (activities) and the workflow queue until ctx
// is done. Stages running when ctx ends are cancelled and retried by
// Temporal on another worker.
func (w *Worker) Run(ctx context.Context) error {
	stages := worker.New(w.opts.Client, TaskQueue(w.opts.Queue, w.opts.Fingerprint), worker.Options{
		Identity:                           w.opts.Identity,
		MaxConcurrentActivityExecutionSize: w.opts.Slots,
		WorkerStopTimeout:                  2 * time.Second,
		DisableWorkflowWorker:              true,
	})
	stages.RegisterActivityWithOptions(w.RunStage, activity.RegisterOptions{Name: ActivityName})
	flows := worker.New(w.opts.Client, WorkflowQueue(w.opts.Fingerprint), worker.Options{Identity: w.opts.Identity})
	RegisterWorkflow(flows)
	if err := stages.Start(); err != nil {
		return err
	}
	defer stages.Stop()
	if err := flows.Start(); err != nil {
		return err
	}
	defer flows.Stop()
	<-ctx.Done()
	return nil
}

// RegisterWorkflow registers the stage workflow on a Temporal worker.
func RegisterWorkflow(r worker.Registry) {
	r.RegisterWorkflowWithOptions(StageWorkflow, workflow.RegisterOptions{Name: WorkflowName})
}

// plan fetches and decodes a plan by digest, once per worker.
func (w *Worker) plan(digest string) (*compiler.Plan, error) {
	w.plansMu.Lock()
	defer w.plansMu.Unlock()
	if p, ok := w.plans[digest]; ok {
		return p, nil
	}
	rc, err := w.opts.Blobs.Open(store.Digest(digest))
	if err != nil {
		return nil, fmt.Errorf("reading the plan: %w", err)
	}
	defer rc.Close()
	p, err := compiler.DecodePlan(rc)
	if err != nil {
		return nil, err
	}
	w.plans[digest] = p
	return p, nil
}

// progress is a stage's item counter on a worker.
type progress struct {
	mu          sync.Mutex
	done, total int64
}

func (p *progress) SetTotal(n int64) { p.mu.Lock(); p.total = n; p.mu.Unlock() }
func (p *progress) Add(n int64)      { p.mu.Lock(); p.done += n; p.mu.Unlock() }
func (p *progress) get() (int64, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done, p.total
}

// RunStage is the activity: prepare the stage from the plan and its
// inputs, run it against the blob store, heartbeat progress and memo
// chunks, and return the result's encoding.
func (w *Worker) RunStage(ctx context.Context, in StageInput) (*StageOutput, error) {
	id := w.opts.Identity
	info := activity.GetInfo(ctx)
	log := w.opts.Log.With("stage", in.Address, "attempt", info.Attempt)
	if in.Fingerprint != w.opts.Fingerprint {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("worker %s runs operator library %s, the coordinator %s: run the same ouro on both", id, w.opts.Fingerprint, in.Fingerprint),
			errVersionMismatch, nil, FailureDetails{Worker: id})
	}
	plan, err := w.plan(in.Plan)
	if err != nil {
		return nil, err // retryable: the blob store may be back
	}
	memo := newChunkMemo(w.opts.Blobs, in.Key)
	if n, err := memo.load(ctx); err != nil {
		return nil, err // a *bucket.Error: retryable
	} else if n > 0 {
		log.Info("resuming with the answers of earlier attempts", "memo_entries", n)
	}
	prog := &progress{}
	flush := func() {
		if err := memo.flush(ctx); err != nil {
			log.Warn("writing a memo chunk failed; will retry", "err", err)
		}
	}
	beat := func() {
		flush()
		done, total := prog.get()
		activity.RecordHeartbeat(ctx, Heartbeat{Done: done, Total: total})
	}
	interval := w.opts.MemoFlush
	if hbt := info.HeartbeatTimeout; hbt > 0 && hbt/3 < interval {
		interval = hbt / 3
	}
	stop := make(chan struct{})
	var beating sync.WaitGroup
	beating.Add(1)
	go func() {
		defer beating.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				beat()
			}
		}
	}()
	// No heartbeat before the stage starts: the SDK sends the first one
	// synchronously, a server round trip every stage would wait for. The
	// first tick sends it, well inside the heartbeat timeout.
	log.Info("running")
	res, err := runtime.ExecuteRemote(ctx, &runtime.RemoteStage{Plan: plan, Address: in.Address, Key: in.Key, Deps: in.Deps, SpecDir: in.SpecDir},
		runtime.RemoteEnv{Library: w.opts.Library, Functions: w.opts.Functions, Blobs: w.opts.Blobs, Memo: memo, Progress: prog, Log: log})
	close(stop)
	beating.Wait()
	flush() // the completion follows: no heartbeat needed

	if err != nil {
		log.Warn("failed", "err", err)
		return nil, classify(err, id)
	}
	log.Info("finished", "duration", res.Duration.Round(time.Millisecond))
	return &StageOutput{Result: res.Result, Blobs: res.Blobs, Counts: res.Counts, Warnings: res.Warnings, Servers: res.Servers, Worker: id, Duration: res.Duration}, nil
}

// classify decides whether another attempt can help: a cancelled attempt
// or a blob store error can, a stage's own error (bad data, a diagnostic,
// a model server that kept failing after the provider's own retries)
// cannot, nor can a key mismatch.
func classify(err error, worker string) error {
	details := FailureDetails{Worker: worker}
	var de runtime.DiagnosticsError
	if errors.As(err, &de) {
		details.Diagnostics = encodeDiags(de.Diags)
	}
	var be *bucket.Error
	switch {
	case errors.Is(err, runtime.ErrKeyMismatch):
		return temporal.NewNonRetryableApplicationError(err.Error(), errVersionMismatch, nil, details)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.As(err, &be):
		return temporal.NewApplicationError(err.Error(), "Transient", details)
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), errStageFailed, nil, details)
}
