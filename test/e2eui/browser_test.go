package e2eui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium.
const chromiumPath = "/usr/bin/chromium"

// browser is one headless Chromium with one tab.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// newBrowser starts Chromium with a fresh profile, or skips the test when
// it is not installed.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("Chromium is not installed (%s is missing; apt-get install chromium)", chromiumPath)
	}
	profile, err := os.MkdirTemp("", "gantry-e2eui-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 860),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		_ = os.RemoveAll(profile)
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, base: base}
}

// do runs actions, failing the test on error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\npage: %s", what, err, b.text())
	}
}

// open navigates to a path of the server.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
}

// eval evaluates a JavaScript expression.
func eval[T any](b *browser, expr string, opts ...chromedp.EvaluateOption) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
}

// await evaluates an expression that gives a promise of a string.
func (b *browser) await(expr string) string {
	b.t.Helper()
	v, err := eval[string](b, expr, chromedp.EvalAwaitPromise)
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (b *browser) str(expr string) string {
	b.t.Helper()
	v, err := eval[string](b, expr)
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text is the page's visible text, for failure messages.
func (b *browser) text() string {
	v, err := eval[string](b, `document.body ? document.body.innerText : ""`)
	if err != nil {
		return "(no page: " + err.Error() + ")"
	}
	if len(v) > 3000 {
		v = v[:3000] + "…"
	}
	return v
}

// wait polls a JavaScript condition until it holds. Navigation in
// between is fine: errors count as "not yet".
func (b *browser) wait(what, cond string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ok, err := eval[bool](b, "!!("+cond+")"); err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("waited %s for %s (%s)\npage at %s:\n%s", timeout, what, cond, b.str("location.href"), b.text())
}

// path is the current location's path.
func (b *browser) path() string {
	b.t.Helper()
	return b.str("location.pathname")
}

// screenshot saves the page to docs/screenshots/NAME.png when
// GANTRY_SCREENSHOTS=1.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if os.Getenv("GANTRY_SCREENSHOTS") != "1" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	// Let fonts and the live part settle.
	_, _ = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	time.Sleep(300 * time.Millisecond)
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// jsString quotes s for JavaScript.
func jsString(s string) string {
	return fmt.Sprintf("%q", s)
}

// cardStatus is the status of a job's card on the pipeline page.
func cardStatus(name string) string {
	return `(document.querySelector('article.card[data-job=` + jsString(name) + `]') || {dataset: {}}).dataset.status`
}

func contains(haystack, needle string) bool { return strings.Contains(haystack, needle) }

// cdpAction runs one DevTools command in the page.
func (b *browser) cdpAction(f func(ctx context.Context, t *chromedp.Target) error) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Action[chromedp.Void](func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		return chromedp.Void{}, f(ctx, t)
	})); err != nil {
		b.t.Fatal(err)
	}
}

// measureThreadTime makes the page's performance metrics count CPU time
// of its main thread, which a loaded machine does not inflate.
func (b *browser) measureThreadTime() {
	b.cdpAction(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, performance.Enable, performance.EnableParams{TimeDomain: "threadTicks"})
		return err
	})
}

// metrics reads the page's performance metrics (TaskDuration,
// LayoutDuration... in seconds).
func (b *browser) metrics() map[string]float64 {
	b.t.Helper()
	out := map[string]float64{}
	b.cdpAction(func(ctx context.Context, t *chromedp.Target) error {
		r, err := cdp.Call(ctx, t, performance.GetMetrics, cdp.Empty{})
		for _, m := range r.Metrics {
			out[m.Name] = m.Value
		}
		return err
	})
	return out
}
