package web

import (
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
)

func TestTopicRates(t *testing.T) {
	var r topicRates
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ends := func(orders, audit int64) []stream.TopicInfo {
		return []stream.TopicInfo{
			{Topic: stream.Topic{Name: "orders"}, Offsets: []stream.PartitionOffsets{{End: orders / 2}, {End: orders - orders/2}}},
			{Topic: stream.Topic{Name: "audit"}, Offsets: []stream.PartitionOffsets{{End: audit}}},
		}
	}
	if _, ok := r.rate("orders"); ok {
		t.Error("a rate from no observations")
	}
	r.observe(t0, ends(0, 5))
	if _, ok := r.rate("orders"); ok {
		t.Error("a rate from one observation")
	}
	// 10 records a second for two minutes of 10-second ticks; the rate
	// looks back one minute.
	for i := 1; i <= 12; i++ {
		r.observe(t0.Add(time.Duration(i)*10*time.Second), ends(int64(i)*100, 5))
	}
	if got, ok := r.rate("orders"); !ok || got != 10 {
		t.Errorf("rate(orders) = %v, %v; want 10", got, ok)
	}
	if got, ok := r.rate("audit"); !ok || got != 0 {
		t.Errorf("rate(audit) = %v, %v; want 0", got, ok)
	}
	if len(r.seen) > 8 {
		t.Errorf("keeps %d observations for a one-minute window of 10-second ticks", len(r.seen))
	}
	if _, ok := r.rate("new.topic"); ok {
		t.Error("a rate for a topic seen in no observation")
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 20 << 20: "20.0 MiB", 300 << 30: "300 GiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
