package consume_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/stream"
)

// producer records what it is asked to produce, or fails with err.
type producer struct {
	got []*stream.Record
	err error
}

func (p *producer) Produce(ctx context.Context, recs ...*stream.Record) error {
	if p.err != nil {
		return stream.AllFailed(len(recs), p.err)
	}
	p.got = append(p.got, recs...)
	return nil
}

func TestDeadLetter(t *testing.T) {
	orig := &stream.Record{Topic: "orders", Partition: 2, Offset: 41, Key: []byte("k"), Value: []byte("v"),
		Headers: []stream.Header{{Key: stream.HeaderID, Value: []byte("id-1")}, {Key: "tenant", Value: []byte("acme")}}}
	first := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	replayed := &stream.Record{Topic: "orders", Partition: 0, Offset: 7, Key: []byte("k"), Value: []byte("v"),
		Headers: []stream.Header{{Key: stream.HeaderID, Value: []byte("id-1")},
			{Key: consume.HeaderDLQTopic, Value: []byte("orders")}, {Key: consume.HeaderDLQPartition, Value: []byte("2")},
			{Key: consume.HeaderDLQOffset, Value: []byte("41")}, {Key: consume.HeaderDLQGroup, Value: []byte("billing")},
			{Key: consume.HeaderDLQFirstFailure, Value: []byte(first.Format(consume.TimeFormat))},
			{Key: consume.HeaderDLQAttempts, Value: []byte("5")}}}
	for _, tc := range []struct {
		name        string
		rec         *stream.Record
		herr        error
		produceErr  error
		wantErr     bool
		wantDLQ     bool
		wantHeaders map[string]string
	}{
		{"success passes", orig, nil, nil, false, false, nil},
		{"failure parks the record", orig, errors.New("boom"), nil, false, true, map[string]string{
			consume.HeaderDLQTopic: "orders", consume.HeaderDLQPartition: "2", consume.HeaderDLQOffset: "41",
			consume.HeaderDLQGroup: "billing", consume.HeaderDLQError: "boom", consume.HeaderDLQAttempts: "1",
			consume.HeaderDLQPermanent: "false", stream.HeaderID: "id-1", "tenant": "acme"}},
		{"retry error carries attempts", orig, &consume.RetryError{Err: consume.Permanent(errors.New("bad")), Attempts: 4,
			FirstFailed: first, LastFailed: first.Add(time.Second)}, nil, false, true, map[string]string{
			consume.HeaderDLQAttempts: "4", consume.HeaderDLQError: "bad", consume.HeaderDLQPermanent: "true",
			consume.HeaderDLQFirstFailure: first.Format(consume.TimeFormat),
			consume.HeaderDLQLastFailure:  first.Add(time.Second).Format(consume.TimeFormat)}},
		{"replay keeps the original position", replayed, errors.New("again"), nil, false, true, map[string]string{
			consume.HeaderDLQTopic: "orders", consume.HeaderDLQPartition: "2", consume.HeaderDLQOffset: "41",
			consume.HeaderDLQFirstFailure: first.Format(consume.TimeFormat), consume.HeaderDLQAttempts: "1",
			consume.HeaderDLQError: "again"}},
		{"stopping is not dead-lettered", orig, consume.ErrStopping, nil, true, false, nil},
		{"produce failure leaves the record uncommitted", orig, errors.New("boom"), stream.ErrUnavailable, true, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &producer{err: tc.produceErr}
			dead := 0
			mw, err := consume.DeadLetter(p, consume.DeadLetterConfig{Group: "billing", Logger: brokertest.Logger(),
				OnDeadLetter: func(*stream.Record, error) { dead++ }})
			if err != nil {
				t.Fatal(err)
			}
			err = mw(func(context.Context, *stream.Record) error { return tc.herr })(context.Background(), tc.rec)
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error: %v", err, tc.wantErr)
			}
			if got := len(p.got); got != map[bool]int{true: 1}[tc.wantDLQ] {
				t.Fatalf("dead letters produced: %d, want dead letter: %v", got, tc.wantDLQ)
			}
			if dead != len(p.got) {
				t.Errorf("OnDeadLetter called %d times, want %d", dead, len(p.got))
			}
			if !tc.wantDLQ {
				return
			}
			d := p.got[0]
			if d.Topic != "orders.billing.dlq" || string(d.Key) != "k" || string(d.Value) != "v" {
				t.Errorf("dead letter: topic %q key %q value %q, want orders.billing.dlq k v", d.Topic, d.Key, d.Value)
			}
			for k, v := range tc.wantHeaders {
				if got := header(d, k); got != v {
					t.Errorf("header %s: got %q, want %q", k, got, v)
				}
			}
			for _, h := range []string{consume.HeaderDLQTopic, consume.HeaderDLQError, consume.HeaderDLQAttempts} {
				n := 0
				for _, dh := range d.Headers {
					if dh.Key == h {
						n++
					}
				}
				if n != 1 {
					t.Errorf("header %s appears %d times, want once", h, n)
				}
			}
			if _, err := time.Parse(consume.TimeFormat, header(d, consume.HeaderDLQLastFailure)); err != nil {
				t.Errorf("last failure header: %v", err)
			}
			if tc.rec == orig && len(orig.Headers) != 2 {
				t.Errorf("the original record's headers changed: %v", orig.Headers)
			}
		})
	}
}

func TestDeadLetterErrorTruncated(t *testing.T) {
	long := make([]byte, 10000)
	for i := range long {
		long[i] = 'x'
	}
	d := consume.DeadLetterRecord(&stream.Record{Topic: "t"}, "g", errors.New(string(long)), time.Now())
	if n := len(header(d, consume.HeaderDLQError)); n > 5000 {
		t.Errorf("error header is %d bytes, want it cut to about 4 KiB", n)
	}
	if got := header(d, consume.HeaderDLQAttempts); got != strconv.Itoa(1) {
		t.Errorf("attempts: got %q, want 1", got)
	}
}
