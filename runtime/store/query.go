package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Queries during a run. Only one process owns a store (see lock.go), and
// a run owns it for hours; users still want `ouro runs`, `ouro show` and
// `ouro cache verify` meanwhile. The owner answers them instead: it serves
// the read-only queries below over HTTP on a Unix socket and names the
// socket in dir/LOCK, so a second process that finds the store locked
// (LockedError.Query) asks the owner through a QueryClient. Answers come
// from the owner's open store, so they are as current as the owner's own
// view (the run record of a run in progress is brought up to date every
// second). Nothing that writes is served; a crashed owner leaves a stale
// socket file, which the next owner replaces.

// Querier is what both a Store and a QueryClient answer.
type Querier interface {
	ListRuns(limit int) ([]*RunRecord, error)
	GetRun(idOrPrefix string) (*RunRecord, error)
	Stats() (Stats, error)
	Verify() ([]Damage, error)
}

var _ Querier = (*Store)(nil)
var _ Querier = (*QueryClient)(nil)

// querySocket is where the owner of dir listens: dir/query.sock, or a
// name in the temporary directory when that path is too long for a Unix
// socket (about 104 bytes).
func querySocket(dir string) string {
	p := filepath.Join(dir, "query.sock")
	if len(p) < 100 {
		return p
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(os.TempDir(), "ouro-"+hex.EncodeToString(sum[:8])+".sock")
}

// ServeQueries answers read-only queries from other processes until stop
// is called (before Close). The socket's path goes into dir/LOCK.
func (s *Store) ServeQueries() (stop func() error, err error) {
	path := querySocket(s.dir)
	_ = os.Remove(path) // a crashed owner's
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("store: serve queries: %w", err)
	}
	mux := http.NewServeMux()
	answer := func(w http.ResponseWriter, v any, err error) {
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			var amb *AmbiguousRunError
			qe := queryError{Message: err.Error()}
			switch {
			case errors.As(err, &amb):
				qe.Matches = amb.Matches
				w.WriteHeader(http.StatusConflict)
			case errors.Is(err, ErrNotFound):
				w.WriteHeader(http.StatusNotFound)
			default:
				w.WriteHeader(http.StatusInternalServerError)
			}
			_ = json.NewEncoder(w).Encode(qe)
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /runs", func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		runs, err := s.ListRuns(limit)
		answer(w, runs, err)
	})
	mux.HandleFunc("GET /run", func(w http.ResponseWriter, r *http.Request) {
		run, err := s.GetRun(r.URL.Query().Get("id"))
		answer(w, run, err)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		st, err := s.Stats()
		answer(w, st, err)
	})
	mux.HandleFunc("GET /verify", func(w http.ResponseWriter, r *http.Request) {
		d, err := s.Verify()
		answer(w, d, err)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	if err := s.lock.setQuery(path); err != nil {
		srv.Close()
		os.Remove(path)
		return nil, err
	}
	return func() error {
		_ = s.lock.setQuery("")
		err := srv.Close()
		os.Remove(path)
		return err
	}, nil
}

type queryError struct {
	Message string   `json:"error"`
	Matches []string `json:"matches,omitempty"`
}

// QueryClient asks the process that owns a store (see ServeQueries).
type QueryClient struct {
	Owner *LockedError // who answers
	http  *http.Client
}

// DialQueries returns a client for the owner named by a LockedError, or
// nil when the owner does not serve queries.
func DialQueries(owner *LockedError) *QueryClient {
	if owner == nil || owner.Query == "" {
		return nil
	}
	path := owner.Query
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &QueryClient{Owner: owner, http: &http.Client{Transport: tr, Timeout: 10 * time.Minute}}
}

func (c *QueryClient) get(path string, q url.Values, out any) error {
	resp, err := c.http.Get("http://ouro" + path + "?" + q.Encode())
	if err != nil {
		return fmt.Errorf("asking the process that holds store %s (pid %d): %w", c.Owner.Dir, c.Owner.PID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var qe queryError
		if json.Unmarshal(body, &qe) != nil {
			qe.Message = resp.Status
		}
		switch resp.StatusCode {
		case http.StatusNotFound:
			// The owner's message, as the owner's error said it.
			return notFoundError(qe.Message)
		case http.StatusConflict:
			return &AmbiguousRunError{Prefix: q.Get("id"), Matches: qe.Matches}
		}
		return errors.New(qe.Message)
	}
	return json.Unmarshal(body, out)
}

// ListRuns is Store.ListRuns, asked of the owner.
func (c *QueryClient) ListRuns(limit int) ([]*RunRecord, error) {
	var runs []*RunRecord
	err := c.get("/runs", url.Values{"limit": {strconv.Itoa(limit)}}, &runs)
	return runs, err
}

// GetRun is Store.GetRun, asked of the owner.
func (c *QueryClient) GetRun(idOrPrefix string) (*RunRecord, error) {
	var r RunRecord
	if err := c.get("/run", url.Values{"id": {idOrPrefix}}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Stats is Store.Stats, asked of the owner.
func (c *QueryClient) Stats() (Stats, error) {
	var st Stats
	err := c.get("/stats", nil, &st)
	return st, err
}

// Verify is Store.Verify (the check, not the repair), asked of the owner.
func (c *QueryClient) Verify() ([]Damage, error) {
	var d []Damage
	err := c.get("/verify", nil, &d)
	return d, err
}

// notFoundError is an ErrNotFound with the message the store owner gave.
type notFoundError string

func (e notFoundError) Error() string { return string(e) }
func (e notFoundError) Unwrap() error { return ErrNotFound }
