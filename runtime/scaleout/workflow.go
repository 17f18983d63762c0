package scaleout

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/store"
)

// Names registered with Temporal.
const (
	WorkflowName = "ouro.Stage"
	ActivityName = "ouro.RunStage"
	// DefaultQueue is the task queue of a stage without `resources { queue }`.
	DefaultQueue = "default"
)

// Error types of a stage failure that retrying on another worker cannot
// fix.
const (
	errStageFailed     = "StageFailed"
	errVersionMismatch = "VersionMismatch"
)

// StageInput is what an activity receives.
type StageInput struct {
	Plan        string                     `json:"plan"` // digest of the encoded plan in the blob store
	Address     string                     `json:"address"`
	Key         string                     `json:"key"`
	Deps        map[string]json.RawMessage `json:"deps"`
	SpecDir     string                     `json:"spec_dir"`
	Fingerprint string                     `json:"fingerprint"`
}

// StageOutput is what a finished activity returns.
type StageOutput struct {
	Result   json.RawMessage               `json:"result"`
	Blobs    []string                      `json:"blobs,omitempty"`
	Counts   map[string]int64              `json:"counts,omitempty"`
	Warnings []string                      `json:"warnings,omitempty"`
	Servers  map[string]*store.ServerStats `json:"servers,omitempty"`
	Worker   string                        `json:"worker"`
	Duration time.Duration                 `json:"duration"`
}

// Heartbeat is the progress an attempt reports (the coordinator's
// progress view reads it). Memo chunks are not in it: Temporal's client
// throttles heartbeats, so the details the server holds may be seconds
// old; chunks are found by listing the stage's memo prefix instead.
type Heartbeat struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

// FailureDetails travel with a stage's failure.
type FailureDetails struct {
	Worker      string           `json:"worker"`
	Diagnostics []jsonDiagnostic `json:"diagnostics,omitempty"`
}

// WorkflowInput is a stage workflow's input: the activity's input and how
// Temporal is to run it.
type WorkflowInput struct {
	Stage           StageInput    `json:"stage"`
	TaskQueue       string        `json:"task_queue"`
	Heartbeat       time.Duration `json:"heartbeat"`
	ScheduleToStart time.Duration `json:"schedule_to_start"`
	StartToClose    time.Duration `json:"start_to_close"`
	Attempts        int32         `json:"attempts"`
}

// StageWorkflow runs one stage as one activity on its task queue. It is
// deterministic and does no I/O: everything happens in the activity.
func StageWorkflow(ctx workflow.Context, in WorkflowInput) (*StageOutput, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              in.TaskQueue,
		HeartbeatTimeout:       in.Heartbeat,
		ScheduleToStartTimeout: in.ScheduleToStart,
		StartToCloseTimeout:    in.StartToClose,
		RetryPolicy:            retryPolicy(in.Attempts),
	})
	var out StageOutput
	if err := workflow.ExecuteActivity(ctx, ActivityName, in.Stage).Get(ctx, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Fingerprint identifies an operator library: ouro's version, the plan
// format and every operator's and provider's name and implementation
// version — everything that enters a stage key besides the spec. Workers
// and coordinators meet only on task queues of the same fingerprint.
func Fingerprint(ouroVersion string, lib runtime.Library) string {
	var parts []string
	parts = append(parts, "ouro="+ouroVersion, fmt.Sprintf("plan=%d", compiler.FormatVersion))
	reg := lib.Signatures()
	for _, name := range reg.OperatorNames() {
		if op, ok := lib.Operator(name); ok {
			parts = append(parts, fmt.Sprintf("op:%s=%d", name, op.Version()))
		}
	}
	for _, name := range reg.ProviderNames() {
		if p, ok := lib.Provider(name); ok {
			parts = append(parts, fmt.Sprintf("provider:%s=%d", name, p.Version()))
		}
	}
	sort.Strings(parts)
	sum := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(sum[:])[:12]
}

// TaskQueue is the Temporal task queue of a stage queue for a library
// fingerprint: "gpu@3f2a9c01b4d7".
func TaskQueue(queue, fingerprint string) string {
	if queue == "" {
		queue = DefaultQueue
	}
	return queue + "@" + fingerprint
}

// WorkflowQueue is the task queue of the stage workflows themselves
// (polled by every worker and by the coordinator).
func WorkflowQueue(fingerprint string) string { return "ouro-workflows@" + fingerprint }

// WorkflowID is the id of a stage's workflow: one per cache key.
func WorkflowID(key string) string {
	return "ouro-stage-" + strings.TrimPrefix(key, "sha256:")
}

// ActivityID is the id of a stage's standalone activity: one per cache
// key.
func ActivityID(key string) string { return WorkflowID(key) }
