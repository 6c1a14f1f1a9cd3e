package consume_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/stream"
)

func TestCompose(t *testing.T) {
	var trail []string
	tag := func(name string) consume.Middleware {
		return func(next consume.Handler) consume.Handler {
			return func(ctx context.Context, r *stream.Record) error {
				trail = append(trail, name)
				return next(ctx, r)
			}
		}
	}
	h := consume.Compose(tag("outer"), nil, tag("inner"))(func(context.Context, *stream.Record) error {
		trail = append(trail, "handler")
		return nil
	})
	if err := h(context.Background(), &stream.Record{}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(trail, ","), "outer,inner,handler"; got != want {
		t.Errorf("order: got %s, want %s", got, want)
	}
}

func TestChainConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  consume.ChainConfig
	}{
		{"no group", consume.ChainConfig{}},
		{"negative timeout", consume.ChainConfig{Group: "g", Timeout: -1}},
		{"bad retry", consume.ChainConfig{Group: "g", Retry: consume.RetryConfig{Jitter: 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := consume.Chain(tc.cfg); !errors.Is(err, stream.ErrInvalid) {
				t.Errorf("got %v, want ErrInvalid", err)
			}
		})
	}
}

// TestChainPanicDeadLettered: in the default chain a panicking handler's
// record is dead-lettered at once, not retried.
func TestChainPanicDeadLettered(t *testing.T) {
	p := &producer{}
	mw, err := consume.Chain(consume.ChainConfig{Group: "g", Producer: p, Retry: fastRetry(5), Logger: brokertest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	err = mw(func(context.Context, *stream.Record) error {
		calls++
		panic("nil map")
	})(context.Background(), &stream.Record{Topic: "orders"})
	if err != nil {
		t.Fatalf("got %v, want nil: the dead letter commits the record", err)
	}
	if calls != 1 || len(p.got) != 1 {
		t.Fatalf("calls %d, dead letters %d; want 1 and 1", calls, len(p.got))
	}
	if got := header(p.got[0], consume.HeaderDLQError); got != "handler panicked: nil map" {
		t.Errorf("error header %q, want the panic", got)
	}
}
