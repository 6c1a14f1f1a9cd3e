package server

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/auth"
)

// console signs in as the admin and returns a function that sends a
// console form, with the session's CSRF token, and the answer.
func (r *running) console(t *testing.T) func(method, path string, form url.Values) (int, string) {
	t.Helper()
	ctx := context.Background()
	admin, err := r.auth.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	sess, token, err := r.auth.CreateSession(ctx, admin.ID, auth.SessionMeta{})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return func(method, path string, form url.Values) (int, string) {
		t.Helper()
		if form != nil {
			form.Set("csrf_token", sess.CSRFToken)
		}
		req, _ := http.NewRequest(method, r.url+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: token})
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// A dataset's topic takes records only through the dataset's ingest
// endpoint: producing there through the API or the console is refused
// with the endpoint to use, so the dataset's scope, schema and rate limit
// cannot be skipped.
func TestDatasetTopicsTakeOnlyIngest(t *testing.T) {
	r := start(t, Config{AdminPassword: "a configured password"})
	ctx := context.Background()
	admin := r.key(t, permsAll("")...)
	for _, b := range []string{`{"name":"cars","key_fields":["id"]}`, `{"name":"shop","key_fields":["id"],"topic":"shop-orders"}`} {
		if rep := r.call(t, "POST", "/api/v1/relay/datasets", admin, b); rep.status != 201 {
			t.Fatalf("create dataset %s: %d %s", b, rep.status, rep.body)
		}
	}
	for _, topic := range []string{"relay.later", "plain"} {
		if rep := r.call(t, "POST", "/api/v1/topics", admin, `{"name":"`+topic+`","partitions":1}`); rep.status != 201 {
			t.Fatalf("create topic %s: %d %s", topic, rep.status, rep.body)
		}
	}
	send := r.console(t)
	tests := []struct {
		topic, dataset string
	}{
		{"relay.cars", "cars"},
		{"shop-orders", "shop"},
		{"relay.later", "later"},
		{"plain", ""},
	}
	for _, tt := range tests {
		rep := r.call(t, "POST", "/api/v1/topics/"+tt.topic+"/records", admin, `{"records":[{"key":"1","value":{"id":1}}]}`)
		status, page := send("POST", "/topics/"+tt.topic+"/messages", url.Values{"key": {"1"}, "value": {`{"id":1}`}, "confirmed": {"yes"}})
		endpoint := "/api/v1/datasets/" + tt.dataset + "/records"
		if tt.dataset == "" {
			if rep.status != 200 || status != http.StatusSeeOther {
				t.Errorf("produce to %s: API %d %s, console %d; want 200 and 303", tt.topic, rep.status, rep.body, status)
			}
			continue
		}
		if rep.status != 403 || !strings.Contains(rep.body, endpoint) {
			t.Errorf("API produce to %s: %d %s, want 403 naming %s", tt.topic, rep.status, rep.body, endpoint)
		}
		if status != http.StatusForbidden || !strings.Contains(page, endpoint) {
			t.Errorf("console produce to %s: %d, want 403 naming %s", tt.topic, status, endpoint)
		}
		if info, err := r.broker.DescribeTopic(ctx, tt.topic); err != nil || info.Records() != 0 {
			t.Errorf("%s holds %d records (%v), want none", tt.topic, info.Records(), err)
		}
	}
}

// Unknown methods share one metric series: 100 random methods add at
// most a few series (one per route and status they reach), all labelled
// "other".
func TestUnknownMethodsShareOneSeries(t *testing.T) {
	r := start(t, Config{})
	series := func() map[string]bool {
		t.Helper()
		out := map[string]bool{}
		for _, line := range strings.Split(r.call(t, "GET", "/metrics", "", "").body, "\n") {
			if strings.HasPrefix(line, "arus_http_requests_total{") {
				out[line[:strings.LastIndexByte(line, '}')+1]] = true
			}
		}
		return out
	}
	before := series()
	rng := rand.New(rand.NewPCG(1, 2))
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for i := range 100 {
		m := make([]byte, 3+rng.IntN(20))
		for j := range m {
			m[j] = letters[rng.IntN(len(letters))]
		}
		path := []string{"/api/v1/topics", "/", "/healthz", "/topics/x"}[i%4]
		r.call(t, string(m), path, "", "")
	}
	after := series()
	var added []string
	for s := range after {
		if !before[s] {
			added = append(added, s)
			if !strings.Contains(s, `method="other"`) && !strings.Contains(s, `method="GET"`) {
				t.Errorf("new series %s: want unknown methods labelled other", s)
			}
		}
	}
	t.Logf("100 random methods added %d series", len(added))
	if len(added) > 8 {
		t.Errorf("100 random methods added %d series, want at most 8:\n%s", len(added), strings.Join(added, "\n"))
	}
}
