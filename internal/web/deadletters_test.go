package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/dlq"
	"github.com/arus-platform/arus/stream"
)

func TestDeadLetterPages(t *testing.T) {
	f, b := newStreamsFixture(t)
	ctx := context.Background()
	m := f.handler.cfg.DLQ
	// Five dead letters of group billing on orders: three of one error, two
	// of another.
	for i := 0; i < 5; i++ {
		cause := errors.New("card declined")
		if i >= 3 {
			cause = errors.New("customer not found")
		}
		orig := &stream.Record{Topic: "orders", Partition: 0, Offset: int64(i), Key: []byte(fmt.Sprintf("o%d", i)), Value: []byte("{}"),
			Headers: []stream.Header{{Key: stream.HeaderID, Value: []byte(fmt.Sprintf("id-%d", i))}}}
		if err := b.Produce(ctx, consume.DeadLetterRecord(orig, "billing", cause, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	br := f.browser()
	csrf := br.login("admin", adminPassword)
	_, body := br.get("/dlq")
	if !strings.Contains(body, "orders.billing.dlq") || !strings.Contains(body, "5 dead-lettered") {
		t.Fatalf("dead-letter list lacks the queue with 5 pending:\n%s", body)
	}
	resp, body := br.get("/dlq/orders.billing.dlq")
	wantStatus(t, "queue page", resp, http.StatusOK)
	if !strings.Contains(body, "card declined") || !strings.Contains(body, "customer not found") {
		t.Errorf("queue page lacks the grouped errors")
	}

	// Replaying the filtered set asks first, then replays exactly those.
	form := url.Values{"csrf_token": {csrf}, "error": {"declined"}}
	resp, body = br.post("/dlq/orders.billing.dlq/replay", form)
	wantStatus(t, "replay review", resp, http.StatusOK)
	if !strings.Contains(body, "replay 3 pending letter(s)") {
		t.Errorf("review does not say 3 letters will be replayed:\n%s", body)
	}
	if info, err := b.DescribeTopic(ctx, "orders.billing.retry"); err == nil && info.Records() > 0 {
		t.Fatalf("the review step replayed %d records", info.Records())
	}
	form.Set("confirmed", "yes")
	resp, _ = br.post("/dlq/orders.billing.dlq/replay", form)
	wantStatus(t, "replay", resp, http.StatusSeeOther)
	info, err := b.DescribeTopic(ctx, "orders.billing.retry")
	if err != nil || info.Records() != 3 {
		t.Errorf("retry topic holds %d records (%v), want 3", info.Records(), err)
	}

	// Discard one letter by position.
	pending, err := m.Records(ctx, "orders.billing.dlq", dlq.Filter{})
	if err != nil || len(pending) != 2 {
		t.Fatalf("pending letters %d (%v), want 2", len(pending), err)
	}
	resp, _ = br.post("/dlq/orders.billing.dlq/discard", url.Values{"csrf_token": {csrf}, "position": {pending[0].Position.String()}, "confirmed": {"yes"}})
	wantStatus(t, "discard one", resp, http.StatusSeeOther)
	resp, _ = br.post("/dlq/orders.billing.dlq/discard", url.Values{"csrf_token": {csrf}, "position": {pending[0].Position.String()}, "confirmed": {"yes"}})
	wantStatus(t, "discard the same letter again", resp, http.StatusNotFound)
	queues, _ := m.List(ctx)
	if len(queues) != 1 || queues[0].Pending != 1 {
		t.Errorf("after replaying 3 and discarding 1, queues %+v, want 1 pending", queues)
	}
	resp, _ = br.post("/dlq/orders.billing.dlq/discard", url.Values{"csrf_token": {csrf}, "position": {"zero"}})
	wantStatus(t, "discard a bad position", resp, http.StatusUnprocessableEntity)
	resp, _ = br.get("/dlq/nope.dlq")
	wantStatus(t, "unknown queue", resp, http.StatusNotFound)
}
