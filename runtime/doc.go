// Package runtime executes a compiled Plan.
//
// It walks the plan's DAG in topological order with bounded parallelism,
// evaluates each node's arguments with real values, computes the node's
// cache key, looks the key up in the store (package runtime/store), runs
// misses through the operator implementations it is given (a Library, which
// package stdlib provides), and records everything in a run record. Model
// calls go through a per-request memo so an interrupted stage resumes
// without repeating a finished request.
//
// The runtime does not parse specs or check types (package compiler did),
// and it does not implement operators or providers (package stdlib does):
// it owns the interfaces they satisfy — Operator, Provider, LM — and the
// Exec context an operator runs in.
package runtime
