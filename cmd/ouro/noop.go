package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/store"
)

// The no-op fast path (issue 3). A run of a spec without diagnostics that
// finds every stage cached (or skipped by a stopped loop) leaves a
// store.NoopSummary in the plan-cache slot of its spec: its plan-cache key
// (plancache.go: binary, spec files, variables), the id of its run record,
// the digests of the `source`/`checkpoint` files its stage keys read, and
// the blobs its outputs reference. The next `ouro run` of the same spec,
// without --force or --from, opens the store read-only and reuses that
// record instead of decoding the plan and looking up every stage when
//
//   - the plan-cache key is the same (same binary, spec files, variables),
//   - the store's generation is the one the summary was written under (no
//     stage entry was written or deleted, no gc, repair, pin or unpin
//     since: store/noop.go),
//   - every file pattern still has the same digest,
//   - every output blob still exists, and
//   - every file a stage wrote outside the store (export) still exists.
//
// Those decide every stage key and every cache lookup of the run, so the
// run would find every stage cached with the same results: it gets the same
// record (statuses, keys, metrics, outputs) under a new id and times,
// stored compactly as "the same as" the summarised run (in the store's
// pending-runs file, since the store is read-only).

// noopReplays counts the runs the fast path answered (for tests).
var noopReplays int

// replayNoop stores and returns the record of a repeat of the summarised
// no-op run of this spec, with its summary, or nil when the summary is
// missing or does not hold (then the run takes the usual path). With full
// false, the record returned has no Stages (the summary counts them), unless
// the run has metrics (their table is ordered by the stages): the text
// summary and a live view need no more, and decoding the summarised run's
// whole record (1,000 stages) took about 2 ms (perf), a fifth of a repeat.
func replayNoop(st *store.Store, path, planKey string, started time.Time, full bool, prov func() *store.Provenance) (*store.RunRecord, *store.NoopSummary) {
	sum, ok, err := st.NoopSummary(planSlot(path))
	if err != nil || !ok || sum.PlanKey != planKey {
		return nil, nil
	}
	dir := specDir(path)
	for pattern, want := range sum.Files {
		if got, err := runtime.FileDigest(dir, pattern); err != nil || got != want {
			return nil, nil
		}
	}
	for _, d := range sum.Blobs {
		if has, err := st.HasBlob(d); err != nil || !has {
			return nil, nil
		}
	}
	for _, f := range sum.Written {
		if !filepath.IsAbs(f) {
			f = filepath.Join(dir, f)
		}
		if _, err := os.Stat(f); err != nil {
			return nil, nil // the full path writes it again
		}
	}
	rec := &store.RunRecord{ID: store.NewRunID(started), Started: started, Status: "ok",
		Variables: map[string]json.RawMessage{}, Metrics: map[string]json.RawMessage{}, Outputs: sum.Outputs}
	if full || sum.Metrics {
		base, err := st.GetRun(sum.Run)
		if err != nil || base.ID != sum.Run || !replayable(base) || !sameCounts(base, sum.Counts) {
			return nil, nil
		}
		rec.SpecDigest, rec.Stages, rec.Outputs = base.SpecDigest, base.Stages, base.Outputs
		// As runtime.Run makes them: empty maps, not nil ("metrics": {} in --json).
		if base.Variables != nil {
			rec.Variables = base.Variables
		}
		rec.ChangedVariables, rec.PlanFormat = base.ChangedVariables, base.PlanFormat
		if base.Metrics != nil {
			rec.Metrics = base.Metrics
		}
	}
	if rec.Outputs == nil {
		rec.Outputs = map[string]json.RawMessage{}
	}
	rec.Provenance = prov()
	rec.PID = os.Getpid()
	rec.Host, _ = os.Hostname()
	rec.Finished = time.Now().UTC()
	if err := st.PutRunSameAs(rec, sum.Run); err != nil {
		return nil, nil
	}
	noopReplays++
	return rec, sum
}

// replayable reports whether a run record is one a no-op repeat reproduces:
// it finished ok, and every stage was cached or skipped (a loop stopped by
// its `until`, a model nothing reads: decided by cached values and the
// plan; a stage skipped because another failed makes the run fail).
func replayable(r *store.RunRecord) bool {
	if r.Status != "ok" || len(r.Stages) == 0 {
		return false
	}
	for _, s := range r.Stages {
		if s.Status != "cached" && s.Status != "skipped" {
			return false
		}
	}
	return true
}

// statusCounts counts a record's stages by status.
func statusCounts(r *store.RunRecord) map[string]int {
	c := map[string]int{}
	for _, s := range r.Stages {
		c[s.Status]++
	}
	return c
}

func sameCounts(r *store.RunRecord, want map[string]int) bool {
	got := statusCounts(r)
	if len(got) != len(want) {
		return false
	}
	for k, n := range want {
		if got[k] != n {
			return false
		}
	}
	return true
}

// summarizeNoop stores the no-op summary of a run that found everything
// cached, given the skipped stages it reported. Other runs leave the slot's
// summary alone: whatever makes it wrong also changes its plan key, a file
// digest or the store's generation. Failing to store it is not an error.
func summarizeNoop(st *store.Store, path, planKey string, res *runtime.Result, skips []store.Skip) {
	if !replayable(res.Record) {
		return
	}
	seen := map[store.Digest]bool{}
	var blobs []store.Digest
	for _, v := range res.Outputs {
		for _, d := range runtime.ReferencedBlobs(v) {
			if !seen[store.Digest(d)] {
				seen[store.Digest(d)] = true
				blobs = append(blobs, store.Digest(d))
			}
		}
	}
	sort.Slice(blobs, func(i, j int) bool { return blobs[i] < blobs[j] })
	r := res.Record
	_ = st.PutNoopSummary(planSlot(path), &store.NoopSummary{PlanKey: planKey, Run: r.ID, Files: res.Files, Blobs: blobs, Written: res.OutputFiles,
		Counts: statusCounts(r), Skips: skips, Outputs: r.Outputs, Metrics: len(r.Metrics) > 0})
}

// replayEvents tells the progress view what the full path would have: a
// "cached" event per cached stage and a "skipped" event, with its reason,
// per skipped stage the run reported, in plan order when the record lists
// its stages; else (only a live view or none gets those) the cached ones
// anonymous, then the skipped ones.
func replayEvents(view progressView, r *store.RunRecord, sum *store.NoopSummary) {
	if r.Stages == nil {
		for range sum.Counts["cached"] {
			view.Event(runtime.Event{Status: "cached"})
		}
		for _, sk := range sum.Skips {
			view.Event(runtime.Event{Address: sk.Address, Status: "skipped", Reason: sk.Reason})
		}
		return
	}
	reasons := map[string]string{}
	for _, sk := range sum.Skips {
		reasons[sk.Address] = sk.Reason
	}
	for _, s := range r.Stages {
		if s.Status == "cached" {
			view.Event(runtime.Event{Address: s.Address, Status: "cached"})
		} else if reason, ok := reasons[s.Address]; ok {
			view.Event(runtime.Event{Address: s.Address, Status: "skipped", Reason: reason})
		}
	}
}
