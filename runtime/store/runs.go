package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// RunRecord is what one `ouro run` did.
type RunRecord struct {
	ID         string                     `json:"id"`
	Started    time.Time                  `json:"started"`
	Finished   time.Time                  `json:"finished,omitzero"`
	SpecDigest string                     `json:"spec_digest,omitempty"`
	Variables  map[string]json.RawMessage `json:"variables,omitempty"`
	Stages     []StageRun                 `json:"stages,omitempty"`
	Metrics    map[string]json.RawMessage `json:"metrics,omitempty"`
	Outputs    map[string]json.RawMessage `json:"outputs,omitempty"`
	// Status is running, ok, failed or cancelled as stored; GetRun and
	// ListRuns report a running record whose process is gone (killed, or
	// its machine lost power) as interrupted.
	Status string `json:"status,omitempty"`
	Pinned bool   `json:"pinned,omitempty"`
	// PID and Host name the process that ran (or runs) the run, so a
	// reader can tell a run in progress from one that was killed.
	PID  int    `json:"pid,omitempty"`
	Host string `json:"host,omitempty"`
	// ChangedVariables names the variables given a value other than their
	// default (-var, -var-file), sorted.
	ChangedVariables []string `json:"changed_variables,omitempty"`
	// PlanFormat is the plan format (compiler.FormatVersion) the run's
	// spec was compiled to; 0 in records written before ouro recorded it.
	PlanFormat int `json:"plan_format,omitempty"`
	// Provenance says what produced the run; nil in records written before
	// ouro recorded it.
	Provenance *Provenance `json:"provenance,omitempty"`
}

// Provenance is what produced a run: the command line, the ouro binary,
// the machine, and the git state of the spec's folder.
type Provenance struct {
	// Command is the command line (os.Args, the program by base name).
	Command []string `json:"command,omitempty"`
	// Jobs is -j: stages run at once.
	Jobs int `json:"jobs,omitempty"`
	// Executor is "local" or the distributed executor ("temporal").
	Executor string `json:"executor,omitempty"`
	// Ouro is the release (`ouro version`); Revision and Modified are the
	// VCS revision the binary was built from and whether its tree had
	// changes, from the binary's build info (empty under `go run`).
	Ouro     string `json:"ouro,omitempty"`
	Revision string `json:"ouro_revision,omitempty"`
	Modified bool   `json:"ouro_modified,omitempty"`
	Go       string `json:"go,omitempty"`
	OS       string `json:"os,omitempty"`
	Arch     string `json:"arch,omitempty"`
	Cores    int    `json:"cores,omitempty"`
	// SpecPath is the spec's path relative to the root of its git work
	// tree, or absolute outside one.
	SpecPath string `json:"spec_path,omitempty"`
	// Git is the state of the work tree holding the spec; nil outside a
	// git repository or without git.
	Git *GitState `json:"git,omitempty"`
}

// GitState is the git state of the work tree a run's spec lives in.
type GitState struct {
	Commit string `json:"commit,omitempty"` // empty before the first commit
	Branch string `json:"branch,omitempty"` // empty on a detached HEAD
	// Dirty is whether the work tree had changes (tracked files changed,
	// or files not ignored that git does not track) other than the store.
	Dirty bool `json:"dirty,omitempty"`
	// DiffDigest identifies the changes under the spec's folder when
	// dirty: sha256 of `git diff HEAD` of the folder and of its untracked
	// files; empty when the folder itself is clean.
	DiffDigest string `json:"diff_digest,omitempty"`
}

// Binary is the ouro release with the revision it was built from:
// "0.1.0-dev (22d7de4…, modified)", or just the release.
func (p *Provenance) Binary() string {
	s := p.Ouro
	if p.Revision != "" {
		s += " (" + p.Revision
		if p.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return s
}

// ShortCommit is the commit's first 7 hex digits, with a * when the work
// tree was dirty; empty without git.
func (p *Provenance) ShortCommit() string {
	if p == nil || p.Git == nil {
		return ""
	}
	c := p.Git.Commit
	if len(c) > 7 {
		c = c[:7]
	}
	if c == "" {
		c = "(none)"
	}
	if p.Git.Dirty {
		c += "*"
	}
	return c
}

// StatusInterrupted is the status GetRun and ListRuns give a record stored
// as running whose process no longer holds the store.
const StatusInterrupted = "interrupted"

// StageRun is one stage's part in a run.
type StageRun struct {
	Name     string           `json:"name"`
	Address  string           `json:"address,omitempty"`
	Round    int              `json:"round"`  // -1 outside loops
	Status   string           `json:"status"` // ran | cached | failed | skipped
	Key      string           `json:"key,omitempty"`
	Started  time.Time        `json:"started,omitzero"`
	Duration time.Duration    `json:"duration,omitempty"`
	Error    string           `json:"error,omitempty"`
	Counts   map[string]int64 `json:"counts,omitempty"`
	// Warnings are what the stage told the user when it ran (an empty
	// input, an inferred schema).
	Warnings []string `json:"warnings,omitempty"`
	// Worker is the identity of the worker that ran the stage in a
	// distributed run (empty when the coordinating process ran it).
	Worker string `json:"worker,omitempty"`
	// Operator and Version name the implementation (a model's provider as
	// "provider:NAME"); Parts holds the digest of each part of the cache
	// key (argument name -> digest), so two runs can say which part of a
	// stage's key changed (`ouro diff`).
	Operator string            `json:"operator,omitempty"`
	Version  int               `json:"version,omitempty"`
	Parts    map[string]string `json:"parts,omitempty"`
	// Inputs marks the parts whose values are datasets ("dataset") or
	// models ("model"): a change there comes from upstream.
	Inputs map[string]string `json:"inputs,omitempty"`
	// Seed is the stage's seed, part of its key.
	Seed uint64 `json:"seed,omitempty"`
	// Model is the model the stage produced (a model block, or a trainer
	// stage's `model`), by provider and digest: what `ouro serve --model
	// NAME=DIGEST` takes, and what `ouro serve --run` serves.
	Model *ModelInfo `json:"model,omitempty"`
	// Servers is what each remote model's server did for the stage's
	// requests (the openai provider reports it), by model identity.
	Servers map[string]*ServerStats `json:"servers,omitempty"`
}

// ServerStats is what a model server did for one stage: the requests it
// was sent and what its answers showed of the parameters it honoured, as
// far as that is cheap to see. Counts cover this run's requests only (a
// memoised answer sends nothing).
type ServerStats struct {
	// Model names the model as the provider knows it: "name at base_url".
	Model string `json:"model"`
	// Requests is the HTTP requests answered, FanOut of them the ones
	// sent for samples an earlier request with n did not return, Retries
	// the failed attempts that were tried again.
	Requests int64 `json:"requests"`
	FanOut   int64 `json:"fan_out,omitempty"`
	Retries  int64 `json:"retries,omitempty"`
	// ChoicesAsked sums n over the requests; ChoicesReturned the choices
	// that came back.
	ChoicesAsked    int64 `json:"choices_asked"`
	ChoicesReturned int64 `json:"choices_returned"`
	// NIgnored: a request with n > 1 got fewer choices (or was refused),
	// so the stage's other samples went out as separate requests.
	NIgnored bool `json:"n_ignored,omitempty"`
	// LogprobsMissing counts choices without log-probabilities although
	// they were asked for.
	LogprobsMissing int64 `json:"logprobs_missing,omitempty"`
	// CompletionTokens sums usage.completion_tokens over the answers that
	// had logprobs asked for; LogprobTokens the log-probability entries
	// of the same answers; ShortLogprobs counts the answers with fewer
	// entries than completion tokens (a logprob covering part of a
	// completion).
	CompletionTokens int64 `json:"completion_tokens,omitempty"`
	LogprobTokens    int64 `json:"logprob_tokens,omitempty"`
	ShortLogprobs    int64 `json:"short_logprobs,omitempty"`
	// Unverified lists the non-standard parameters sent whose effect the
	// answers cannot show (top_k): a server may drop them silently.
	Unverified []string `json:"unverified,omitempty"`
}

// Add adds d's counts to s (the model name and flags too).
func (s *ServerStats) Add(d ServerStats) {
	if s.Model == "" {
		s.Model = d.Model
	}
	s.Requests += d.Requests
	s.FanOut += d.FanOut
	s.Retries += d.Retries
	s.ChoicesAsked += d.ChoicesAsked
	s.ChoicesReturned += d.ChoicesReturned
	s.NIgnored = s.NIgnored || d.NIgnored
	s.LogprobsMissing += d.LogprobsMissing
	s.CompletionTokens += d.CompletionTokens
	s.LogprobTokens += d.LogprobTokens
	s.ShortLogprobs += d.ShortLogprobs
	for _, u := range d.Unverified {
		if !slices.Contains(s.Unverified, u) {
			s.Unverified = append(s.Unverified, u)
			slices.Sort(s.Unverified)
		}
	}
}

// ModelInfo names a model a run produced.
type ModelInfo struct {
	Provider string `json:"provider"`
	Digest   string `json:"digest"`
}

// NewRunID returns a run id that sorts by time: 20261124T150102Z-1a2b3c.
func NewRunID(t time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// PutRun stores (or replaces) a run record. Write it when the run starts and
// again as it progresses, so GC never collects the work of a run in flight.
func (s *Store) PutRun(r *RunRecord) error {
	if r.ID == "" {
		return errors.New("store: PutRun: empty id")
	}
	if r.Started.IsZero() {
		return errors.New("store: PutRun: zero start time")
	}
	return s.update(func(txn *badger.Txn) error {
		// Keep the pin state owned by PinRun.
		if _, err := txn.Get(key(prefixPin, r.ID)); err == nil {
			r.Pinned = true
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		val, err := encodeJSON(r)
		if err != nil {
			return err
		}
		// If the record existed with another start time, drop its old time key.
		if it, err := txn.Get(key(prefixRun, r.ID)); err == nil {
			var old RunRecord
			if err := it.Value(func(v []byte) error { return decodeJSON(v, &old) }); err == nil && !old.Started.Equal(r.Started) {
				if err := txn.Delete(runTimeKey(old.Started, old.ID)); err != nil {
					return err
				}
			}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if err := txn.Set(key(prefixRun, r.ID), val); err != nil {
			return err
		}
		return txn.Set(runTimeKey(r.Started, r.ID), nil)
	})
}

// storedRun is a run record as stored: either the whole record, or (SameAs
// set) only its id, times, status and pin, the rest being that of run
// SameAs — how a no-op re-run that reuses an earlier run's outcome is kept
// (see NoopSummary): a few hundred bytes instead of a copy of every stage.
type storedRun struct {
	*RunRecord
	SameAs string `json:"same_as,omitempty"`
}

// PutRunSameAs stores r as a run whose spec digest, variables, stages,
// metrics and outputs are those of the stored run base, which must be a
// record stored whole (by PutRun; reading a record stored as the same as
// one stored as the same as another fails); only r's id, times, status and
// pin are written. GetRun and ListRuns return the whole record.
func (s *Store) PutRunSameAs(r *RunRecord, base string) error {
	if r.ID == "" || r.Started.IsZero() {
		return errors.New("store: PutRunSameAs: empty id or zero start time")
	}
	head := RunRecord{ID: r.ID, Started: r.Started, Finished: r.Finished, Status: r.Status, Pinned: r.Pinned,
		PID: r.PID, Host: r.Host, Provenance: r.Provenance}
	sr := storedRun{RunRecord: &head, SameAs: base}
	if s.readOnly {
		err := s.db.View(func(txn *badger.Txn) error {
			ok, err := hasRun(txn, base)
			if err == nil && !ok {
				err = badger.ErrKeyNotFound
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("store: PutRunSameAs: run %s: %w", base, err)
		}
		return s.appendPending(sr)
	}
	val, err := encodeJSON(sr)
	if err != nil {
		return err
	}
	return s.update(func(txn *badger.Txn) error {
		if _, err := txn.Get(key(prefixRun, base)); err != nil {
			return fmt.Errorf("store: PutRunSameAs: run %s: %w", base, err)
		}
		if _, err := txn.Get(key(prefixRun, r.ID)); err == nil {
			return fmt.Errorf("store: PutRunSameAs: run %s exists", r.ID)
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if err := txn.Set(key(prefixRun, r.ID), val); err != nil {
			return err
		}
		return txn.Set(runTimeKey(r.Started, r.ID), nil)
	})
}

// decodeRun decodes a stored run record, filling in the body of a record
// stored with SameAs from its base (bases are remembered in cache, which
// may be nil).
func decodeRun(txn *badger.Txn, v []byte, cache map[string]*RunRecord) (*RunRecord, error) {
	sr := storedRun{RunRecord: new(RunRecord)}
	if err := decodeJSON(v, &sr); err != nil {
		return nil, err
	}
	if sr.SameAs == "" {
		return sr.RunRecord, nil
	}
	base := cache[sr.SameAs]
	if base == nil {
		it, err := txn.Get(key(prefixRun, sr.SameAs))
		if err != nil {
			return nil, fmt.Errorf("run %s is the same as run %s: %w", sr.ID, sr.SameAs, err)
		}
		b := storedRun{RunRecord: new(RunRecord)}
		if err := it.Value(func(v []byte) error { return decodeJSON(v, &b) }); err != nil {
			return nil, err
		}
		if b.SameAs != "" {
			return nil, fmt.Errorf("run %s is the same as run %s, which is stored as the same as %s", sr.ID, sr.SameAs, b.SameAs)
		}
		base = b.RunRecord
		if cache != nil {
			cache[sr.SameAs] = base
		}
	}
	r := sr.RunRecord
	r.SpecDigest, r.Variables, r.Stages, r.Metrics, r.Outputs = base.SpecDigest, base.Variables, base.Stages, base.Metrics, base.Outputs
	r.ChangedVariables, r.PlanFormat = base.ChangedVariables, base.PlanFormat
	return r, nil
}

func runTimeKey(t time.Time, id string) []byte {
	k := make([]byte, 9, 9+len(id))
	k[0] = prefixRunByTime
	binary.BigEndian.PutUint64(k[1:], uint64(t.UnixNano()))
	return append(k, id...)
}

// AmbiguousRunError is returned by GetRun when a prefix names several runs.
type AmbiguousRunError struct {
	Prefix  string
	Matches []string // the first few matching ids
}

func (e *AmbiguousRunError) Error() string {
	return fmt.Sprintf("run id prefix %q is ambiguous: matches %v", e.Prefix, e.Matches)
}

// latestOffset parses "latest" (0) and "latest~N" (N): the newest run and
// the one N runs before it, as git's HEAD~N counts.
func latestOffset(ref string) (int, bool) {
	if ref == "latest" {
		return 0, true
	}
	rest, ok := strings.CutPrefix(ref, "latest~")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// GetRun returns the run with this id or unique id prefix, or, for
// "latest" and "latest~N", the newest run and the one N runs before it. A
// missing run gives an error wrapping ErrNotFound.
func (s *Store) GetRun(idOrPrefix string) (*RunRecord, error) {
	if idOrPrefix == "" {
		return nil, errors.New("store: empty run id")
	}
	if back, ok := latestOffset(idOrPrefix); ok {
		runs, err := s.ListRuns(back + 1)
		if err != nil {
			return nil, err
		}
		if len(runs) <= back {
			return nil, fmt.Errorf("run %q: the store holds %d runs: %w", idOrPrefix, len(runs), ErrNotFound)
		}
		return runs[back], nil
	}
	var rec *RunRecord
	err := s.db.View(func(txn *badger.Txn) error {
		if it, err := txn.Get(key(prefixRun, idOrPrefix)); err == nil {
			return it.Value(func(v []byte) error {
				var err error
				rec, err = decodeRun(txn, v, nil)
				return err
			})
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = key(prefixRun, idOrPrefix)
		iter := txn.NewIterator(opts)
		defer iter.Close()
		var matches []string
		var first []byte
		for iter.Rewind(); iter.Valid(); iter.Next() {
			item := iter.Item()
			matches = append(matches, string(item.Key()[1:]))
			if len(matches) == 1 {
				v, err := item.ValueCopy(nil)
				if err != nil {
					return err
				}
				first = v
			}
			if len(matches) > 5 {
				break
			}
		}
		switch len(matches) {
		case 0:
			if near := nearestRuns(txn, idOrPrefix, 3); len(near) > 0 {
				return fmt.Errorf("run %q: %w; the nearest: %s", idOrPrefix, ErrNotFound, strings.Join(near, ", "))
			}
			return fmt.Errorf("run %q: %w (the store holds no runs)", idOrPrefix, ErrNotFound)
		case 1:
			var err error
			rec, err = decodeRun(txn, first, nil)
			return err
		default:
			return &AmbiguousRunError{Prefix: idOrPrefix, Matches: matches}
		}
	})
	if err != nil {
		return nil, err
	}
	s.settle(rec)
	return rec, nil
}

// settle reports a record stored as running as interrupted when the
// process that wrote it cannot be running it: every process that runs a
// spec holds the store's lock for the whole run, so when this Store holds
// the lock, a running record of another process was left by one that
// died. A record this process is writing (a run in progress here) stays
// running.
func (s *Store) settle(r *RunRecord) {
	if r == nil || r.Status != "running" {
		return
	}
	host, _ := os.Hostname()
	if r.PID == os.Getpid() && r.Host == host {
		return
	}
	if s.lock != nil && s.lock.f != nil {
		r.Status = StatusInterrupted
	}
}

// ListRuns returns up to limit runs, newest first (limit <= 0: all).
func (s *Store) ListRuns(limit int) ([]*RunRecord, error) {
	var out []*RunRecord
	bases := map[string]*RunRecord{}
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Reverse = true
		opts.Prefix = []byte{prefixRunByTime}
		iter := txn.NewIterator(opts)
		defer iter.Close()
		for iter.Seek([]byte{prefixRunByTime, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}); iter.Valid(); iter.Next() {
			k := iter.Item().Key()
			if len(k) < 9 {
				continue
			}
			id := k[9:]
			it, err := txn.Get(key(prefixRun, string(id)))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			var r *RunRecord
			if err := it.Value(func(v []byte) error {
				var err error
				r, err = decodeRun(txn, v, bases)
				return err
			}); err != nil {
				return fmt.Errorf("run %s: %w", id, err)
			}
			s.settle(r)
			out = append(out, r)
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		return nil
	})
	return out, err
}

// PinRun pins (or unpins) a run: GC keeps everything a pinned run used.
func (s *Store) PinRun(id string, pinned bool) error {
	r, err := s.GetRun(id)
	if err != nil {
		return err
	}
	return s.update(func(txn *badger.Txn) error {
		if err := bumpGeneration(txn); err != nil {
			return err
		}
		r.Pinned = pinned
		val, err := encodeJSON(r)
		if err != nil {
			return err
		}
		if err := txn.Set(key(prefixRun, r.ID), val); err != nil {
			return err
		}
		if pinned {
			return txn.Set(key(prefixPin, r.ID), nil)
		}
		return txn.Delete(key(prefixPin, r.ID))
	})
}

// pinnedRuns returns the ids of pinned runs.
func (s *Store) pinnedRuns() (map[string]bool, error) {
	pins := map[string]bool{}
	err := s.scanKeys([]byte{prefixPin}, func(k []byte) error {
		pins[string(k[1:])] = true
		return nil
	})
	return pins, err
}

// scanKeys calls fn with each key (a copy) under prefix.
func (s *Store) scanKeys(prefix []byte, fn func(k []byte) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = prefix
		iter := txn.NewIterator(opts)
		defer iter.Close()
		for iter.Rewind(); iter.Valid(); iter.Next() {
			if err := fn(bytes.Clone(iter.Item().Key())); err != nil {
				return err
			}
		}
		return nil
	})
}

// nearestRuns returns up to n run ids that share the longest prefix with
// id, newest first (ids sort by time): what a mistyped id was likely
// meant to be.
func nearestRuns(txn *badger.Txn, id string, n int) []string {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = []byte{prefixRun}
	iter := txn.NewIterator(opts)
	defer iter.Close()
	best := -1
	var near []string
	for iter.Rewind(); iter.Valid(); iter.Next() {
		cand := string(iter.Item().Key()[1:])
		common := 0
		for common < len(cand) && common < len(id) && cand[common] == id[common] {
			common++
		}
		switch {
		case common > best:
			best, near = common, []string{cand}
		case common == best:
			near = append(near, cand)
		}
	}
	slices.Reverse(near)
	if len(near) > n {
		near = near[:n]
	}
	return near
}
