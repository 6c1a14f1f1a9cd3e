package web

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/auth"
)

func TestOverview(t *testing.T) {
	f, _ := newStreamsFixture(t)
	base := time.Now().Add(-time.Minute)
	for i := 0; i < 6; i++ {
		f.handler.samples.add(sample{At: base.Add(time.Duration(i) * 10 * time.Second), In: int64(i * 1000), Out: int64(i * 900), Lag: int64(i * 100), BrokerUp: true})
	}
	br := f.browser()
	br.login("admin", adminPassword)
	resp, _ := br.get("/")
	wantStatus(t, "home", resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/overview" {
		t.Errorf("home redirects to %q, want /overview", loc)
	}
	resp, body := br.get("/overview")
	wantStatus(t, "overview", resp, http.StatusOK)
	if strings.Count(body, `<polyline class="line"`) != 3 {
		t.Errorf("overview lacks its three charts")
	}
	// 1000 records per 10 s in, 900 out, lag 500 now.
	for _, want := range []string{`data-live="in">100<`, `data-live="out">90<`, `data-live="lag">500<`} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %s", want)
		}
	}

	// The event stream sends the current values at once.
	admin, _ := f.auth.UserByUsername(context.Background(), "admin")
	_, token, _ := f.auth.CreateSession(context.Background(), admin.ID, auth.SessionMeta{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/overview/events", nil)
	req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: token})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	sc := bufio.NewScanner(res.Body)
	var lines []string
	for sc.Scan() && len(lines) < 2 {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 2 || lines[0] != "event: values" || !strings.Contains(lines[1], `"lag":"500"`) {
		t.Errorf("first event %q, want values with lag 500", lines)
	}
}
