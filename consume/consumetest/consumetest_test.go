package consumetest

import (
	"context"
	"strconv"
	"testing"
)

// BenchmarkInbox measures the in-memory inbox alone, what the dedupe
// middleware's benchmarks add to the chain's own cost: Once with a new id
// each time, into a map made with room for every id of the run (as the
// consume benchmarks make it) or growing from empty:
//
//	go test ./consume/consumetest -run '^$' -bench Inbox -benchmem -benchtime 200000x
func BenchmarkInbox(b *testing.B) {
	for _, v := range []struct {
		name string
		mk   func(n int) *Inbox
	}{{"sized", NewInboxSize}, {"growing", func(int) *Inbox { return NewInbox() }}} {
		b.Run(v.name, func(b *testing.B) {
			ids := make([]string, b.N)
			for i := range ids {
				ids[i] = "01JBENCH" + strconv.Itoa(i)
			}
			in := v.mk(b.N)
			fn := func(context.Context) error { return nil }
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for _, id := range ids {
				if err := in.Once(ctx, id, fn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestInbox(t *testing.T) {
	in := NewInbox()
	calls := 0
	fn := func(context.Context) error { calls++; return nil }
	for range 2 {
		if err := in.Once(context.Background(), "a", fn); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 || !in.Seen("a") || in.Seen("b") {
		t.Errorf("calls %d, seen a %v, seen b %v; want 1, true, false", calls, in.Seen("a"), in.Seen("b"))
	}
}
