package browsertest

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/arus-platform/arus/internal/testenv"
)

// The check finds what it is for: a page with an unlabelled input and an
// image without alternative text breaks WCAG 2 A.
func TestAccessibilityCheckFindsViolations(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped under -short")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><html lang="en"><head><title>bad</title></head><body><main><input type="text"><img src="/x.png"></main></body></html>`))
	}))
	defer srv.Close()
	if err := loadAxe(); err != nil {
		testenv.Unavailable(t, "axe-core not available (ARUS_TEST_AXE=%q): %v", os.Getenv("ARUS_TEST_AXE"), err)
	}
	ctx := New(t)
	Do(t, ctx, "open the bad page", chromedp.Navigate(srv.URL))
	got := map[string]bool{}
	for _, v := range violations(t, ctx, "bad page") {
		got[v.ID] = true
	}
	for _, want := range []string{"label", "image-alt"} {
		if !got[want] {
			t.Errorf("axe-core did not report %s on a page that breaks it; got %v", want, got)
		}
	}
}
