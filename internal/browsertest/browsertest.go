// Package browsertest drives the console in headless Chromium for tests,
// through chromedp. A test is skipped when Chromium is absent, or fails when
// ARUS_TEST_REQUIRE=1.
package browsertest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/arus-platform/arus/internal/testenv"
)

// New starts a headless Chromium with a fresh profile and returns a
// browser context that lives until the test ends. Each action through it is
// bounded by the test's own timeout plus a minute.
func New(t *testing.T) context.Context {
	t.Helper()
	path := testenv.Chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser now, so that a broken install fails here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium (%s): %v", path, err)
	}
	return ctx
}

// Do runs steps with a timeout, failing the test with what was being done.
func Do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Get runs one action that returns a value, failing the test on error.
func Get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// WaitLocation waits until the page's address, its path and query (as in
// /relay/routes/r1?ok=relay-saved), matches the regular expression re. It
// is the wait after a click that submits a form: the page the answer leads
// to may show what the page before showed too, and a step taken before the
// answer comes reads the old page, or is cut short when the answer
// arrives. The address is read again and again, so a page that changes
// while it is read is read anew.
func WaitLocation(re string) chromedp.Action[chromedp.Void] {
	want := regexp.MustCompile(re)
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		at := "nowhere yet"
		for {
			loc, err := chromedp.Location()(ctx, tg)
			if u, perr := url.Parse(loc); err == nil && perr == nil {
				if at = u.RequestURI(); want.MatchString(at) {
					return nil
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("wait for the page at %s: still at %s: %w", re, at, ctx.Err())
			case <-tick.C:
			}
		}
	})
}

// Screenshot saves a full-page PNG named name.png in the directory given by
// ARUS_SCREENSHOTS, or does nothing when it is unset. Screenshots for the
// documentation are made this way.
func Screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("ARUS_SCREENSHOTS")
	if dir == "" {
		return
	}
	png := Get(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
