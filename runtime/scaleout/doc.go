// Package scaleout runs a plan's stages on many machines through Temporal,
// with blobs in a shared object store (package runtime/bucket).
//
// The split follows Bazel's remote execution: the coordinating `ouro run`
// keeps the action cache (its Badger store: stage keys → results, run
// records, the per-request memo) and decides what runs, exactly as in a
// local run; the object store is the content-addressed store every machine
// reads and writes; a worker (`ouro worker`) runs one stage at a time per
// slot and never writes a key.
//
// One Temporal standalone activity per stage (an activity execution with
// no workflow; on a server without them, a workflow of one activity). Its
// id is "ouro-stage-" and the stage's cache key, so two coordinators
// running the same spec attach to the same execution instead of running
// the stage twice, and a coordinator killed while a stage runs finds that
// stage's execution (running, or finished with its result) when it runs
// again. The activity runs on the stage's task queue (`resources { queue =
// "gpu" }`, default "default"): Temporal does the scheduling, the
// heartbeat timeouts that notice a killed worker, and the capped retries
// on another one.
//
// What crosses the wire is small: the plan goes to the object store once
// (by digest); an activity carries the stage's address and key and its
// inputs' values, which name datasets and models by digest. The
// coordinator copies those blobs to the object store before it starts the
// stage and copies the stage's output blobs back into its own store before
// it writes the entry, so its store stays a complete cache: a store filled
// by a distributed run serves a local one, and the other way round. The
// worker prepares the stage with the same code as a local run
// (runtime.ExecuteRemote) and refuses to run it if it computes another key.
//
// Model requests answered on a worker are kept in memo chunks, written to
// the object store under the stage's key while the stage runs, so a
// retried attempt on another worker lists and reads them first and sends
// only the requests not yet answered. The coordinator merges the
// chunks into its memo when the stage ends.
//
// Task queues carry the version of the operator library (Fingerprint): a
// worker of another ouro never receives a stage whose key it would compute
// differently, and a stage nobody can take fails after the schedule
// timeout with a message that says so, instead of hanging.
//
// Where its job stops: it does not compile, decide what to run, compute
// keys or write the index (package runtime does), and it does not
// implement operators (package stdlib does).
package scaleout
