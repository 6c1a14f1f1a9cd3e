package server

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// metricName finds the names of Arus's, the Go runtime's and the process's
// series in a PromQL expression.
var metricName = regexp.MustCompile(`\b(?:arus|go|process)_[a-zA-Z0-9_]+\b`)

// TestDeployMetricNamesExist checks that every metric the alert rules and
// the Grafana dashboard under deploy/ query is one Arus really exports: the
// server's /metrics with the relay delivering (a record written, one
// refused and dead-lettered) and a consumer group consuming, and the
// registry of a service built with the SDK (an outbox forwarder and a
// consume runtime) running against the same broker.
func TestDeployMetricNamesExist(t *testing.T) {
	data := t.TempDir()
	r := start(t, Config{Data: data})
	ctx := context.Background()

	// The relay: a destination whose table refuses negative prices.
	dest, err := sql.Open("sqlite", filepath.Join(data, "destinations", "dealer.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	if _, err := dest.ExecContext(ctx, `CREATE TABLE cars (id INTEGER PRIMARY KEY, price NUMERIC CHECK (price >= 0))`); err != nil {
		t.Fatal(err)
	}
	admin := r.key(t, "relay.read", "relay.write")
	create := func(path, body string) map[string]any {
		t.Helper()
		rep := r.call(t, "POST", path, admin, body)
		if rep.status != 201 {
			t.Fatalf("POST %s: %d %s", path, rep.status, rep.body)
		}
		var v map[string]any
		_ = json.Unmarshal([]byte(rep.body), &v)
		return v
	}
	create("/api/v1/relay/datasets", `{"name":"cars","key_fields":["id"]}`)
	app := create("/api/v1/relay/applications", `{"name":"dealer-app","datasets":["cars"]}`)
	d := create("/api/v1/relay/destinations", `{"name":"dealer","kind":"sqlite","database":"dealer.db"}`)
	create("/api/v1/relay/routes", fmt.Sprintf(`{"name":"dealer-cars","dataset":"cars","destination":%q,"table":"cars","mode":"upsert",
		"key_columns":["id"],"mapping":[{"column":"id","field":"id"},{"column":"price","field":"price"}]}`, d["id"]))
	if rep := r.call(t, "POST", "/api/v1/datasets/cars/records", app["api_key"].(string), `[{"id":1,"price":5},{"id":2,"price":-1}]`); rep.status != 202 {
		t.Fatalf("ingest: %d %s", rep.status, rep.body)
	}

	// A service built with the SDK: an outbox forwarder and a consumer group
	// on the server's broker, with their metrics on the service's registry.
	svc := prometheus.NewRegistry()
	db, err := store.Open(ctx, store.Config{Dir: t.TempDir(), Component: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ob, err := outbox.Open(ctx, db, outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.InTx(ctx, func(tx *sql.Tx) error {
		return ob.Write(ctx, tx, &stream.Record{Topic: "orders", Key: []byte("o1"), Value: []byte(`{}`)})
	}); err != nil {
		t.Fatal(err)
	}
	fw, err := outbox.NewForwarder(ob, r.broker, outbox.ForwarderConfig{Registerer: svc})
	if err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := fw.Forward(canceled); err == nil {
		t.Fatal("forward with a canceled context succeeded; the test wants one failure counted")
	}
	if n, err := fw.Forward(ctx); err != nil || n != 1 {
		t.Fatalf("forward: %d, %v; want 1, nil", n, err)
	}
	metrics, err := consume.NewMetrics(svc)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	chain, err := consume.Chain(consume.ChainConfig{Group: "billing", Producer: r.broker, Metrics: metrics, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := consume.New(r.broker, consume.Config{Group: "billing", Topics: []string{"orders"}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	cctx, stop := context.WithCancel(ctx)
	if err := rt.Run(cctx, chain(func(context.Context, *stream.Record) error { stop(); return nil })); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("consume: %v", err)
	}

	// Wait until the relay has written one record and dead-lettered the other,
	// and the dead letter is on the server's /metrics (read at most every 5 s).
	var served map[string]bool
	waitFor(t, "the relay's dead letter on /metrics", 60*time.Second, func() bool {
		served = scrape(t, r.url+"/metrics")
		return served["arus_relay_delivery_dead_letters_total"] && served["arus_relay_route_lag"] && served["arus_group_lag"]
	})
	families, err := svc.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, n := range sampleNames(f.GetName(), f.GetType().String()) {
			served[n] = true
		}
	}

	for _, file := range []string{"deploy/prometheus/arus-alerts.yml", "deploy/grafana/arus.json"} {
		used := usedNames(t, filepath.Join("..", "..", file))
		if len(used) < 10 {
			t.Errorf("%s: found %d metric names, want the expressions' (10 or more)", file, len(used))
		}
		for _, n := range used {
			if !served[n] && !served[n+"_count"] {
				t.Errorf("%s uses %s, which neither the server nor an SDK service exports", file, n)
			}
		}
	}
}

// scrape reads the names of the samples a /metrics endpoint serves.
func scrape(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return names
}

// sampleNames are the names a family's samples carry on /metrics.
func sampleNames(name, typ string) []string {
	switch typ {
	case "HISTOGRAM":
		return []string{name + "_bucket", name + "_sum", name + "_count"}
	case "SUMMARY":
		return []string{name, name + "_sum", name + "_count"}
	}
	return []string{name}
}

// usedNames are the metric names in a rules file's or a dashboard's
// expressions.
func usedNames(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if strings.HasSuffix(path, ".json") {
		// Only the queries: titles and descriptions are prose.
		var exprs []string
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, x := range v {
					if s, ok := x.(string); ok && (k == "expr" || k == "definition") {
						exprs = append(exprs, s)
					}
					walk(x)
				}
			case []any:
				for _, x := range v {
					walk(x)
				}
			}
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		walk(doc)
		text = strings.Join(exprs, "\n")
	} else {
		// Only the rules: comments are prose.
		var rules []string
		for _, line := range strings.Split(text, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "#") {
				rules = append(rules, line)
			}
		}
		text = strings.Join(rules, "\n")
	}
	set := map[string]bool{}
	for _, n := range metricName.FindAllString(text, -1) {
		set[n] = true
	}
	var out []string
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
