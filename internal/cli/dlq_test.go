package cli_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/dlq"
	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/cli"
	"github.com/arus-platform/arus/internal/dlqapi"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

// seedDLQ writes three dead letters of group g for topic orders into b:
// k0 and k1 failed with a timeout, k2 with a bad total.
func seedDLQ(t *testing.T, b stream.Broker) {
	t.Helper()
	var recs []*stream.Record
	for i, e := range []string{"timeout talking to db", "timeout talking to db", "bad total"} {
		orig := &stream.Record{Topic: "orders", Offset: int64(i), Key: []byte{'k', byte('0' + i)}, Value: []byte("v")}
		recs = append(recs, consume.DeadLetterRecord(orig, "g", errors.New(e), time.Now()))
	}
	if err := b.CreateTopic(context.Background(), stream.Topic{Name: "orders.g.dlq", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := b.Produce(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
}

// dlqModes returns the environments of the two ways arus dlq reaches the
// dead letters: a server with the dead-letter routes, and the embedded
// broker opened directly; both hold the seeded queue.
func dlqModes(t *testing.T) map[string]map[string]string {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	open := func(dir string) *embedded.Broker {
		b, err := embedded.New(context.Background(), embedded.Config{Dir: dir, Options: stream.Options{Logger: log}})
		if err != nil {
			t.Fatalf("embedded.New: %v", err)
		}
		seedDLQ(t, b)
		return b
	}
	sb := open(t.TempDir())
	a, err := api.New(sb, api.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	m, err := dlq.New(sb, dlq.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	dlqapi.Register(a, mux, m)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		_ = sb.Close()
	})
	dir := t.TempDir()
	if err := open(dir).Close(); err != nil {
		t.Fatal(err)
	}
	return map[string]map[string]string{
		"server": {"ARUS_SERVER": srv.URL},
		"direct": {"ARUS_DATA": dir},
	}
}

func TestDLQ(t *testing.T) {
	for mode, env := range dlqModes(t) {
		t.Run(mode, func(t *testing.T) {
			steps := []struct {
				args []string
				want []string // substrings of stdout
			}{
				{[]string{"dlq", "list"}, []string{"orders.g.dlq", "orders", "3"}},
				{[]string{"dlq", "show", "orders.g.dlq"}, []string{"0/0", "0/2", "timeout talking to db", "bad total", "orders/0/1"}},
				{[]string{"dlq", "show", "orders.g.dlq", "--reasons"}, []string{"2 ", "timeout talking to db"}},
				{[]string{"dlq", "show", "orders.g.dlq", "--error", "BAD"}, []string{"0/2"}},
				{[]string{"dlq", "show", "orders.g.dlq", "--record", "0/1"}, []string{"Key:", "k1", "Attempts:", "arus-dlq-group=g"}},
				{[]string{"dlq", "replay", "orders.g.dlq", "--record", "0/0"}, []string{"Replayed 1 record(s) of orders.g.dlq to orders.g.retry."}},
				{[]string{"dlq", "discard", "orders.g.dlq", "--error", "bad"}, []string{"Discarded 1 record(s)"}},
				{[]string{"dlq", "replay", "orders.g.dlq", "--all"}, []string{"Replayed 1 record(s)"}},
				{[]string{"dlq", "show", "orders.g.dlq", "--all-states"}, []string{"replayed", "discarded"}},
				{[]string{"dlq", "list"}, []string{"orders.g.dlq"}},
			}
			for _, s := range steps {
				out := must(t, env, "", s.args...).stdout
				for _, w := range s.want {
					if !strings.Contains(out, w) {
						t.Errorf("arus %s: output lacks %q:\n%s", strings.Join(s.args, " "), w, out)
					}
				}
			}
			if out := must(t, env, "", "dlq", "show", "orders.g.dlq").stdout; strings.Contains(out, "0/") {
				t.Errorf("show after replaying and discarding everything lists records:\n%s", out)
			}
		})
	}
}

func TestDLQUsage(t *testing.T) {
	env := map[string]string{"ARUS_DATA": t.TempDir()}
	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no action", []string{"dlq"}, "no action given"},
		{"unknown action", []string{"dlq", "purge"}, "unknown action"},
		{"no queue", []string{"dlq", "show"}, "no dead-letter queue given"},
		{"not a queue", []string{"dlq", "show", "orders"}, "must end in .dlq"},
		{"replay without selection", []string{"dlq", "replay", "orders.g.dlq"}, "say what to replay"},
		{"all with a filter", []string{"dlq", "discard", "orders.g.dlq", "--all", "--key", "k"}, "--all selects every pending record"},
		{"bad position", []string{"dlq", "replay", "orders.g.dlq", "--record", "3"}, "not a position"},
		{"bad time", []string{"dlq", "show", "orders.g.dlq", "--from", "noon"}, "--from"},
		{"bad limit", []string{"dlq", "show", "orders.g.dlq", "--limit", "0"}, "--limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := arus(t, env, "", tc.args...)
			var ue *cli.UsageError
			if !errors.As(r.err, &ue) {
				t.Fatalf("got %v, want a usage error", r.err)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, r.stderr)
			}
		})
	}
	r := arus(t, env, "", "dlq", "show", "nope.g.dlq")
	if !errors.Is(r.err, dlq.ErrNotFound) {
		t.Errorf("unknown queue: got %v, want ErrNotFound", r.err)
	}
}
