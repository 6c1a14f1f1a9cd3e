package gate_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
	"github.com/arus-platform/arus/ticketing/gate"
	"github.com/arus-platform/arus/ticketing/messages"
)

// The gate answers the go-live saga's command with the event's public key,
// and grants access with signed passes that verify.
func TestRunAnswersTheSagaAndGrantsAccess(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := embedded.New(ctx, embedded.Config{Dir: t.TempDir(), Options: stream.Options{Logger: quiet}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	for _, topic := range append([]string{"gate.test.replies"}, messages.Topics...) {
		if err := b.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: 1}); err != nil {
			t.Fatal(err)
		}
	}
	db, err := store.Open(ctx, store.Config{Dir: t.TempDir(), Component: "gate"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := gate.Open(ctx, gate.Config{DB: db, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, b) }()

	// A staff change before the event's server exists is kept until the
	// server is prepared; the go-live command carries the staff the event
	// has then.
	early, _ := json.Marshal(messages.StaffChanged{Type: messages.TypeStaffAssigned, EventID: "ev9", StaffID: "stf-early",
		Name: "Eka Pratama", Email: "Eka@Crew.example", WorkStarts: time.Now().Add(-time.Hour), WorkEnds: time.Now().Add(time.Hour)})
	if err := b.Produce(ctx, &stream.Record{Topic: messages.TopicStaff, Key: []byte("ev9"), Value: early}); err != nil {
		t.Fatal(err)
	}
	cmd, _ := json.Marshal(messages.CreateACLServer{Type: messages.TypeCreateACLServer, EventID: "ev9",
		Areas: []messages.Area{{AreaID: "ga"}}, Starts: time.Now().Add(-time.Hour), Ends: time.Now().Add(time.Hour),
		Staff: []messages.StaffChanged{{Type: messages.TypeStaffAssigned, StaffID: "stf0", Name: "Dewi", WorkStarts: time.Now().Add(-time.Hour), WorkEnds: time.Now().Add(time.Hour)}}})
	r := &stream.Record{Topic: messages.TopicACLCreate, Key: []byte("ev9"), Value: cmd}
	r.SetHeader(saga.HeaderSagaID, []byte("saga-1"))
	r.SetHeader(saga.HeaderReplyTo, []byte("gate.test.replies"))
	if err := b.Produce(ctx, r); err != nil {
		t.Fatal(err)
	}
	reply := readOne(t, b, "gate.test.replies")
	var prepared messages.ACLServerPrepared
	if err := json.Unmarshal(reply.Value, &prepared); err != nil {
		t.Fatal(err)
	}
	outcome, _ := reply.Header(saga.HeaderOutcome)
	if !prepared.OK || prepared.Stub || prepared.PublicKey == "" || string(outcome) != saga.OutcomeSuccess {
		t.Fatalf("answer %+v outcome %s, want ok with a public key", prepared, outcome)
	}

	issued, _ := json.Marshal(messages.TicketsIssued{Type: messages.TypeTicketsIssued, OrderID: "o1", EventID: "ev9",
		Tickets: []messages.Ticket{{TicketID: "t1", AreaID: "ga", Code: "c"}}})
	if err := b.Produce(ctx, &stream.Record{Topic: messages.TopicOrders, Key: []byte("o1"), Value: issued}); err != nil {
		t.Fatal(err)
	}
	granted := readOne(t, b, messages.TopicAccess)
	var a messages.Access
	if err := json.Unmarshal(granted.Value, &a); err != nil {
		t.Fatal(err)
	}
	if a.Type != messages.TypeAccessGranted || len(a.Passes) != 1 || a.Passes[0].TicketID != "t1" {
		t.Fatalf("access %+v, want t1 granted with its pass", a)
	}
	keys, err := s.PublicKeys(ctx, "ev9")
	if err != nil || len(keys) != 1 || keys[0].PublicKey != prepared.PublicKey {
		t.Fatalf("keys %+v %v", keys, err)
	}
	res, err := s.Redeem(ctx, gate.Redeem{EventID: "ev9", Secret: a.Passes[0].QR, GateID: "main", Direction: gate.DirectionEntry})
	if err != nil || !res.OK {
		t.Errorf("redeem the granted pass: %+v %v", res, err)
	}

	// Staff: the go-live's, then a change on ticketing.staff, answered on
	// acl.staff with passes that scan in their window only.
	later, _ := json.Marshal(messages.StaffChanged{Type: messages.TypeStaffAssigned, EventID: "ev9", StaffID: "stf1",
		WorkStarts: time.Now().Add(time.Hour), WorkEnds: time.Now().Add(2 * time.Hour)})
	if err := b.Produce(ctx, &stream.Record{Topic: messages.TopicStaff, Key: []byte("ev9"), Value: later}); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"stf0": true, "stf-early": true, "stf1": false}
	for off := int64(0); len(want) > 0 && off < 6; off++ {
		var sa messages.StaffAccess
		if err := json.Unmarshal(readAt(t, b, messages.TopicStaffAccess, off).Value, &sa); err != nil {
			t.Fatal(err)
		}
		if sa.Type != messages.TypeStaffGranted || sa.QR == "" || (sa.StaffID != "stf0" && sa.StaffID != "stf1" && sa.StaffID != "stf-early") {
			t.Fatalf("staff answer %+v", sa)
		}
		ok, known := want[sa.StaffID]
		if !known {
			continue
		}
		delete(want, sa.StaffID)
		res, err := s.Redeem(ctx, gate.Redeem{EventID: "ev9", Secret: sa.QR, GateID: "main", Direction: gate.DirectionEntry})
		if err != nil || res.OK != ok || (!ok && res.Reason != gate.ReasonOutsideWindow) {
			t.Errorf("staff %s scans: %+v %v, want ok %v", sa.StaffID, res, err, ok)
		}
	}
	if len(want) > 0 {
		t.Errorf("no staff pass for %v", want)
	}
	// Their passes carry the names (and e-mail addresses) the messages
	// gave, kept or carried by the go-live command alike.
	for q, id := range map[string]string{"pratama": "stf-early", "eka@crew.example": "stf-early", "dewi": "stf0"} {
		found, err := s.Search(ctx, "ev9", q, 10)
		if err != nil || len(found) != 1 || found[0].PassID != id || found[0].StaffName == "" {
			t.Errorf("search %q: %+v %v, want %s with its staff member's name", q, found, err, id)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

// readOne waits for the first record of a topic.
func readOne(t *testing.T, b stream.Broker, topic string) *stream.Record {
	t.Helper()
	return readAt(t, b, topic, 0)
}

// readAt waits for the record at offset of a topic's partition 0.
func readAt(t *testing.T, b stream.Broker, topic string, offset int64) *stream.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		recs, err := b.Read(ctx, topic, 0, offset, 1)
		if err != nil {
			t.Fatalf("read %s: %v", topic, err)
		}
		if len(recs) > 0 {
			return recs[0]
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no record on %s", topic)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
