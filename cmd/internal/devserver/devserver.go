// Package devserver starts the in-memory Temporal server that
// cmd/ouro-temporal-dev serves and the scale-out tests and benchmarks run
// against: go.temporal.io/server/temporaltest with the dynamic config a
// latency-bound ouro run wants.
//
// Temporal's history service reads each shard's transfer, timer and
// outbound queues at most 20 times a second by default
// (history.*ProcessorMaxPollRPS). That batches well under load, but a
// chain of short stages waits for the next read at every hop: measured
// here, 47 ms between an activity's start request and a worker receiving
// it, and two such hops per stage workflow. Options raises those limits.
//
// Matching splits each task queue into 4 partitions by default; a task
// added to a partition where no poller waits is forwarded to the root
// partition or written to the backlog, and a worker's two pollers do not
// cover four partitions. ouro's stage queues carry one task per stage, far
// below what one partition serves, so Options gives every queue one
// partition (measured on 2 cores: 18.7 against 21.7 ms of dispatch
// overhead per stage, medians of 9 interleaved runs; a small gain inside
// the noise of single runs, see docs/performance.md).
//
// docs/scale-out.md gives the same settings as a dynamic config file for
// a real cluster.
//
// Where its job stops: it is test and demo infrastructure. The ouro binary
// never links it (it carries a whole Temporal server); the executor itself
// is package scaleout.
package devserver

import (
	"go.temporal.io/server/chasm/lib/activity"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"
)

// PollRPS is the queue read rate Options sets (per shard and per host).
const PollRPS = 10000

// Partitions is the number of partitions Options gives each task queue.
const Partitions = 1

// DynamicConfig is the dynamic config Options applies.
func DynamicConfig() dynamicconfig.StaticClient { return dynamicConfig(true) }

func dynamicConfig(standalone bool) dynamicconfig.StaticClient {
	v := []dynamicconfig.ConstrainedValue{{Value: PollRPS}}
	return dynamicconfig.StaticClient{
		// temporaltest's own setting, which a dynamic config client
		// given as a server option replaces.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): []dynamicconfig.ConstrainedValue{{Value: true}},

		dynamicconfig.TransferProcessorMaxPollRPS.Key():     v,
		dynamicconfig.TransferProcessorMaxPollHostRPS.Key(): v,
		dynamicconfig.OutboundProcessorMaxPollRPS.Key():     v,
		dynamicconfig.OutboundProcessorMaxPollHostRPS.Key(): v,
		dynamicconfig.TimerProcessorMaxPollRPS.Key():        v,
		dynamicconfig.TimerProcessorMaxPollHostRPS.Key():    v,

		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  []dynamicconfig.ConstrainedValue{{Value: Partitions}},
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): []dynamicconfig.ConstrainedValue{{Value: Partitions}},

		activity.Enabled.Key(): []dynamicconfig.ConstrainedValue{{Value: standalone}},
	}
}

// Options are the temporaltest options of an ouro dev server.
func Options() []temporaltest.TestServerOption {
	return []temporaltest.TestServerOption{
		temporaltest.WithBaseServerOptions(temporal.WithDynamicConfigClient(DynamicConfig())),
	}
}

// WithoutStandaloneActivities makes the server refuse standalone
// activities, as a Temporal server older than 1.32 does: the scale-out
// tests use it to run the workflow-per-stage fallback.
func WithoutStandaloneActivities() temporaltest.TestServerOption {
	return temporaltest.WithBaseServerOptions(temporal.WithDynamicConfigClient(dynamicConfig(false)))
}

// New starts a dev server; the caller stops it.
func New(opts ...temporaltest.TestServerOption) *temporaltest.TestServer {
	return temporaltest.NewServer(append(Options(), opts...)...)
}
