package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium returns the headless browser for TestReportInBrowser, skipping
// the test without one unless OURO_REQUIRE_CHROMIUM=1.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("OURO_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("OURO_REQUIRE_CHROMIUM=1 but no chromium on PATH or at /usr/bin/chromium")
	}
	t.Skip("no chromium (apt-get install chromium) — the report's browser test needs a headless Chromium")
	return ""
}

// browser starts a headless Chromium with a fresh profile and nothing that
// talks to the network by itself.
func browser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	return ctx
}

// metricPoints counts the numbers (and bools) in a run's metrics: one
// plotted point each.
func metricPoints(v any) int {
	switch x := v.(type) {
	case float64, bool:
		return 1
	case map[string]any:
		n := 0
		for _, e := range x {
			n += metricPoints(e)
		}
		return n
	case []any:
		n := 0
		for _, e := range x {
			n += metricPoints(e)
		}
		return n
	}
	return 0
}

// TestReportInBrowser runs a small loop, writes its report and opens it
// from file:// in headless Chromium: no console error or exception, no
// request but the file itself, one point per recorded metric value, and
// the sample search filters the rows. The screenshot goes to
// $OURO_REPORT_SCREENSHOT (or the test's temporary directory).
func TestReportInBrowser(t *testing.T) {
	path := chromium(t)
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/report/tiny.loop.hcl")
	if err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(dir, "tiny.loop.hcl")
	if err := os.WriteFile(spec, src, 0o644); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("ouro %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
		}
		return out.String()
	}
	var rec struct {
		Metrics map[string]any `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(cli("run", "--json", "--progress=none", spec)), &rec); err != nil {
		t.Fatal(err)
	}
	wantPoints := metricPoints(rec.Metrics)
	if len(rec.Metrics) != 3 || wantPoints != 6 {
		t.Fatalf("the run recorded %d metric objects, %d values; want 3 rounds of 2", len(rec.Metrics), wantPoints)
	}
	out := filepath.Join(dir, "report.html")
	cli("report", "--spec", dir, "-o", out)
	page := "file://" + out

	ctx := browser(t, path)
	var mu sync.Mutex
	var problems, requests []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			requests = append(requests, ev.Request.URL)
		case *cdpruntime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text+" "+exceptionText(ev.ExceptionDetails))
		case *cdpruntime.EventConsoleAPICalled:
			if ev.Type == cdpruntime.ConsoleAPICalledTypeError || ev.Type == cdpruntime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value))
				}
				problems = append(problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				problems = append(problems, fmt.Sprintf("log %s (%s): %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitVisible("#rows tbody tr")); err != nil {
		t.Fatal(err)
	}
	eval := func(js string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return n
	}
	// One point per value, each in a chart of its metric.
	if n := eval(`document.querySelectorAll("figure.chart svg path.pt").length`); n != wantPoints {
		t.Errorf("%d points plotted, want %d (the run's metric values)", n, wantPoints)
	}
	if n := eval(`document.querySelectorAll('figure.chart[data-metric="accuracy"] path.pt').length`); n != 3 {
		t.Errorf("accuracy: %d points, want 3 rounds", n)
	}
	// The generate stage of round 0: 6 problems × 2 samples, 10 a page;
	// searching for one question leaves its 2 samples.
	idx := eval(`Array.from(document.querySelectorAll("#stage option")).findIndex(o => o.textContent.startsWith("loop.l[0].stage.attempts "))`)
	if idx < 0 {
		t.Fatal("no loop.l[0].stage.attempts in the stage list")
	}
	eval(fmt.Sprintf(`(() => { const s = document.getElementById("stage"); s.value = "%d"; s.dispatchEvent(new Event("change")); return 0 })()`, idx))
	if n, m := eval(`document.querySelectorAll("#rows tbody tr").length`), eval(`Number(document.getElementById("page").dataset.matching)`); n != 10 || m != 12 {
		t.Errorf("before searching: %d rows shown, %d matching; want 10 of 12", n, m)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys("#q", "3+1")); err != nil {
		t.Fatal(err)
	}
	if n := eval(`document.querySelectorAll("#rows tbody tr").length`); n != 2 {
		t.Errorf("searching 3+1: %d rows, want 2", n)
	}
	if n := eval(`Array.from(document.querySelectorAll("#rows tbody tr")).filter(tr => tr.textContent.includes("3+1")).length`); n != 2 {
		t.Errorf("searching 3+1: %d rows hold it, want 2", n)
	}
	// A filter's rows are marked kept or dropped.
	if n := eval(`(() => { const s = document.getElementById("stage"); const i = Array.from(s.options).findIndex(o => o.textContent.startsWith("loop.l[0].stage.short ")); s.value = String(i); document.getElementById("q").value = ""; s.dispatchEvent(new Event("change")); return document.querySelectorAll("#rows tbody tr.kept, #rows tbody tr.dropped").length })()`); n == 0 {
		t.Error("the filter's rows are not marked kept or dropped")
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	name := os.Getenv("OURO_REPORT_SCREENSHOT")
	if name == "" {
		name = filepath.Join(t.TempDir(), "report.png")
	}
	if err := os.WriteFile(name, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", name)

	time.Sleep(100 * time.Millisecond) // let the last events arrive
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("the page reported: %s", p)
	}
	if len(requests) == 0 {
		t.Error("saw no request at all: the network listener is not working")
	}
	for _, u := range requests {
		if u != page {
			t.Errorf("the page requested %s (only %s is allowed)", u, page)
		}
	}
}

func exceptionText(d *cdpruntime.ExceptionDetails) string {
	s := fmt.Sprintf("at %s:%d:%d", d.URL, d.LineNumber+1, d.ColumnNumber+1)
	if d.Exception != nil {
		s += " " + d.Exception.Description
	}
	return s
}
