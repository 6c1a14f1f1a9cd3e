package web

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
)

// events opens path as a server-sent event stream, as EventSource does,
// and returns its "values" events.
func (b *browser) events(path string) <-chan map[string]string {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", b.base+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("open %s as an event stream: %v", path, err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		resp.Body.Close()
		b.t.Fatalf("open %s as an event stream: status %d, content type %q", path, resp.StatusCode, ct)
	}
	out := make(chan map[string]string)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "values":
				var v map[string]string
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &v) == nil {
					select {
					case out <- v:
					case <-ctx.Done():
						return
					}
				}
			}
		}
	}()
	return out
}

// waitFor reads events until one satisfies ok, or fails after a while.
func waitFor(t *testing.T, ch <-chan map[string]string, what string, ok func(map[string]string) bool) map[string]string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	var last map[string]string
	for {
		select {
		case v, open := <-ch:
			if !open {
				t.Fatalf("%s: event stream ended; last values %v", what, last)
			}
			if ok(v) {
				return v
			}
			last = v
		case <-timeout:
			t.Fatalf("%s: no such event; last values %v", what, last)
		}
	}
}

// consumeAll runs group over topic until it has seen n records, then
// stops it, so that the group keeps committed offsets and no members.
func consumeAll(t *testing.T, b stream.Broker, group, topic string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := 0
	_ = b.Consume(ctx, stream.ConsumerConfig{Group: group, Topics: []string{topic}}, func(_ context.Context, batch []*stream.Record) error {
		seen += len(batch)
		if seen >= n {
			cancel()
		}
		return nil
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if g, err := b.DescribeGroup(context.Background(), group); err == nil && len(g.Members) == 0 && g.Lag() == 0 && len(g.Offsets) > 0 {
			return
		}
	}
	t.Fatalf("group %s did not settle with no lag after %d records", group, seen)
}

func produceN(t *testing.T, b stream.Broker, topic string, n int) []*stream.Record {
	t.Helper()
	recs := make([]*stream.Record, n)
	for i := range recs {
		recs[i] = &stream.Record{Topic: topic, Key: []byte{byte(i)}, Value: []byte(`{"n":1}`)}
	}
	if err := b.Produce(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	return recs
}

// The group page and the groups list send their lag as server-sent events:
// records produced after the page opened show up as lag without a reload.
func TestGroupLagIsLive(t *testing.T) {
	_, b := newStreamsFixture(t)
	f := newFixtureWithConfig(t, func(c *Config) { c.Broker, c.LiveEvery = b, 100*time.Millisecond })
	testGroupLagIsLive(t, f, b)
}

func testGroupLagIsLive(t *testing.T, f *fixture, b stream.Broker) {
	t.Helper()
	ctx := context.Background()
	if err := b.CreateTopic(ctx, stream.Topic{Name: "payments", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	produceN(t, b, "payments", 10)
	consumeAll(t, b, "ledger", "payments", 10)
	br := f.browser()
	br.login("admin", adminPassword)

	_, body := br.get("/groups/ledger")
	for _, s := range []string{`data-live-source="/groups/ledger"`, `data-live="lag:payments/0"`, `data-live="oldest:payments/0"`} {
		if !strings.Contains(body, s) {
			t.Errorf("group page lacks %s", s)
		}
	}
	group := br.events("/groups/ledger")
	list := br.events("/groups")
	waitFor(t, group, "group lag 0", func(v map[string]string) bool { return v["lag:payments/0"] == "0" && v["oldest:payments/0"] == "—" })
	waitFor(t, list, "groups list lag 0", func(v map[string]string) bool { return v["lag:ledger"] == "0" && v["state:ledger"] == "idle" })

	// The records are ten minutes old, so their age is told in minutes.
	lagging := make([]*stream.Record, 1234)
	for i := range lagging {
		lagging[i] = &stream.Record{Topic: "payments", Key: []byte{byte(i)}, Value: []byte(`{"n":1}`), Timestamp: time.Now().Add(-10 * time.Minute)}
	}
	if err := b.Produce(ctx, lagging...); err != nil {
		t.Fatal(err)
	}
	v := waitFor(t, group, "group lag 1,234", func(v map[string]string) bool { return v["lag"] == "1,234" })
	if v["lag:payments/0"] != "1,234" || v["pill:lag:payments/0"] != "warn" || v["end:payments/0"] != "1,244" || v["committed:payments/0"] != "10" {
		t.Errorf("live values of payments/0: %v", v)
	}
	if got, want := v["oldest:payments/0"], "10 min ago"; got != want {
		t.Errorf("age of the oldest unconsumed record of payments/0: got %q, want %q", got, want)
	}
	waitFor(t, list, "groups list lag 1,234", func(v map[string]string) bool {
		return v["lag:ledger"] == "1,234" && v["state:ledger"] == "lagging 1,234" && v["pill:state:ledger"] == "warn"
	})
	_, body = br.get("/groups/ledger")
	if !strings.Contains(body, `data-live="lag:payments/0">1,234<`) {
		t.Errorf("group page does not render the lag server-side first")
	}
}
