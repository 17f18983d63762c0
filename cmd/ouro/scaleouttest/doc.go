// Package scaleouttest holds the end-to-end tests of distributed runs: a
// real Temporal server in this process (go.temporal.io/server/temporaltest),
// real `ouro worker` subprocesses, a real blob store (a directory, or the
// Versity S3 gateway), and `ouro run --executor temporal` compared with a
// local run of the same spec. It is a package of its own so the Temporal
// server, slow to compile, is built once and only for these tests (and not
// under -race with the runtime's).
package scaleouttest
