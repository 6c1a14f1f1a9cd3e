package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	_ "image/png"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/internal/qrtest"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
	"github.com/arus-platform/arus/ticketing/messages"
	"github.com/arus-platform/arus/ticketing/notify"
)

type env struct {
	svc    *notify.Service
	broker stream.Broker
	db     *store.DB
}

// start runs notify on an embedded broker and a SQLite store until the
// test ends; smtp nil keeps messages in the mailbox.
func start(t *testing.T, smtp *notify.SMTPConfig) *env {
	t.Helper()
	return startOn(t, store.Config{Dir: t.TempDir()}, smtp)
}

// startOn is start with the store base names (SQLite or PostgreSQL).
func startOn(t *testing.T, base store.Config, smtp *notify.SMTPConfig) *env {
	t.Helper()
	b, err := embedded.New(context.Background(), embedded.Config{Dir: t.TempDir(), Options: stream.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return startWith(t, base, b, smtp)
}

// startWith is startOn on a broker of the caller's, which closes it.
func startWith(t *testing.T, base store.Config, b stream.Broker, smtp *notify.SMTPConfig, opts ...func(*notify.Config)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	base.Component = "notify"
	db, err := store.Open(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	cfg := notify.Config{DB: db, Broker: b, SMTP: smtp, Logger: log, SendInterval: 20 * time.Millisecond,
		RetryBackoff: 10 * time.Millisecond, MaxAttempts: 2}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := notify.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		db.Close()
	})
	return &env{svc: svc, broker: b, db: db}
}

func (e *env) send(t *testing.T, topic, key string, m any) {
	t.Helper()
	value, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.broker.Produce(t.Context(), &stream.Record{Topic: topic, Key: []byte(key), Value: value}); err != nil {
		t.Fatal(err)
	}
}

// waitMessage waits for a message matching q whose state is state, and
// returns it in full.
func (e *env) waitMessage(t *testing.T, q notify.Query, state string) notify.Message {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		list, err := e.svc.Messages(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) > 0 && list[0].State == state {
			m, err := e.svc.Message(t.Context(), list[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s message matching %+v in time (have %+v)", state, q, list)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func issued(orderID, lang string) messages.TicketsIssued {
	return messages.TicketsIssued{Type: messages.TypeTicketsIssued, OrderID: orderID, Number: "2026-12-06-7-1234",
		EventID: "ev", EventName: "Jazz Gunung", Buyer: messages.Buyer{Name: "Rina", Email: "rina@example.co.id", Lang: lang},
		Tickets: []messages.Ticket{
			{TicketID: "t1", AreaID: "a", AreaName: "Festival", Code: "ARUS1.t1.c2lnbmF0dXJlLW9uZQ"},
			{TicketID: "t2", AreaID: "a", AreaName: "Festival", Code: "ARUS1.t2.c2lnbmF0dXJlLXR3bw"},
		},
		Starts: time.Date(2026, 12, 24, 12, 0, 0, 0, time.UTC), TimeZone: "Asia/Jakarta", At: time.Now()}
}

func TestETicketCarriesQRCodesThatDecode(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) { eTicketQR(t, startOn(t, base, nil)) })
}

// Notify reads its topics the same on every backend.
func TestETicketOnEveryBackend(t *testing.T) {
	brokertest.Each(t, func(t *testing.T, b stream.Broker) {
		eTicketQR(t, startWith(t, store.Config{Dir: t.TempDir()}, b, nil))
	})
}

func eTicketQR(t *testing.T, e *env) {
	tickets := issued("o1", "id")
	e.send(t, messages.TopicOrders, "o1", tickets)
	e.send(t, messages.TopicOrders, "o1", tickets) // published twice: one message per record id
	m := e.waitMessage(t, notify.Query{OrderID: "o1", Kind: notify.KindETicket}, notify.StateMailbox)
	if m.To != "rina@example.co.id" || m.Lang != "id" || !strings.Contains(m.Subject, "E-tiket") {
		t.Errorf("message to %q lang %q subject %q, want Indonesian to rina", m.To, m.Lang, m.Subject)
	}
	if !strings.Contains(m.Text, "24 Dec 2026 19:00 WIB") {
		t.Errorf("text does not give the event's start in Jakarta time:\n%s", m.Text)
	}
	if len(m.Parts) != 2 {
		t.Fatalf("%d parts, want one QR code per ticket", len(m.Parts))
	}
	// The mailbox keeps the codes' text; their images are drawn when the
	// message is read.
	var kept string
	if err := e.db.QueryRowContext(context.Background(), e.db.Rebind(`SELECT parts FROM notify_messages WHERE id = ?`), m.ID).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(kept, `"data":null`) || strings.Contains(kept, "iVBOR") {
		t.Errorf("the mailbox keeps the images: %.200s", kept)
	}
	for i, p := range m.Parts {
		want := tickets.Tickets[i].Code
		if got := qrtest.Decode(t, p.Data); got != want {
			t.Errorf("QR code %d decodes to %q, want %q", i, got, want)
		}
		// Each ticket's code follows its own line.
		line := strings.Index(m.HTML, "Tiket "+tickets.Tickets[i].TicketID+",")
		img := strings.Index(m.HTML, `src="cid:`+p.ContentID+`"`)
		if line < 0 || img < line || (i+1 < len(tickets.Tickets) && img > strings.Index(m.HTML, "Tiket "+tickets.Tickets[i+1].TicketID+",")) {
			t.Errorf("the HTML does not show part %s inline after its ticket's line:\n%s", p.ContentID, m.HTML)
		}
	}
	raw, err := notify.MIME(m, "tiket@arus.test")
	if err != nil {
		t.Fatal(err)
	}
	// Header names are case-insensitive.
	for _, want := range []string{"content-type: multipart/related", "content-id: <ticket-t1>", "content-type: image/png", "to: rina@example.co.id"} {
		if !strings.Contains(strings.ToLower(string(raw)), want) {
			t.Errorf("the MIME message lacks %q", want)
		}
	}
}

func TestEveryMessageInBothLanguages(t *testing.T) {
	e := start(t, nil)
	buyer := func(lang string) messages.Buyer {
		return messages.Buyer{Name: "Budi", Email: "budi-" + lang + "@example.com", Lang: lang}
	}
	pay := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	for _, lang := range []string{"id", "en"} {
		o := "o-" + lang
		b := buyer(lang)
		e.send(t, messages.TopicPayments, o, messages.PaymentRequested{Type: messages.TypePaymentRequested, PaymentID: "p-" + lang,
			OrderID: o, Number: "N-" + lang, Amount: 1_500_000, Method: messages.MethodOnline, PayBy: pay, Buyer: b,
			EventName: "Jazz", VirtualAccount: "8808000000000001", QR: "ARUSPAY|1|p|IDR|1500000"})
		e.send(t, messages.TopicOrders, o, messages.OrderClosed{Type: messages.TypeOrderExpired, OrderID: o, Number: "N-" + lang, Buyer: b})
		e.send(t, messages.TopicOrders, o, messages.OrderClosed{Type: messages.TypeOrderCanceled, OrderID: o, Number: "N-" + lang, Buyer: b, Reason: "event canceled"})
		e.send(t, messages.TopicOrders, o, messages.LatePaymentRejected{Type: messages.TypeLatePaymentRejected, OrderID: o, Number: "N-" + lang, Amount: 1_500_000, Buyer: b})
		e.send(t, messages.TopicOrders, o, messages.OrderRefunded{Type: messages.TypeOrderRefunded, RefundID: "r", OrderID: o, Amount: 500_000, Partial: true, Buyer: b})
		e.send(t, messages.TopicCustomers, "u-"+lang, messages.CustomerRegistered{Type: messages.TypeCustomerRegistered, UserID: "u-" + lang,
			Name: "Budi", Email: b.Email, Lang: lang, ConfirmURL: "http://arus.test/confirm?token=x", Expires: pay})
	}
	tests := []struct {
		lang, kind string
		want       []string
	}{
		{"id", notify.KindOrderConfirmation, []string{"selesaikan pembayaran", "Rp 1.500.000", "8808000000000001", "6 Dec 2026 17:00 WIB"}},
		{"en", notify.KindOrderConfirmation, []string{"complete your payment", "IDR 1,500,000", "8808000000000001"}},
		{"id", notify.KindOrderExpired, []string{"kedaluwarsa"}},
		{"en", notify.KindOrderExpired, []string{"has expired"}},
		{"id", notify.KindOrderCanceled, []string{"dibatalkan", "event canceled"}},
		{"en", notify.KindOrderCanceled, []string{"was canceled", "event canceled"}},
		{"id", notify.KindLatePaymentRefund, []string{"dikembalikan", "Rp 1.500.000"}},
		{"en", notify.KindLatePaymentRefund, []string{"is refunded", "IDR 1,500,000"}},
		{"id", notify.KindRefund, []string{"Pengembalian dana", "Rp 500.000", "sebagian"}},
		{"en", notify.KindRefund, []string{"Refund for order", "IDR 500,000", "partial"}},
		{"id", notify.KindCustomerConfirmation, []string{"Konfirmasi", "http://arus.test/confirm?token=x"}},
		{"en", notify.KindCustomerConfirmation, []string{"Confirm your", "http://arus.test/confirm?token=x"}},
	}
	for _, tt := range tests {
		t.Run(tt.lang+"/"+tt.kind, func(t *testing.T) {
			m := e.waitMessage(t, notify.Query{To: "budi-" + tt.lang + "@example.com", Kind: tt.kind}, notify.StateMailbox)
			all := m.Subject + "\n" + m.Text
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("%s message lacks %q:\n%s", tt.kind, w, all)
				}
			}
			if m.Lang != tt.lang {
				t.Errorf("lang = %s, want %s", m.Lang, tt.lang)
			}
		})
	}
	conf := e.waitMessage(t, notify.Query{To: "budi-en@example.com", Kind: notify.KindOrderConfirmation}, notify.StateMailbox)
	if len(conf.Parts) != 1 || qrtest.Decode(t, conf.Parts[0].Data) != "ARUSPAY|1|p|IDR|1500000" {
		t.Errorf("the online order confirmation does not carry the payment's QR code: %+v", conf.Parts)
	}
}

func TestBadRecipientFailsInTheMailbox(t *testing.T) {
	e := start(t, nil)
	m := issued("o-bad", "en")
	m.Buyer.Email = "rina@example.com\r\nBcc: all@example.com"
	e.send(t, messages.TopicOrders, "o-bad", m)
	got := e.waitMessage(t, notify.Query{OrderID: "o-bad"}, notify.StateFailed)
	if !strings.Contains(got.LastError, "not an e-mail address") {
		t.Errorf("last error %q, want it to say the address is bad", got.LastError)
	}
	if _, err := e.svc.Message(t.Context(), "msg_missing"); err == nil {
		t.Errorf("Message(missing) found something")
	}
}

// With AwaitAccess the e-ticket waits for the gate's AccessGranted,
// whichever of the two comes first, and its QR codes carry the gate's
// signed passes; it is composed once.
func TestETicketWaitsForTheGatesPasses(t *testing.T) {
	b, err := embedded.New(context.Background(), embedded.Config{Dir: t.TempDir(), Options: stream.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	e := startWith(t, store.Config{Dir: t.TempDir()}, b, nil, func(c *notify.Config) { c.AwaitAccess, c.Partitions = true, 1 })
	granted := func(order string) messages.Access {
		return messages.Access{Type: messages.TypeAccessGranted, OrderID: order, EventID: "ev", TicketIDs: []string{"t1", "t2"},
			Passes: []messages.Pass{{TicketID: "t1", QR: "signed-pass-of-t1"}, {TicketID: "t2", QR: "signed-pass-of-t2"}}}
	}
	// o1: the tickets first; o2: the passes first.
	e.send(t, messages.TopicOrders, "o1", issued("o1", "en"))
	e.send(t, messages.TopicAccess, "o2", granted("o2"))
	e.send(t, messages.TopicAccess, "o1", granted("o1"))
	e.send(t, messages.TopicOrders, "o2", issued("o2", "en"))
	e.send(t, messages.TopicAccess, "o1", granted("o1")) // granted again: no second e-ticket
	// o3 has its tickets but no passes yet: no e-ticket.
	e.send(t, messages.TopicOrders, "o3", issued("o3", "en"))
	for _, order := range []string{"o1", "o2"} {
		m := e.waitMessage(t, notify.Query{OrderID: order, Kind: notify.KindETicket}, notify.StateMailbox)
		if len(m.Parts) != 2 {
			t.Fatalf("%s: %d parts, want 2", order, len(m.Parts))
		}
		for i, p := range m.Parts {
			want := fmt.Sprintf("signed-pass-of-t%d", i+1)
			if got := qrtest.Decode(t, p.Data); got != want {
				t.Errorf("%s: QR code %d decodes to %q, want the gate's pass %q", order, i, got, want)
			}
		}
	}
	// A message sent after o3's tickets and o1's second grant is composed
	// once they were handled (one partition, in order).
	e.send(t, messages.TopicOrders, "o4", messages.OrderClosed{Type: messages.TypeOrderExpired, OrderID: "o4", Number: "n4",
		Buyer: messages.Buyer{Name: "Rina", Email: "rina@example.co.id"}})
	e.waitMessage(t, notify.Query{OrderID: "o4"}, notify.StateMailbox)
	for order, want := range map[string]int{"o1": 1, "o3": 0} {
		list, err := e.svc.Messages(t.Context(), notify.Query{OrderID: order, Kind: notify.KindETicket})
		if err != nil || len(list) != want {
			t.Errorf("%s: %d e-tickets (%v), want %d", order, len(list), err, want)
		}
	}
}
