package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LockedError reports that another process owns the store.
type LockedError struct {
	Dir     string    // the store directory
	PID     int       // holder's process id (0 if unknown)
	Host    string    // holder's host name
	Command string    // holder's command line, e.g. "ouro run loop.hcl"
	Started time.Time // when the holder took the lock
	Waited  time.Duration
	// Query is the socket on which the holder answers read-only queries
	// (a run in progress does; see ServeQueries), or "".
	Query string
}

func (e *LockedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "store %s is in use", e.Dir)
	if e.PID != 0 {
		fmt.Fprintf(&b, " by pid %d", e.PID)
		if e.Host != "" {
			if h, _ := os.Hostname(); h != e.Host {
				fmt.Fprintf(&b, " on %s", e.Host)
			}
		}
		var det []string
		if e.Command != "" {
			det = append(det, e.Command)
		}
		if !e.Started.IsZero() {
			det = append(det, "started "+e.Started.UTC().Format(time.RFC3339))
		}
		if len(det) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(det, ", "))
		}
	} else {
		b.WriteString(" by another process")
	}
	if e.Waited > 0 {
		fmt.Fprintf(&b, "; gave up after waiting %s", e.Waited.Round(time.Millisecond))
	} else {
		b.WriteString("; wait with --wait")
	}
	return b.String()
}

// lockInfo is what the holder writes into dir/LOCK.
type lockInfo struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Command string    `json:"command"`
	Started time.Time `json:"started"`
	Query   string    `json:"query,omitempty"`
}

// errWouldBlock is returned by tryLock when another process holds the lock.
var errWouldBlock = errors.New("lock held")

// fileLock is an acquired lock on dir/LOCK.
type fileLock struct {
	f    *os.File
	info lockInfo
}

// acquireLock takes the exclusive lock on dir/LOCK, polling when wait is set.
func acquireLock(dir string, opts Options) (*fileLock, error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store: open lock file: %w", err)
	}
	start := time.Now()
	delay := 20 * time.Millisecond
	for {
		err := tryLock(f)
		if err == nil {
			break
		}
		if !errors.Is(err, errWouldBlock) {
			f.Close()
			return nil, fmt.Errorf("store: lock %s: %w", path, err)
		}
		waited := time.Since(start)
		if !opts.Wait || (opts.WaitTimeout > 0 && waited >= opts.WaitTimeout) {
			f.Close()
			le := readLockInfo(dir, path)
			if opts.Wait {
				le.Waited = waited
			}
			return nil, le
		}
		time.Sleep(delay)
		if delay < 500*time.Millisecond {
			delay *= 2
		}
	}
	info := lockInfo{PID: os.Getpid(), Command: opts.Command, Started: time.Now().UTC().Truncate(time.Second)}
	info.Host, _ = os.Hostname()
	if info.Command == "" {
		info.Command = defaultCommand()
	}
	l := &fileLock{f: f, info: info}
	if err := l.writeInfo(); err != nil {
		unlock(f)
		f.Close()
		return nil, err
	}
	return l, nil
}

// writeInfo writes the holder's info into the lock file. Not synced:
// other processes read it through the page cache while the lock is held,
// and after a crash it is stale and ignored.
func (l *fileLock) writeInfo() error {
	data, _ := json.Marshal(l.info)
	data = append(data, '\n')
	if err := l.f.Truncate(0); err == nil {
		if _, err = l.f.WriteAt(data, 0); err != nil {
			return fmt.Errorf("store: write lock file: %w", err)
		}
	}
	return nil
}

// setQuery names (or, with "", stops naming) the holder's query socket in
// the lock file.
func (l *fileLock) setQuery(path string) error {
	if l == nil || l.f == nil {
		return nil
	}
	l.info.Query = path
	return l.writeInfo()
}

func (l *fileLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	// Leave the info of the last holder in place: it is only read while the
	// lock is held, and truncating here would race with the next holder.
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// readLockInfo reads the holder's info, retrying briefly because the holder
// writes it just after taking the lock.
func readLockInfo(dir, path string) *LockedError {
	le := &LockedError{Dir: dir}
	for i := 0; i < 5; i++ {
		data, err := os.ReadFile(path)
		if err == nil && len(data) > 0 {
			var info lockInfo
			if json.Unmarshal(data, &info) == nil {
				le.PID, le.Host, le.Command, le.Started, le.Query = info.PID, info.Host, info.Command, info.Started, info.Query
				return le
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return le
}

// defaultCommand is the program name and its first argument, e.g. "ouro run".
// Later arguments are left out: they are not needed to recognise the holder.
func defaultCommand() string {
	if len(os.Args) == 0 {
		return ""
	}
	cmd := filepath.Base(os.Args[0])
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		cmd += " " + os.Args[1]
	}
	return cmd
}
