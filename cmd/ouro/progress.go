package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/ouroloop/ouro/runtime"
)

// progressView shows a run's progress on stderr: plain lines (one per event,
// and a heartbeat line for a long stage) or, on a terminal, bars drawn by
// mpb: one per running stage, with items/s and ETA for item-level
// operators, under the lines of the stages that finished. Nothing goes to
// stdout.
type progressView interface {
	Event(ev runtime.Event)
	Stop()
}

// heartbeatEvery is how often plain progress says a stage still runs.
const heartbeatEvery = 30 * time.Second

// newProgressView picks the view for --progress=auto|plain|bars|none.
func newProgressView(mode string, w io.Writer) (progressView, error) {
	colour := isTerminal(w) && os.Getenv("NO_COLOR") == ""
	switch progressKind(mode, w) {
	case "none":
		return noProgress{}, nil
	case "plain":
		return newPlainView(w, colour, time.Now, heartbeatEvery), nil
	case "bars":
		return newBarsView(w, colour, mpb.WithOutput(w), mpb.WithAutoRefresh(), mpb.WithRefreshRate(150*time.Millisecond)), nil
	}
	return nil, usageError{fmt.Errorf("--progress must be auto, plain, bars or none, not %q", mode)}
}

// progressKind resolves --progress to the view newProgressView makes:
// none, plain or bars ("" for a bad mode). auto is bars on a terminal
// (not TERM=dumb), plain otherwise; tty is an old name of bars.
func progressKind(mode string, w io.Writer) string {
	switch mode {
	case "none", "plain", "bars":
		return mode
	case "tty":
		return "bars"
	case "auto", "":
		if isTerminal(w) && os.Getenv("TERM") != "dumb" {
			return "bars"
		}
		return "plain"
	}
	return ""
}

type noProgress struct{}

func (noProgress) Event(runtime.Event) {}
func (noProgress) Stop()               {}

// plainView writes one line per event (--progress=plain, and whenever
// stderr is not a terminal), and every heartbeat a line for each stage
// that has been running that long, so a CI log of a 10-minute SFT stage
// does not go silent.
type plainView struct {
	mu      sync.Mutex
	w       io.Writer
	colour  bool
	now     func() time.Time
	running map[string]*plainStage
	stop    chan struct{}
	done    chan struct{}
}

type plainStage struct {
	start, said time.Time
	ctr         *runtime.Counter
}

// newPlainView starts a plain view; every > 0 starts its heartbeat.
func newPlainView(w io.Writer, colour bool, now func() time.Time, every time.Duration) *plainView {
	v := &plainView{w: w, colour: colour, now: now, running: map[string]*plainStage{}, stop: make(chan struct{}), done: make(chan struct{})}
	if every <= 0 {
		close(v.done)
		return v
	}
	go func() {
		defer close(v.done)
		t := time.NewTicker(every / 6)
		defer t.Stop()
		for {
			select {
			case <-v.stop:
				return
			case <-t.C:
				v.heartbeat(every)
			}
		}
	}()
	return v
}

func (v *plainView) Event(ev runtime.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch ev.Status {
	case "running":
		now := v.now()
		v.running[ev.Address] = &plainStage{start: now, said: now, ctr: ev.Progress}
	case "ran", "failed", "cached", "skipped":
		delete(v.running, ev.Address)
	}
	writeEvent(v.w, ev, v.colour)
}

// heartbeat writes "still running" for each stage whose last line is
// older than every, in address order.
func (v *plainView) heartbeat(every time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	addrs := make([]string, 0, len(v.running))
	for a, s := range v.running {
		if now.Sub(s.said) >= every {
			addrs = append(addrs, a)
		}
	}
	sort.Strings(addrs)
	for _, a := range addrs {
		s := v.running[a]
		s.said = now
		el := now.Sub(s.start)
		line := fmt.Sprintf("  … %-40s still running after %s", a, el.Round(time.Second))
		if s.ctr != nil {
			if done, total := s.ctr.Done(), s.ctr.Total(); total > 0 {
				line += fmt.Sprintf(" (%d/%d items, %.1f/s)", done, total, float64(done)/el.Seconds())
			} else if done > 0 {
				line += fmt.Sprintf(" (%d items, %.1f/s)", done, float64(done)/el.Seconds())
			}
		}
		fmt.Fprintln(v.w, line)
	}
}

func (v *plainView) Stop() {
	select {
	case <-v.stop:
	default:
		close(v.stop)
	}
	<-v.done
}

// ANSI colours of the progress marks on a terminal without NO_COLOR.
const (
	ansiGreen  = "\x1b[32m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiDim    = "\x1b[2m"
	ansiReset  = "\x1b[0m"
)

func paint(colour bool, code, s string) string {
	if !colour {
		return s
	}
	return code + s + ansiReset
}

func writeEvent(w io.Writer, ev runtime.Event, colour bool) {
	switch ev.Status {
	case "running":
		fmt.Fprintf(w, "  … %-40s running (%s)\n", ev.Address, ev.Reason)
	case "ran":
		fmt.Fprintf(w, "  %s %-40s ran in %s%s\n", paint(colour, ansiGreen, "✓"), ev.Address, ev.Duration.Round(time.Millisecond), itemCounts(ev))
		for _, warning := range ev.Warnings {
			fmt.Fprintf(w, "    %s %s\n", paint(colour, ansiYellow, "!"), warning)
		}
	case "cached":
		fmt.Fprintf(w, "  %s %-40s cached\n", paint(colour, ansiDim, "·"), ev.Address)
	case "failed":
		fmt.Fprintf(w, "  %s %-40s failed\n", paint(colour, ansiRed, "✗"), ev.Address)
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

// barsView draws progress with mpb: a bar per running stage (items done of
// the total when the operator knows it, items/s and ETA; a spinner and the
// elapsed time otherwise) and a summary bar, under the lines of the stages
// that ran, failed or were skipped. Cached stages are only counted (a no-op
// run has thousands).
type barsView struct {
	mu      sync.Mutex
	w       io.Writer
	p       *mpb.Progress
	colour  bool
	start   time.Time
	running map[string]*stageBar
	counts  map[string]int
	summary *mpb.Bar
	tally   atomic.Value // string: the summary line's counts
	stop    chan struct{}
	done    chan struct{}
	stopped bool
}

type stageBar struct {
	bar   *mpb.Bar
	ctr   *runtime.Counter
	total int64
}

// newBarsView starts a bars view writing through mpb with opts (its
// output, refresh); it copies the stages' counters into their bars every
// 100 ms.
func newBarsView(w io.Writer, colour bool, opts ...mpb.ContainerOption) *barsView {
	v := &barsView{w: w, p: mpb.New(append([]mpb.ContainerOption{mpb.WithWidth(100)}, opts...)...), colour: colour, start: time.Now(),
		running: map[string]*stageBar{}, counts: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	v.retally()
	v.summary = v.p.New(0, mpb.NopStyle(), mpb.BarPriority(1<<30), mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return v.summaryLine() })))
	go func() {
		defer close(v.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-v.stop:
				return
			case <-t.C:
				v.sync()
			}
		}
	}()
	return v
}

// sync copies each running stage's counter into its bar.
func (v *barsView) sync() {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, s := range v.running {
		s.update()
	}
}

func (s *stageBar) update() {
	if total := s.ctr.Total(); total > 0 && total != s.total {
		s.total = total
		s.bar.SetTotal(total, false)
	}
	s.bar.SetCurrent(s.ctr.Done())
}

// summaryLine is "  2 running · 5 ran · 30 cached · 0 skipped · 0 failed · 12.3s".
// mpb calls it while it draws: it takes no lock (a lock held by Event while
// it waits for mpb would deadlock).
func (v *barsView) summaryLine() string {
	counts, _ := v.tally.Load().(string)
	return counts + time.Since(v.start).Round(100*time.Millisecond).String()
}

// retally stores the counts the summary line shows; with v.mu held.
func (v *barsView) retally() {
	v.tally.Store(fmt.Sprintf("  %d running · %d ran · %d cached · %d skipped · %d failed · ",
		len(v.running), v.counts["ran"], v.counts["cached"], v.counts["skipped"], v.counts["failed"]))
}

func (v *barsView) Event(ev runtime.Event) {
	line := v.event(ev)
	if len(line) > 0 {
		// Outside the lock: mpb prints it above the bars at its next
		// refresh and only then returns.
		v.p.Write(line)
	}
}

// event updates the bars for ev and returns the line to print above them.
func (v *barsView) event(ev runtime.Event) []byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.stopped {
		return nil
	}
	defer v.retally()
	if ev.Status == "running" {
		ctr := ev.Progress
		if ctr == nil {
			ctr = &runtime.Counter{}
		}
		name := decor.Name("  ⠿ "+ev.Address, decor.WC{W: 44, C: decor.DindentRight})
		start := time.Now()
		// "120/500 items  35.2/s  ETA 11s" once the operator counts items
		// (the total when it knows it), and the time running.
		items := decor.Any(func(s decor.Statistics) string {
			el := time.Since(start).Seconds()
			switch {
			case s.Current <= 0:
				return ""
			case s.Total > 0:
				rate := float64(s.Current) / el
				eta := time.Duration(float64(s.Total-s.Current) / rate * float64(time.Second))
				return fmt.Sprintf("%d/%d items  %.1f/s  ETA %s", s.Current, s.Total, rate, eta.Round(time.Second))
			}
			return fmt.Sprintf("%d items  %.1f/s", s.Current, float64(s.Current)/el)
		}, decor.WCSyncSpace)
		bar := v.p.New(0, mpb.BarStyle().Lbound("[").Rbound("]"), mpb.BarRemoveOnComplete(),
			mpb.PrependDecorators(name),
			mpb.AppendDecorators(items, decor.Name("  "), decor.Elapsed(decor.ET_STYLE_GO)))
		s := &stageBar{bar: bar, ctr: ctr}
		s.update()
		v.running[ev.Address] = s
		return nil
	}
	if s, ok := v.running[ev.Address]; ok {
		s.bar.Abort(true)
		delete(v.running, ev.Address)
	}
	v.counts[ev.Status]++
	if ev.Status == "cached" {
		return nil
	}
	var line bytes.Buffer
	writeEvent(&line, ev, v.colour)
	return line.Bytes()
}

// Stop ends the view, leaving the finished lines and the summary line on
// screen.
func (v *barsView) Stop() {
	v.mu.Lock()
	if v.stopped {
		v.mu.Unlock()
		return
	}
	v.stopped = true
	close(v.stop)
	for a, s := range v.running {
		s.bar.Abort(true)
		delete(v.running, a)
	}
	v.retally()
	v.mu.Unlock()
	<-v.done
	v.summary.SetTotal(-1, true)
	v.p.Wait()
	// The summary bar is gone with the bars; its last state stays as a line.
	fmt.Fprintln(v.w, v.summaryLine())
}
