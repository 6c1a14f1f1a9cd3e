package web

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

// gatedBroker holds every read until the gate opens, announcing each on
// entered, so that a test can keep scans running.
type gatedBroker struct {
	stream.Broker
	entered chan struct{}
	gate    chan struct{}
}

func (g *gatedBroker) Read(ctx context.Context, topic string, partition int32, offset int64, limit int) ([]*stream.Record, error) {
	g.entered <- struct{}{}
	<-g.gate
	return g.Broker.Read(ctx, topic, partition, offset, limit)
}

// A user may have only a few message-browser scans running at once; one
// more is answered 429 with Retry-After, while another user is served and
// the slots come back when the scans end.
func TestBrowserScansPerUser(t *testing.T) {
	ctx := context.Background()
	b, err := embedded.New(ctx, embedded.Config{Dir: t.TempDir(), RetentionInterval: -1,
		Options: stream.Options{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.CreateTopic(ctx, stream.Topic{Name: "orders", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := b.Produce(ctx, &stream.Record{Topic: "orders", Value: []byte(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	gated := &gatedBroker{Broker: b, entered: make(chan struct{}, 64), gate: make(chan struct{})}
	f := newFixtureWith(t, gated)
	if _, err := f.auth.CreateUser(ctx, auth.NewUser{Username: "vic", Password: "a viewer password", Roles: []auth.Role{auth.RoleViewer}}); err != nil {
		t.Fatal(err)
	}
	viewer, other := f.browser(), f.browser()
	viewer.login("vic", "a viewer password")
	other.login("admin", adminPassword)
	const path = "/topics/orders/messages?q=needle"

	var wg sync.WaitGroup
	statuses := make(chan int, browseScansPerUser)
	for range browseScansPerUser {
		wg.Go(func() {
			resp, _ := viewer.get(path)
			statuses <- resp.StatusCode
		})
	}
	for range browseScansPerUser {
		<-gated.entered // each scan is reading, and holds its slot
	}
	open := sync.OnceFunc(func() { close(gated.gate) })
	type answer struct {
		resp *http.Response
		body string
	}
	third := make(chan answer, 1)
	go func() {
		resp, body := viewer.get(path)
		third <- answer{resp, body}
	}()
	select {
	case <-gated.entered:
		t.Errorf("scan %d of one user started reading; want it refused", browseScansPerUser+1)
		open()
		<-third
	case a := <-third:
		if a.resp.StatusCode != http.StatusTooManyRequests || a.resp.Header.Get("Retry-After") == "" {
			t.Errorf("scan %d of one user: status %d, Retry-After %q; want 429 with Retry-After", browseScansPerUser+1, a.resp.StatusCode, a.resp.Header.Get("Retry-After"))
		}
		if !strings.Contains(a.body, "Too many scans") {
			t.Errorf("the 429 page does not say why:\n%.500s", a.body)
		}
	}
	done := make(chan int, 1)
	go func() {
		resp, _ := other.get(path)
		done <- resp.StatusCode
	}()
	<-gated.entered // another user's scan runs alongside
	open()
	if got := <-done; got != http.StatusOK {
		t.Errorf("another user's scan: status %d, want 200", got)
	}
	wg.Wait()
	close(statuses)
	for got := range statuses {
		if got != http.StatusOK {
			t.Errorf("a scan within the limit: status %d, want 200", got)
		}
	}
	if resp, _ := viewer.get(path); resp.StatusCode != http.StatusOK {
		t.Errorf("a scan after the others ended: status %d, want 200 (slots given back)", resp.StatusCode)
	}
}
