package store

import (
	"errors"
	"testing"
	"time"
)

// TestQueries: a second Open of a store whose owner serves queries gets a
// LockedError naming the socket, and a QueryClient on it answers as the
// owner's Store does, errors included.
func TestQueries(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{Command: "ouro run"})
	start := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	var ids []string
	for i := 0; i < 3; i++ {
		r := &RunRecord{ID: NewRunID(start.Add(time.Duration(i) * time.Minute)), Started: start.Add(time.Duration(i) * time.Minute), Status: "ok",
			Stages: []StageRun{{Name: "gen", Round: -1, Status: "ran"}}}
		if err := s.PutRun(r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}

	_, err := Open(dir, Options{})
	var le *LockedError
	if !errors.As(err, &le) || le.Query != "" {
		t.Fatalf("before ServeQueries: %v, want a LockedError without a socket", err)
	}
	if DialQueries(le) != nil {
		t.Fatal("a client for an owner that serves no queries")
	}
	stop, err := s.ServeQueries()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, Options{})
	if !errors.As(err, &le) || le.Query == "" {
		t.Fatalf("after ServeQueries: %v, want a LockedError naming the socket", err)
	}
	c := DialQueries(le)
	runs, err := c.ListRuns(2)
	if err != nil || len(runs) != 2 || runs[0].ID != ids[2] || runs[1].Stages[0].Name != "gen" {
		t.Fatalf("ListRuns(2) = %v, %v", runs, err)
	}
	r, err := c.GetRun(ids[1])
	if err != nil || r.ID != ids[1] {
		t.Fatalf("GetRun = %v, %v", r, err)
	}
	if _, err := c.GetRun("1999"); !errors.Is(err, ErrNotFound) || err.Error() != `run "1999": not found; the nearest: `+ids[2]+", "+ids[1]+", "+ids[0] {
		t.Fatalf("GetRun(missing) = %v", err)
	}
	var amb *AmbiguousRunError
	if _, err := c.GetRun("2026"); !errors.As(err, &amb) || len(amb.Matches) != 3 {
		t.Fatalf("GetRun(ambiguous) = %v", err)
	}
	st, err := c.Stats()
	if err != nil || st.Runs.Count != 3 {
		t.Fatalf("Stats = %+v, %v", st.Runs, err)
	}
	if d, err := c.Verify(); err != nil || len(d) != 0 {
		t.Fatalf("Verify = %v, %v", d, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListRuns(1); err == nil {
		t.Fatal("the client still gets answers after stop")
	}
	_, err = Open(dir, Options{})
	if !errors.As(err, &le) || le.Query != "" {
		t.Fatalf("after stop: %v, want a LockedError without a socket", err)
	}
}
