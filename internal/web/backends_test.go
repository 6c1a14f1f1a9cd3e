package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/stream"
)

// The console's stream pages behave the same on every backend: the
// embedded log, Kafka (kfake) and Redis.
func TestConsoleOnEveryBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every backend; skipped under -short")
	}
	brokertest.Each(t, func(t *testing.T, b stream.Broker) {
		ctx := context.Background()
		f := newFixtureWith(t, b)
		br := f.browser()
		csrf := br.login("admin", adminPassword)

		resp, _ := br.post("/topics", url.Values{"csrf_token": {csrf}, "name": {"cars"}, "partitions": {"2"}})
		wantStatus(t, "create topic", resp, http.StatusSeeOther)
		var recs []*stream.Record
		for i := 0; i < 120; i++ {
			recs = append(recs, &stream.Record{Topic: "cars", Key: []byte(fmt.Sprintf("car-%d", i%10)), Value: []byte(fmt.Sprintf(`{"n":%d}`, i))})
		}
		if err := b.Produce(ctx, recs...); err != nil {
			t.Fatal(err)
		}
		_, body := br.get("/topics")
		if !strings.Contains(body, ">cars</a>") || !strings.Contains(body, ">120<") {
			t.Errorf("topics page lacks cars with 120 records")
		}
		p0 := recs[0].Partition
		_, body = br.get(fmt.Sprintf("/topics/cars/messages?partition=%d&key=car-0", p0))
		if !strings.Contains(body, "&#34;n&#34;: 110") && !strings.Contains(body, `"n": 110`) {
			t.Errorf("message browser does not show the newest record of car-0")
		}

		// A group consumes everything, stops, and is reset with a review.
		const dealers, dealersPath = "svc:dealers/v2", "svc:dealers%2Fv2"
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		seen := 0
		_ = b.Consume(cctx, stream.ConsumerConfig{Group: dealers, Topics: []string{"cars"}}, func(_ context.Context, batch []*stream.Record) error {
			seen += len(batch)
			if seen >= 120 {
				cancel()
			}
			return nil
		})
		cancel()
		var lag int64 = -1
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if g, err := b.DescribeGroup(ctx, dealers); err == nil && len(g.Members) == 0 && g.Lag() == 0 && len(g.Offsets) == 2 {
				lag = 0
				break
			}
		}
		if lag != 0 {
			t.Fatalf("group did not settle with no lag")
		}
		// Any name Kafka allows works, its links escaped.
		_, body = br.get("/groups")
		if !strings.Contains(body, `href="/groups/`+dealersPath+`"`) {
			t.Errorf("groups page does not link to %s", dealersPath)
		}
		_, body = br.get("/groups/" + dealersPath)
		if !strings.Contains(body, "Review the reset") || !strings.Contains(body, `action="/groups/`+dealersPath+`/reset"`) {
			t.Errorf("group page lacks the reset form posting to its escaped path")
		}
		form := url.Values{"csrf_token": {csrf}, "topic": {"cars"}, "to": {"earliest"}}
		_, body = br.post("/groups/"+dealersPath+"/reset", form)
		if !strings.Contains(body, "120 records will be delivered again") {
			t.Errorf("reset review does not count 120 records")
		}
		form.Set("confirmed", "yes")
		resp, _ = br.post("/groups/"+dealersPath+"/reset", form)
		wantStatus(t, "reset", resp, http.StatusSeeOther)
		if g, err := b.DescribeGroup(ctx, dealers); err != nil || g.Lag() != 120 {
			t.Errorf("after reset lag %d (%v), want 120", g.Lag(), err)
		}
		resp, _ = br.get("/dlq")
		wantStatus(t, "dead letters", resp, http.StatusOK)
		t.Logf("consumed %d records, then reset the group to replay them", seen)
	})
}

// The JSON path filter and the live lag behave the same on every backend.
func TestConsoleFilterAndLiveLagOnEveryBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every backend; skipped under -short")
	}
	brokertest.Each(t, func(t *testing.T, b stream.Broker) {
		ctx := context.Background()
		f := newFixtureWithConfig(t, func(c *Config) { c.Broker, c.LiveEvery = b, 200*time.Millisecond })
		br := f.browser()
		br.login("admin", adminPassword)
		if err := b.CreateTopic(ctx, stream.Topic{Name: "invoices", Partitions: 1}); err != nil {
			t.Fatal(err)
		}
		var recs []*stream.Record
		for i := 0; i < 60; i++ {
			recs = append(recs, &stream.Record{Topic: "invoices", Value: []byte(fmt.Sprintf(`{"invoice":{"status":%q},"amount":%d}`, []string{"open", "paid", "void"}[i%3], i))})
		}
		if err := b.Produce(ctx, recs...); err != nil {
			t.Fatal(err)
		}
		_, body := br.get("/topics/invoices/messages?match=" + url.QueryEscape(`$.invoice.status == "paid" and $.amount > 40`))
		if n := strings.Count(body, `<td class="num mono">`); n != 6 || !strings.Contains(body, ">58</td>") || !strings.Contains(body, "examined 60 records, offsets 0 to 59") {
			t.Errorf("JSON path filter shows %d records, want 6 from offset 58 after examining 60", n)
		}
		resp, body := br.get("/topics/invoices/messages?match=" + url.QueryEscape(`$.amount >> 1`))
		wantStatus(t, "bad JSON path filter", resp, http.StatusBadRequest)
		if !strings.Contains(body, `id="m-match-err"`) {
			t.Errorf("bad JSON path filter not explained next to its field")
		}
		testGroupLagIsLive(t, f, b)
	})
}

// On Kafka the group page shows each member's id, client id and host, and
// "no commit" for a partition the group owns but never committed.
func TestConsoleGroupMembersOnKafka(t *testing.T) {
	b := brokertest.Kafka.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := newFixtureWith(t, b)
	br := f.browser()
	br.login("admin", adminPassword)
	if err := b.Produce(ctx, &stream.Record{Topic: "held", Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(ctx, stream.ConsumerConfig{Group: "svc:holders/v1", Topics: []string{"held"}, Member: "holder-1"},
			func(ctx context.Context, _ []*stream.Record) error {
				once.Do(func() { close(started) })
				<-ctx.Done() // never finishes, so never commits
				return ctx.Err()
			})
	}()
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the consumer never got the record")
	}
	_, body := br.get("/groups/svc:holders%2Fv1")
	for _, want := range []string{"no commit", "<th scope=\"col\">Client id</th>", ">holder-1<", ">holder-1-"} {
		if !strings.Contains(body, want) {
			t.Errorf("group page lacks %q", want)
		}
	}
	cancel()
	<-done
}
