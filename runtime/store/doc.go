// Package store is ouro's on-disk cache: a Badger index of stage entries,
// per-request memo entries and run records, beside a directory of immutable,
// content-addressed blobs (datasets, checkpoints).
//
// Where its job stops: the store knows nothing of HCL, plans, operators or
// models. It stores opaque keys the runtime computes (stage keys, memo request
// keys), JSON result values it never interprets, and blobs it only hashes.
// Computing keys, deciding what to run and explaining why is the runtime's
// job; reading and writing dataset records is package dataset's.
//
// Layout of a store directory:
//
//	dir/LOCK                     flock held by the one owning process; holder info inside
//	dir/index/                   Badger v4 database (keys, indexes, runs, memo)
//	dir/blobs/sha256/ab/<hex>    immutable blobs, named by the SHA-256 of their content
//	dir/tmp/                     blobs being written; emptied at Open
//	dir/runs.pending             runs recorded by a ReadOnly open; imported at the next writable Open
//
// Durability. A blob is written to dir/tmp and staged under its digest by
// Commit (readable at once); before the next index write, all staged blobs
// are made durable together (DiskBlobs.SyncBlobs: their contents fsynced,
// renamed into place, each directory fsynced once), and PutStage refuses an
// entry whose blobs are missing, so no key ever points at a half-written or
// unsynced blob. A crash loses only staged blobs, which no key names. Index writes use Badger
// with synchronous writes: when PutStage, PutRun or Memo.Flush returns, the
// data is on disk. Concurrent PutStage calls are committed together, in one
// synced transaction (stage.go). Memo.Put only queues; the queue is
// flushed at least every 100 ms, when it grows large, by Flush and by Close,
// so a kill -9 loses at most the memo entries of the last interval. A store
// opened ReadOnly writes only PutRunSameAs records, to dir/runs.pending,
// fsynced before the call returns (pending.go).
//
// No-op summaries (noop.go) let a run repeat an earlier run that found
// everything cached; they hold only while the store's generation, replaced
// by every write that can change a stage-cache lookup, is unchanged.
//
// Ownership. One process owns a store (an exclusive flock on dir/LOCK). A
// second Open fails at once with a *LockedError naming the holder, or waits
// when Options.Wait is set. The kernel releases the flock of a crashed
// process, so recovery needs no action. Within the owning process a *Store is
// safe for concurrent use.
//
// Scale-out. Blobs are reached only through the BlobStore interface, so an
// S3-compatible object store can replace the local directory; the Badger index
// stays with the one coordinating process.
//
// See docs/store.md for the key prefixes and value formats.
package store
