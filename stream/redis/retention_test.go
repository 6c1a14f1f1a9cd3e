package redis

import (
	"context"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
)

// Each produce call of ten records of 100-byte values (143 bytes with the
// record id header) is one batch of 1430 bytes.
func produceBatches(t *testing.T, ctx context.Context, b *Broker, topic string, batches int) {
	t.Helper()
	for range batches {
		var recs []*stream.Record
		for range 10 {
			recs = append(recs, &stream.Record{Topic: topic, Value: make([]byte, 100)})
		}
		if err := b.Produce(ctx, recs...); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRetentionBytes(t *testing.T) {
	tests := []struct {
		name       string
		committed  int64 // -1: no group
		hardCap    int64
		wantStart  int64
		wantForced int64
	}{
		{name: "no group", committed: -1, wantStart: 80},
		{name: "group behind", committed: 50, wantStart: 50},
		{name: "group ahead", committed: 95, wantStart: 80},
		{name: "hard cap overrides group", committed: 0, hardCap: 2000, wantStart: 90, wantForced: 90},
		{name: "hard cap within retention", committed: -1, hardCap: 5000, wantStart: 80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			cfg := testConfig(t)
			cfg.HardCapBytes = tt.hardCap
			b := openBroker(t, cfg)
			if err := b.CreateTopic(ctx, stream.Topic{Name: "t", Partitions: 1, RetentionBytes: 3000}); err != nil {
				t.Fatal(err)
			}
			produceBatches(t, ctx, b, "t", 10)
			if tt.committed >= 0 {
				l, err := b.acquire(ctx, "g", "m#1", tp{"t", 0}, time.Minute, stream.StartEarliest)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := b.commit(ctx, "g", tp{"t", 0}, l.token, 0, tt.committed, true); err != nil {
					t.Fatal(err)
				}
			}
			deleted, err := b.EnforceRetention(ctx)
			if err != nil {
				t.Fatalf("EnforceRetention: %v", err)
			}
			info, err := b.DescribeTopic(ctx, "t")
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Offsets[0].Start; got != tt.wantStart || deleted != tt.wantStart {
				t.Errorf("start %d after deleting %d, want %d", got, deleted, tt.wantStart)
			}
			if got := b.Stats().ForcedRecords; got != tt.wantForced {
				t.Errorf("forced deletions %d, want %d", got, tt.wantForced)
			}
			// A second run deletes nothing more.
			if n, err := b.EnforceRetention(ctx); err != nil || n != 0 {
				t.Errorf("second run deleted %d (%v), want 0", n, err)
			}
			// The partition still reads and produces from where it is.
			got, err := b.Read(ctx, "t", 0, 0, 1)
			if err != nil || len(got) != 1 || got[0].Offset != tt.wantStart {
				t.Errorf("Read from 0 = %v, %v; want the record at %d", got, err, tt.wantStart)
			}
			r := &stream.Record{Topic: "t", Value: []byte("x")}
			if err := b.Produce(ctx, r); err != nil || r.Offset != 100 {
				t.Errorf("Produce after retention: offset %d, %v; want 100", r.Offset, err)
			}
		})
	}
}

// Retention by time deletes the oldest records older than the cutoff, even
// inside a produced batch, and OffsetForTime stays exact afterwards.
func TestRetentionTimeAndOffsetForTime(t *testing.T) {
	ctx := testContext(t)
	b := openBroker(t, testConfig(t))
	if err := b.CreateTopic(ctx, stream.Topic{Name: "t", Partitions: 1, RetentionTime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-3 * time.Hour)
	var recs []*stream.Record
	for i := range 30 {
		// Timestamps rise by ten minutes, except for one record that is
		// late (older than its predecessor).
		ts := base.Add(time.Duration(i) * 10 * time.Minute)
		if i == 12 {
			ts = base
		}
		recs = append(recs, &stream.Record{Topic: "t", Value: []byte("v"), Timestamp: ts})
	}
	for i := 0; i < 30; i += 7 {
		if err := b.Produce(ctx, recs[i:min(i+7, 30)]...); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		at   time.Time
		want int64
	}{
		{base.Add(-time.Minute), 0},
		{base, 0},
		{base.Add(time.Minute), 1},
		{base.Add(115 * time.Minute), 13}, // offset 12 is late, 11 is at 110 min
		{base.Add(120 * time.Minute), 13},
		{base.Add(290 * time.Minute), 29},
		{base.Add(5 * time.Hour), 30},
	}
	for _, tt := range tests {
		got, err := b.OffsetForTime(ctx, "t", 0, tt.at)
		if err != nil || got != tt.want {
			t.Errorf("OffsetForTime(base+%s) = %d, %v; want %d", tt.at.Sub(base), got, err, tt.want)
		}
	}
	// The cutoff is now-1h, about base+2h: offsets 0 to 11 are older, and
	// so is the late offset 12, so all thirteen go.
	if _, err := b.EnforceRetention(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := b.DescribeTopic(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Offsets[0].Start; got != 13 {
		t.Errorf("start after retention %d, want 13", got)
	}
	if got, err := b.OffsetForTime(ctx, "t", 0, base); err != nil || got != 13 {
		t.Errorf("OffsetForTime(base) after retention = %d, %v; want 13 (the start)", got, err)
	}
}

// The broker enforces retention in the background every
// RetentionInterval.
func TestRetentionInBackground(t *testing.T) {
	ctx := testContext(t)
	cfg := testConfig(t)
	cfg.RetentionInterval = 50 * time.Millisecond
	b := openBroker(t, cfg)
	if err := b.CreateTopic(ctx, stream.Topic{Name: "t", Partitions: 1, RetentionTime: time.Minute}); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := b.Produce(ctx, &stream.Record{Topic: "t", Timestamp: old}, &stream.Record{Topic: "t", Timestamp: old}, &stream.Record{Topic: "t"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, err := b.DescribeTopic(ctx, "t")
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Offsets[0].Start; got == 2 {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("start %d after 5s of background retention, want 2", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
