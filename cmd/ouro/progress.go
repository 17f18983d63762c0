package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ouroloop/ouro/runtime"
)

// progressView shows a run's progress on stderr: plain lines (one per event)
// or, on a terminal, a live view with one line per running stage and, for
// item-level operators, a bar with items/s and ETA. Nothing goes to stdout.
type progressView interface {
	Event(ev runtime.Event)
	Stop()
}

// newProgressView picks the view for --progress=auto|plain|none.
func newProgressView(mode string, w io.Writer) (progressView, error) {
	switch progressKind(mode, w) {
	case "none":
		return noProgress{}, nil
	case "plain":
		return &plainView{w: w}, nil
	case "tty":
		return newTTYView(w, time.Now, 100*time.Millisecond), nil
	}
	return nil, usageError{fmt.Errorf("--progress must be auto, plain or none, not %q", mode)}
}

// progressKind resolves --progress to the view newProgressView makes:
// none, plain or tty ("" for a bad mode).
func progressKind(mode string, w io.Writer) string {
	switch mode {
	case "none", "plain", "tty":
		return mode
	case "auto", "":
		if isTerminal(w) && os.Getenv("TERM") != "dumb" {
			return "tty"
		}
		return "plain"
	}
	return ""
}

type noProgress struct{}

func (noProgress) Event(runtime.Event) {}
func (noProgress) Stop()               {}

// plainView writes one line per event (--progress=plain, and whenever
// stderr is not a terminal).
type plainView struct {
	mu sync.Mutex
	w  io.Writer
}

func (v *plainView) Event(ev runtime.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	writeEvent(v.w, ev)
}

func (v *plainView) Stop() {}

func writeEvent(w io.Writer, ev runtime.Event) {
	switch ev.Status {
	case "running":
		fmt.Fprintf(w, "  … %-40s running (%s)\n", ev.Address, ev.Reason)
	case "ran":
		fmt.Fprintf(w, "  ✓ %-40s ran in %s%s\n", ev.Address, ev.Duration.Round(time.Millisecond), itemCounts(ev))
		for _, warning := range ev.Warnings {
			fmt.Fprintf(w, "    ! %s\n", warning)
		}
	case "cached":
		fmt.Fprintf(w, "  · %-40s cached\n", ev.Address)
	case "failed":
		fmt.Fprintf(w, "  ✗ %-40s failed\n", ev.Address)
	case "skipped":
		fmt.Fprintf(w, "  - %-40s skipped (%s)\n", ev.Address, ev.Reason)
	case "will-run":
		fmt.Fprintf(w, "  + %-40s will run (%s)\n", ev.Address, ev.Reason)
	}
}

// itemCounts is ", 5000 items" for a stage that processed items, and for
// one whose value is a dataset the records it produced: ", 5000 → 4434
// records" (a filter that kept 4434 of 5000), ", 4434 records".
func itemCounts(ev runtime.Event) string {
	var done int64
	if ev.Progress != nil {
		done = ev.Progress.Done()
	}
	switch {
	case done > 0 && ev.HasRecords:
		return fmt.Sprintf(", %d → %d records", done, ev.Records)
	case done > 0:
		return fmt.Sprintf(", %d items", done)
	case ev.HasRecords:
		return fmt.Sprintf(", %d records", ev.Records)
	}
	return ""
}

// ttyView redraws a live block under the finished lines: one line per
// running stage and a summary line. Finished stages that ran, failed or
// were skipped scroll above it; cached ones are only counted.
type ttyView struct {
	mu      sync.Mutex
	w       io.Writer
	now     func() time.Time
	running map[string]*ttyStage
	counts  map[string]int
	drawn   int // lines of the live block on screen
	start   time.Time
	stop    chan struct{}
	done    chan struct{}
	stopped bool
}

type ttyStage struct {
	start time.Time
	ctr   *runtime.Counter
}

// newTTYView starts a view that redraws every tick (tick <= 0: only on
// events, for tests).
func newTTYView(w io.Writer, now func() time.Time, tick time.Duration) *ttyView {
	v := &ttyView{w: w, now: now, running: map[string]*ttyStage{}, counts: map[string]int{}, start: now(),
		stop: make(chan struct{}), done: make(chan struct{})}
	if tick > 0 {
		go func() {
			defer close(v.done)
			t := time.NewTicker(tick)
			defer t.Stop()
			for {
				select {
				case <-v.stop:
					return
				case <-t.C:
					v.mu.Lock()
					v.redraw()
					v.mu.Unlock()
				}
			}
		}()
	} else {
		close(v.done)
	}
	return v
}

func (v *ttyView) Event(ev runtime.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.stopped {
		return
	}
	switch ev.Status {
	case "running":
		ctr := ev.Progress
		if ctr == nil {
			ctr = &runtime.Counter{}
		}
		v.running[ev.Address] = &ttyStage{start: v.now(), ctr: ctr}
		v.redraw()
		return
	case "ran", "failed":
		delete(v.running, ev.Address)
	}
	v.counts[ev.Status]++
	if ev.Status == "cached" {
		return // counted; the next tick shows it (a no-op run has thousands)
	}
	v.clear()
	writeEvent(v.w, ev)
	v.draw()
}

// Stop ends the live view, leaving the summary line on screen.
func (v *ttyView) Stop() {
	v.mu.Lock()
	if v.stopped {
		v.mu.Unlock()
		return
	}
	v.stopped = true
	close(v.stop)
	v.mu.Unlock()
	<-v.done
	v.mu.Lock()
	defer v.mu.Unlock()
	v.clear()
	fmt.Fprintln(v.w, v.summary())
}

func (v *ttyView) redraw() {
	if v.stopped {
		return
	}
	v.clear()
	v.draw()
}

// clear erases the live block: cursor up over it, then erase to the end.
func (v *ttyView) clear() {
	if v.drawn > 0 {
		fmt.Fprintf(v.w, "\x1b[%dA\x1b[J", v.drawn)
		v.drawn = 0
	}
}

func (v *ttyView) draw() {
	now := v.now()
	addrs := make([]string, 0, len(v.running))
	for a := range v.running {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	var b strings.Builder
	for _, a := range addrs {
		b.WriteString(stageLine(a, v.running[a], now))
		b.WriteByte('\n')
	}
	b.WriteString(v.summary())
	b.WriteByte('\n')
	io.WriteString(v.w, b.String())
	v.drawn = len(addrs) + 1
}

func (v *ttyView) summary() string {
	return fmt.Sprintf("  %d running · %d ran · %d cached · %d skipped · %d failed · %s",
		len(v.running), v.counts["ran"], v.counts["cached"], v.counts["skipped"], v.counts["failed"],
		v.now().Sub(v.start).Round(100*time.Millisecond))
}

// stageLine is "  ⠿ ADDRESS  [=====>    ]  120/500 items  35.2/s  ETA 11s"
// for a stage with a known total, and "  ⠿ ADDRESS  running 3.1s (120 items)"
// otherwise.
func stageLine(addr string, s *ttyStage, now time.Time) string {
	el := now.Sub(s.start)
	done, total := s.ctr.Done(), s.ctr.Total()
	if total <= 0 {
		line := fmt.Sprintf("  ⠿ %-40s running %s", addr, el.Round(100*time.Millisecond))
		if done > 0 {
			line += fmt.Sprintf(" (%d items)", done)
		}
		return line
	}
	const width = 24
	if done > total {
		done = total
	}
	fill := int(float64(width) * float64(done) / float64(total))
	bar := strings.Repeat("=", fill)
	if fill < width {
		bar += ">" + strings.Repeat(" ", width-fill-1)
	}
	rate, eta := "-", "-"
	if sec := el.Seconds(); sec > 0 && done > 0 {
		r := float64(done) / sec
		rate = fmt.Sprintf("%.1f", r)
		eta = (time.Duration(float64(total-done) / r * float64(time.Second))).Round(time.Second).String()
	}
	return fmt.Sprintf("  ⠿ %-40s [%s] %d/%d items  %s/s  ETA %s", addr, bar, done, total, rate, eta)
}
