package sagaapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/sagaapi"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

func get(t *testing.T, u string, want int, v any) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: status %d, want %d; body %s", u, resp.StatusCode, want, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: decode %s: %v", u, body, err)
		}
	}
	return string(body)
}

func TestHTTP(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		b := newBroker(t)
		o := run(t, base, b)
		answer(t, b, func(r *stream.Record) *stream.Record {
			if r.Topic == "payments" && !saga.IsCompensation(r) && strings.HasPrefix(saga.ID(r), "bad") {
				return saga.Failure(r, "card declined")
			}
			return saga.Success(r, []byte(`{"ok":true}`))
		})
		a, err := api.New(b, api.Config{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		sagaapi.Register(a, mux, o)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)

		for _, id := range []string{"good-1", "good-2", "good-3", "bad-1"} {
			if _, err := o.Start(ctx, "order", id, []byte(`{"qty":1}`)); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range []string{"good-1", "good-2", "good-3"} {
			waitState(t, o, id, saga.StateCompleted)
		}
		waitState(t, o, "bad-1", saga.StateCompensated)

		// Paging through the completed ones, newest first.
		var seen []string
		next := ""
		for range 5 {
			var page sagaapi.InstanceList
			get(t, srv.URL+"/api/v1/sagas?state=completed&limit=2&after="+url.QueryEscape(next), 200, &page)
			for _, s := range page.Sagas {
				if s.State != saga.StateCompleted || s.Steps != nil || s.Timeline != nil {
					t.Errorf("listed %+v: want a completed saga without steps and timeline", s)
				}
				seen = append(seen, s.ID)
			}
			if next = page.Next; next == "" {
				break
			}
		}
		if got, want := strings.Join(seen, ","), "good-3,good-2,good-1"; got != want {
			t.Errorf("completed sagas %s, want %s", got, want)
		}
		var all sagaapi.InstanceList
		get(t, srv.URL+"/api/v1/sagas", 200, &all)
		if len(all.Sagas) != 4 || all.Next != "" {
			t.Errorf("all sagas: %d, next %q; want 4 on one page", len(all.Sagas), all.Next)
		}

		var one sagaapi.InstanceJSON
		get(t, srv.URL+"/api/v1/sagas/bad-1", 200, &one)
		if one.State != saga.StateCompensated || len(one.Steps) != 3 || one.Steps[1].Status != saga.StepFailed ||
			one.Steps[0].Status != saga.StepCompensated || one.Steps[0].CompensatedAt == nil {
			t.Errorf("bad-1: %+v", one)
		}
		if one.Step < 0 || one.Step >= len(one.Steps) || one.StepName != one.Steps[one.Step].Name || one.StepName == "" {
			t.Errorf("bad-1 at step %d named %q, want the name of that step in %+v", one.Step, one.StepName, one.Steps)
		}
		if one.Data.Encoding != "json" || string(one.Data.Value) != `{"qty":1}` {
			t.Errorf("bad-1 data %+v, want inline JSON", one.Data)
		}
		types := map[saga.EventType]int{}
		for _, e := range one.Timeline {
			types[e.Type]++
		}
		if types[saga.EventCommand] != 2 || types[saga.EventCompensation] != 1 || types[saga.EventReply] != 3 || types[saga.EventSent] != 3 {
			t.Errorf("bad-1 timeline counts %v", types)
		}

		for _, c := range []struct {
			path string
			code int
			want string
		}{
			{"/api/v1/sagas/nope", 404, "no saga nope"},
			{"/api/v1/sagas?state=sleeping", 422, `"state"`},
			{"/api/v1/sagas?limit=0", 422, `"limit"`},
			{"/api/v1/sagas?after=xyz", 422, `"after"`},
			{"/api/v1/sagas?colour=red", 422, `"colour"`},
			{"/api/v1/sagas/bad-1?x=1", 422, "no query parameters"},
		} {
			if body := get(t, srv.URL+c.path, c.code, nil); !strings.Contains(body, c.want) {
				t.Errorf("GET %s: %s, want it to mention %s", c.path, body, c.want)
			}
		}
	})
}

func newBroker(t *testing.T) stream.Broker {
	t.Helper()
	b, err := embedded.New(context.Background(), embedded.Config{Dir: t.TempDir(), RetentionInterval: -1,
		Options: stream.Options{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatalf("embedded.New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// orderSaga reserves stock, charges a card (both compensable) and ships.
var orderSaga = saga.Definition{
	Name: "order",
	Steps: []saga.Step{
		{Name: "reserve", Command: saga.Command{Topic: "stock"}, Compensation: saga.Command{Topic: "stock"}, ReplyTopic: "order.replies"},
		{Name: "charge", Command: saga.Command{Topic: "payments"}, Compensation: saga.Command{Topic: "payments"}, ReplyTopic: "order.replies"},
		{Name: "ship", Command: saga.Command{Topic: "shipping"}, ReplyTopic: "order.replies"},
	},
}

// run opens an orchestrator of orderSaga on the store of base and runs it
// until the test ends.
func run(t *testing.T, base store.Config, b stream.Broker) *saga.Orchestrator {
	t.Helper()
	o, err := saga.New(context.Background(), saga.Config{DSN: base.DSN, Dir: base.Dir, Component: "sagas",
		PollInterval: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, b, orderSaga)
	if err != nil {
		t.Fatalf("saga.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := o.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return o
}

// answer replies to every command and compensation of orderSaga with what
// reply returns.
func answer(t *testing.T, b stream.Broker, reply func(r *stream.Record) *stream.Record) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := b.Consume(ctx, stream.ConsumerConfig{Group: "participants", Topics: []string{"stock", "payments", "shipping"},
			RetryBackoff: 10 * time.Millisecond}, stream.Single(func(ctx context.Context, r *stream.Record) error {
			return b.Produce(ctx, reply(r))
		}))
		if err != nil && ctx.Err() == nil {
			t.Errorf("participants: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// waitState polls until instance id reaches state want.
func waitState(t *testing.T, o *saga.Orchestrator, id string, want saga.State) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		in, err := o.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		if in.State == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("saga %s is %s, want %s", id, in.State, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
