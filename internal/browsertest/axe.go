package browsertest

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/arus-platform/arus/internal/testenv"
)

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error
)

// violation is one accessibility rule a page breaks, as axe-core reports it.
type violation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  int    `json:"nodes"`
	Target string `json:"target"`
}

// CheckAccessibility runs axe-core on the page the browser shows and fails
// the test for each WCAG 2 A/AA rule it breaks. axe-core comes from the npm
// registry: ARUS_TEST_AXE names its axe.min.js (CI installs it). Without
// it the check is skipped, or fails under ARUS_TEST_REQUIRE=1.
func CheckAccessibility(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	if err := loadAxe(); err != nil {
		if testenv.Required() {
			t.Fatalf("accessibility check of %s: axe-core not available (ARUS_TEST_AXE=%q): %v", page, os.Getenv("ARUS_TEST_AXE"), err)
		}
		t.Logf("accessibility check of %s skipped: set ARUS_TEST_AXE to axe-core's axe.min.js (npm install axe-core)", page)
		return
	}
	found := violations(t, ctx, page)
	t.Logf("axe-core: %s: %d violation(s) of WCAG 2 A/AA", page, len(found))
	for _, v := range found {
		t.Errorf("%s breaks %s (%s, %d element(s), first %s): %s", page, v.ID, v.Impact, v.Nodes, strings.TrimSpace(v.Target), v.Help)
	}
}

// loadAxe reads axe-core once.
func loadAxe() error {
	axeOnce.Do(func() {
		path := os.Getenv("ARUS_TEST_AXE")
		if path == "" {
			axeErr = os.ErrNotExist
			return
		}
		b, err := os.ReadFile(path)
		axeSource, axeErr = string(b), err
	})
	return axeErr
}

// violations runs axe-core, already read, on the page the browser shows.
func violations(t *testing.T, ctx context.Context, page string) []violation {
	t.Helper()
	Do(t, ctx, "load axe-core", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](axeSource)(ctx, tg)
		return err
	}))
	return Get(t, ctx, "run axe-core on "+page, chromedp.Evaluate[[]violation](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa"]}})
		.then(r => r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help, nodes: v.nodes.length,
			target: v.nodes.length ? v.nodes[0].target.join(" ") : ""})))`, chromedp.EvalAwaitPromise))
}
