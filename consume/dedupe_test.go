package consume_test

import (
	"context"
	"errors"
	"testing"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/consume/consumetest"
	"github.com/arus-platform/arus/stream"
)

func TestDedupe(t *testing.T) {
	withID := func(id string) *stream.Record {
		r := &stream.Record{Topic: "t"}
		if id != "" {
			r.Headers = []stream.Header{{Key: stream.HeaderID, Value: []byte(id)}}
		}
		return r
	}
	for _, tc := range []struct {
		name      string
		records   []*stream.Record
		fails     map[int]bool // call index → fails
		wantCalls int
	}{
		{"second delivery skipped", []*stream.Record{withID("a"), withID("a")}, nil, 1},
		{"different ids both handled", []*stream.Record{withID("a"), withID("b")}, nil, 2},
		{"failure marks nothing", []*stream.Record{withID("a"), withID("a"), withID("a")}, map[int]bool{0: true}, 2},
		{"no id is never deduplicated", []*stream.Record{withID(""), withID("")}, nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			h := consume.Dedupe(consumetest.NewInbox())(func(ctx context.Context, r *stream.Record) error {
				calls++
				if tc.fails[calls-1] {
					return errors.New("fail")
				}
				return nil
			})
			for _, r := range tc.records {
				_ = h(context.Background(), r)
			}
			if calls != tc.wantCalls {
				t.Errorf("handler calls: got %d, want %d", calls, tc.wantCalls)
			}
		})
	}
}
