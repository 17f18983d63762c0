package scaleout

import (
	"errors"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// TestStageError: a failed stage's error names the worker, the attempts
// and the cause, in both modes' shapes of failure.
func TestStageError(t *testing.T) {
	r := NewRunner(RunnerOptions{Attempts: 3, ScheduleToStart: 5 * time.Second, Fingerprint: "f00"})
	for _, tc := range []struct {
		name string
		err  error
		f    failure
		want string
	}{
		{"killed worker, budget spent", temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil), failure{queue: "default", worker: "w2", attempt: 3},
			"failed on worker w2 after 3 attempts: heartbeat timeout (the worker stopped heartbeating: killed, or lost its connection)"},
		{"no worker", temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START, nil), failure{queue: "gpu"},
			"no worker took the stage within 5s: no `ouro worker --queue gpu` of this ouro (operator library f00) is polling Temporal"},
		{"stage's own error", temporal.NewNonRetryableApplicationError("bad record", errStageFailed, nil, FailureDetails{Worker: "w1"}), failure{queue: "default", worker: "w9", attempt: 1},
			"failed on worker w1 (not retried: another attempt would fail the same way): bad record"},
		{"transient, budget spent", temporal.NewApplicationError("bucket unreachable", "Transient", FailureDetails{Worker: "w1"}), failure{queue: "default", attempt: 3},
			"failed on worker w1 after 3 attempts: bucket unreachable"},
		{"unknown worker", temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_START_TO_CLOSE, nil), failure{queue: "default", attempt: 1},
			"failed on worker unknown: start-to-close timeout (the worker stopped heartbeating: killed, or lost its connection)"},
		{"not the stage's failure", errors.New("connection refused"), failure{queue: "default"}, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.stageError(tc.err, tc.f).Error(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
