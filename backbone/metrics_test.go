package backbone

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/stream"
)

func TestCollector(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := Open(ctx, "embedded", t.TempDir(), stream.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.CreateTopic(ctx, stream.Topic{Name: "orders", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	var recs []*stream.Record
	for i := 0; i < 5; i++ {
		recs = append(recs, &stream.Record{Topic: "orders", Value: []byte("v")})
	}
	if err := b.Produce(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	// A group that handles two records, then stops.
	cctx, cancel := context.WithCancel(ctx)
	n := 0
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(cctx, stream.ConsumerConfig{Group: "billing", Topics: []string{"orders"}, MaxBatch: 1},
			stream.Single(func(context.Context, *stream.Record) error {
				if n >= 2 {
					cancel()
					return context.Canceled
				}
				n++
				return nil
			}))
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(b, quiet, time.Millisecond))
	got := gather(t, reg)
	for name, want := range map[string]float64{
		`arus_group_lag{group="billing",partition="0",topic="orders"}`:              3,
		`arus_group_committed_offset{group="billing",partition="0",topic="orders"}`: 2,
		`arus_topic_end_offset{partition="0",topic="orders"}`:                       5,
		`arus_topic_records{topic="orders"}`:                                        5,
		`arus_backbone_up`:                                                          1,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	if age := got[`arus_group_oldest_unconsumed_age_seconds{group="billing",partition="0",topic="orders"}`]; age <= 0 {
		t.Errorf("oldest unconsumed age %v, want > 0 with lag 3", age)
	}
	b.Close()
	time.Sleep(2 * time.Millisecond)
	if up := gather(t, reg)["arus_backbone_up"]; up != 0 {
		t.Errorf("arus_backbone_up with the broker closed = %v, want 0", up)
	}
}

// gather returns every sample of reg by name and sorted labels.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+strconv.Quote(l.GetValue()))
			}
			name := mf.GetName()
			if len(labels) > 0 {
				name += "{" + strings.Join(labels, ",") + "}"
			}
			out[name] = m.GetGauge().GetValue()
		}
	}
	return out
}
