package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/bucket"
	"github.com/ouroloop/ouro/runtime/scaleout"
	"github.com/ouroloop/ouro/runtime/store"
	"github.com/ouroloop/ouro/stdlib"
)

// temporalFlags are the flags that reach Temporal and the blob store,
// shared by `ouro run --executor temporal` and `ouro worker`.
type temporalFlags struct {
	address   string
	namespace string
	blobs     string
}

func (f *temporalFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.address, "temporal", envOr("OURO_TEMPORAL", "127.0.0.1:7233"), "Temporal frontend host:port (env OURO_TEMPORAL)")
	cmd.Flags().StringVar(&f.namespace, "namespace", envOr("OURO_TEMPORAL_NAMESPACE", "default"), "Temporal namespace (env OURO_TEMPORAL_NAMESPACE)")
	cmd.Flags().StringVar(&f.blobs, "blobs", os.Getenv("OURO_BLOBS"), "blob store every machine reaches: file:///shared/dir or s3://bucket/prefix (env OURO_BLOBS)")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// dial connects to Temporal, failing within a bounded time with a message
// that names the address.
func (f *temporalFlags) dial(ctx context.Context, identity string, logLevel slog.Level, stderr io.Writer) (client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel}))
	c, err := client.DialContext(ctx, client.Options{HostPort: f.address, Namespace: f.namespace, Identity: identity, Logger: tlog.NewStructuredLogger(logger)})
	if err != nil {
		return nil, fmt.Errorf("cannot reach Temporal at %s (namespace %s): %w", f.address, f.namespace, err)
	}
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		c.Close()
		return nil, fmt.Errorf("cannot reach Temporal at %s: %w", f.address, err)
	}
	return c, nil
}

// openBlobs opens and probes the shared blob store.
func (f *temporalFlags) openBlobs(ctx context.Context, tmp string) (*bucket.Blobs, error) {
	if f.blobs == "" {
		return nil, usageError{fmt.Errorf("--blobs is required with Temporal: a file:// directory or s3:// bucket every machine reaches")}
	}
	b, err := bucket.Open(ctx, f.blobs, tmp)
	if err != nil {
		return nil, err
	}
	if err := b.Check(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// workerIdentity is host:pid, or what --identity says.
func workerIdentity(given string) string {
	if given != "" {
		return given
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

func newWorkerCmd(stdout, stderr io.Writer) *cobra.Command {
	tf := &temporalFlags{}
	var queue, identity string
	var slots int
	var verbose bool
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run stages of distributed runs (`ouro run --executor temporal`) handed out by Temporal",
		Long: `ouro worker polls a Temporal task queue for stages and runs them, reading
their inputs from and writing their outputs to the shared blob store. It never
opens a store's index: the coordinating ouro run writes the cache entries.

Run one per machine (or per GPU): --queue names the stages it takes (a stage's
resources { queue = "gpu" }; default "default"), --slots how many at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer cancel()
			id := workerIdentity(identity)
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelInfo
			}
			tmp, err := os.MkdirTemp("", "ouro-worker-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			blobs, err := tf.openBlobs(ctx, tmp)
			if err != nil {
				return err
			}
			defer blobs.Close()
			c, err := tf.dial(ctx, id, slog.LevelError, stderr)
			if err != nil {
				return err
			}
			defer c.Close()
			lib := stdlib.NewLibrary()
			fp := scaleout.Fingerprint(Version, lib)
			log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
			w := scaleout.NewWorker(scaleout.WorkerOptions{Client: c, Blobs: blobs, Library: lib, Functions: stdlib.Functions(),
				Fingerprint: fp, Queue: queue, Slots: slots, Identity: id, Log: log})
			fmt.Fprintf(stdout, "ouro worker %s: queue %s (%s), %d slot(s), Temporal %s, blobs %s\n", id, queue, scaleout.TaskQueue(queue, fp), max(slots, 1), tf.address, tf.blobs)
			return w.Run(ctx)
		},
	}
	tf.register(cmd)
	cmd.Flags().StringVar(&queue, "queue", scaleout.DefaultQueue, "the stage queue to serve (a stage's resources { queue })")
	cmd.Flags().IntVar(&slots, "slots", 1, "stages run at once")
	cmd.Flags().StringVar(&identity, "identity", "", "name of this worker in Temporal and run records (default host:pid)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log every stage started and finished")
	return cmd
}

// executorFlags select where `ouro run` runs its stages.
type executorFlags struct {
	executor        string
	temporal        temporalFlags
	heartbeat       time.Duration
	scheduleTimeout time.Duration
	attempts        int
	mode            string
}

func (f *executorFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.executor, "executor", "local", "where stages run: local (this process) or temporal (workers through Temporal)")
	mustComplete(cmd, "executor", completeChoices("local\tstages run in this process", "temporal\tstages run on workers through Temporal"))
	f.temporal.register(cmd)
	cmd.Flags().DurationVar(&f.heartbeat, "heartbeat-timeout", 10*time.Second, "with temporal: a worker silent this long has its stage given to another")
	cmd.Flags().DurationVar(&f.scheduleTimeout, "schedule-timeout", 10*time.Minute, "with temporal: fail a stage no worker has taken in this long")
	cmd.Flags().IntVar(&f.attempts, "attempts", 3, "with temporal: attempts of a stage before it fails")
	cmd.Flags().StringVar(&f.mode, "temporal-mode", "auto", "with temporal: a stage is a standalone activity (activity), a one-activity workflow (workflow), or the first when the server has them (auto)")
	mustComplete(cmd, "temporal-mode", completeChoices("auto\tstandalone activities when the server has them", "activity\tone standalone activity per stage", "workflow\tone workflow per stage"))
}

// runner returns the stage runner for the executor (nil: local), its
// cleanup, and a warning per queue no worker polls.
func (f *executorFlags) runner(ctx context.Context, st *store.Store, plan *compiler.Plan, stderr io.Writer) (runtime.StageRunner, func(), error) {
	switch f.executor {
	case "", "local":
		return nil, func() {}, nil
	case "temporal":
	default:
		return nil, nil, usageError{fmt.Errorf("unknown executor %q (local or temporal)", f.executor)}
	}
	mode := f.mode
	switch mode {
	case "auto":
		mode = scaleout.ModeAuto
	case scaleout.ModeActivity, scaleout.ModeWorkflow:
	default:
		return nil, nil, usageError{fmt.Errorf("unknown --temporal-mode %q (auto, activity or workflow)", f.mode)}
	}
	blobs, err := f.temporal.openBlobs(ctx, filepath.Join(st.Dir(), "tmp"))
	if err != nil {
		return nil, nil, err
	}
	c, err := f.temporal.dial(ctx, workerIdentity("")+" (coordinator)", slog.LevelError, stderr)
	if err != nil {
		blobs.Close()
		return nil, nil, err
	}
	lib := stdlib.NewLibrary()
	r := scaleout.NewRunner(scaleout.RunnerOptions{Client: c, Store: st, Blobs: blobs, Fingerprint: scaleout.Fingerprint(Version, lib),
		Heartbeat: f.heartbeat, ScheduleToStart: f.scheduleTimeout, Attempts: f.attempts, Mode: mode})
	if err := r.Start(); err != nil {
		c.Close()
		blobs.Close()
		return nil, nil, err
	}
	if pollers, err := r.Pollers(ctx, plan); err == nil {
		for q, ids := range pollers {
			if len(ids) == 0 {
				fmt.Fprintf(stderr, "Warning: no worker polls queue %q yet; its stages wait up to %s for `ouro worker --queue %s`.\n", q, f.scheduleTimeout, q)
			}
		}
	}
	return r, func() { r.Stop(); c.Close(); blobs.Close() }, nil
}

// describeExecutor is one line for the run's header.
func (f *executorFlags) describe() string {
	if f.executor != "temporal" {
		return ""
	}
	return fmt.Sprintf("Running stages on Temporal %s (namespace %s), blobs %s", f.temporal.address, f.temporal.namespace, strings.TrimSpace(f.temporal.blobs))
}
