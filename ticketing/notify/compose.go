package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"image/png"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the buyer's time zone, wherever the process runs

	qrcode "github.com/skip2/go-qrcode"

	"github.com/arus-platform/arus/ticketing/messages"
)

// Message kinds.
const (
	KindOrderConfirmation    = "order_confirmation"
	KindETicket              = "e_ticket"
	KindOrderExpired         = "order_expired"
	KindOrderCanceled        = "order_canceled"
	KindLatePaymentRefund    = "late_payment_refund"
	KindRefund               = "refund"
	KindCustomerConfirmation = "customer_confirmation"
)

// Part is an inline image of a message, referenced from its HTML body as
// cid:<ContentID>.
type Part struct {
	ContentID   string `json:"content_id"`
	ContentType string `json:"content_type"`
	// Text is what the image shows as text (a QR code's content).
	Text string `json:"text,omitempty"`
	// Data is the image. A QR code's is drawn from Text when the message
	// is read whole ([Service.Message]); the mailbox keeps only the text.
	Data []byte `json:"data"`
}

// mail is a composed message before it is stored.
type mail struct {
	Kind, OrderID, To, Lang, Subject string
	Paragraphs                       []string
	Parts                            []Part
	// ImageAfter places a part's image right after a paragraph, by
	// paragraph index; parts not placed follow the last paragraph.
	ImageAfter map[int]string
}

// langOf returns the language messages to a buyer are written in:
// English when asked for, Indonesian otherwise.
func langOf(l string) string {
	if strings.EqualFold(strings.TrimSpace(l), "en") {
		return "en"
	}
	return "id"
}

// words are the sentences of every message, per language. Verbs are
// fmt formats.
var words = map[string]map[string]string{
	"id": {
		"hello":          "Halo %s,",
		"confirm.subj":   "Pesanan %s: selesaikan pembayaran",
		"confirm.body":   "Terima kasih atas pesanan Anda untuk %s. Nomor pesanan: %s. Jumlah yang harus dibayar: %s.",
		"pay.cash":       "Bayar tunai di kasir sebelum %s dengan menyebutkan nomor pesanan %s.",
		"pay.online":     "Transfer ke virtual account %s, atau pindai kode QR di bawah ini, sebelum %s.",
		"pay.hold":       "Tiket Anda kami tahan sampai batas waktu itu.",
		"ticket.subj":    "E-tiket Anda untuk %s (pesanan %s)",
		"ticket.body":    "Pembayaran diterima. Berikut %d e-tiket untuk %s, %s.",
		"ticket.line":    "Tiket %s, area %s. Tunjukkan kode QR ini di pintu masuk.",
		"expired.subj":   "Pesanan %s kedaluwarsa",
		"expired.body":   "Pesanan %s tidak dibayar sebelum batas waktunya, jadi tiketnya kami lepaskan. Anda dapat memesan lagi selama tiket masih tersedia.",
		"canceled.subj":  "Pesanan %s dibatalkan",
		"canceled.body":  "Pesanan %s dibatalkan. %s",
		"late.subj":      "Pembayaran pesanan %s dikembalikan",
		"late.body":      "Pembayaran Anda sebesar %s untuk pesanan %s tiba setelah batas waktu, dan tiketnya sudah tidak tersedia. Uang Anda kami kembalikan seluruhnya; tidak ada tiket yang diterbitkan.",
		"refund.subj":    "Pengembalian dana pesanan %s",
		"refund.body":    "Kami telah mengembalikan %s untuk pesanan %s.",
		"refund.partial": "Ini pengembalian sebagian; tiket lain dalam pesanan tetap berlaku.",
		"customer.subj":  "Konfirmasi alamat e-mail Anda",
		"customer.body":  "Buka tautan berikut untuk mengonfirmasi akun Anda sebelum %s:",
		"customer.note":  "Jika Anda tidak mendaftar, abaikan pesan ini.",
		"reason":         "Alasan: %s",
	},
	"en": {
		"hello":          "Hello %s,",
		"confirm.subj":   "Order %s: complete your payment",
		"confirm.body":   "Thank you for your order for %s. Order number: %s. Amount due: %s.",
		"pay.cash":       "Pay in cash at the counter before %s, quoting order number %s.",
		"pay.online":     "Transfer to virtual account %s, or scan the QR code below, before %s.",
		"pay.hold":       "Your tickets are held until then.",
		"ticket.subj":    "Your e-tickets for %s (order %s)",
		"ticket.body":    "Payment received. Here are your %d e-tickets for %s, %s.",
		"ticket.line":    "Ticket %s, area %s. Show this QR code at the gate.",
		"expired.subj":   "Order %s has expired",
		"expired.body":   "Order %s was not paid in time, so its tickets were released. You can order again while tickets are available.",
		"canceled.subj":  "Order %s was canceled",
		"canceled.body":  "Order %s was canceled. %s",
		"late.subj":      "Your payment for order %s is refunded",
		"late.body":      "Your payment of %s for order %s arrived after the deadline, and its tickets were no longer available. We are refunding it in full; no tickets were issued.",
		"refund.subj":    "Refund for order %s",
		"refund.body":    "We have refunded %s for order %s.",
		"refund.partial": "This is a partial refund; the order's other tickets stay valid.",
		"customer.subj":  "Confirm your e-mail address",
		"customer.body":  "Open this link to confirm your account before %s:",
		"customer.note":  "If you did not sign up, ignore this message.",
		"reason":         "Reason: %s",
	},
}

func say(lang, key string, args ...any) string { return fmt.Sprintf(words[lang][key], args...) }

// money formats whole rupiah: Rp 1.500.000 in Indonesian, IDR 1,500,000 in
// English.
func money(lang string, n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	sep := "."
	if lang == "en" {
		sep = ","
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	out := b.String()
	if neg {
		out = "-" + out
	}
	if lang == "en" {
		return "IDR " + out
	}
	return "Rp " + out
}

// when formats a time as the original shows dates ("18 Mar 2023 18:20")
// in the zone (Asia/Jakarta when none or unknown), with the zone's name.
func when(t time.Time, zone string) string {
	loc, err := time.LoadLocation(zone)
	if zone == "" || err != nil {
		loc, _ = time.LoadLocation("Asia/Jakarta")
	}
	return t.In(loc).Format("2 Jan 2006 15:04 MST")
}

// qrPixelsPerModule is the size of one module of a mailed QR code: a whole
// number of pixels keeps every module the same size, where scaling to a
// fixed image size makes some modules a pixel wider than others.
const qrPixelsPerModule = 6

// qrPart is a QR code of text, drawn when the message is read (see
// [Part.draw]), not when it is composed: a message is composed for every
// order a busy sale places, in the same process, and most are read once,
// when they are sent, if at all. The text is checked to fit a code here.
func qrPart(id, text string) (Part, error) {
	if _, err := qrcode.New(text, qrcode.Medium); err != nil {
		return Part{}, fmt.Errorf("notify: encode QR code: %w", err)
	}
	return Part{ContentID: id, ContentType: "image/png", Text: text}, nil
}

// draw fills in the PNG of a QR code part kept without it. The PNG is
// compressed for speed (qrcode.Encode compresses at the best level): a
// two-colour image gains little from the best level.
func (p *Part) draw() error {
	if len(p.Data) > 0 || p.ContentType != "image/png" || p.Text == "" {
		return nil
	}
	q, err := qrcode.New(p.Text, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("notify: encode QR code: %w", err)
	}
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, q.Image(-qrPixelsPerModule)); err != nil {
		return fmt.Errorf("notify: encode QR code: %w", err)
	}
	p.Data = b.Bytes()
	return nil
}

// compose turns a record's message into the mail it causes; ok is false
// for messages that cause none.
func compose(topic string, value []byte) (m mail, ok bool, err error) {
	typ, err := messages.TypeOf(value)
	if err != nil {
		return mail{}, false, err
	}
	switch {
	case topic == messages.TopicPayments && typ == messages.TypePaymentRequested:
		var v messages.PaymentRequested
		if err := json.Unmarshal(value, &v); err != nil {
			return mail{}, false, err
		}
		m, err = confirmation(v)
	case topic == messages.TopicOrders && typ == messages.TypeTicketsIssued:
		var v messages.TicketsIssued
		if err := json.Unmarshal(value, &v); err != nil {
			return mail{}, false, err
		}
		m, err = eTicket(v, nil)
	case topic == messages.TopicOrders && (typ == messages.TypeOrderExpired || typ == messages.TypeOrderCanceled):
		var v messages.OrderClosed
		if err := json.Unmarshal(value, &v); err != nil {
			return mail{}, false, err
		}
		m = orderClosed(v)
	case topic == messages.TopicOrders && typ == messages.TypeLatePaymentRejected:
		var v messages.LatePaymentRejected
		if err := json.Unmarshal(value, &v); err != nil {
			return mail{}, false, err
		}
		lang := langOf(v.Buyer.Lang)
		m = mail{Kind: KindLatePaymentRefund, OrderID: v.OrderID, To: v.Buyer.Email, Lang: lang,
			Subject:    say(lang, "late.subj", v.Number),
			Paragraphs: []string{say(lang, "hello", v.Buyer.Name), say(lang, "late.body", money(lang, v.Amount), v.Number)}}
	case topic == messages.TopicOrders && typ == messages.TypeOrderRefunded:
		var v messages.OrderRefunded
		if err := json.Unmarshal(value, &v); err != nil {
			return mail{}, false, err
		}
		lang := langOf(v.Buyer.Lang)
		m = mail{Kind: KindRefund, OrderID: v.OrderID, To: v.Buyer.Email, Lang: lang,
			Subject:    say(lang, "refund.subj", v.OrderID),
			Paragraphs: []string{say(lang, "hello", v.Buyer.Name), say(lang, "refund.body", money(lang, v.Amount), v.OrderID)}}
		if v.Partial {
			m.Paragraphs = append(m.Paragraphs, say(lang, "refund.partial"))
		}
	case topic == messages.TopicCustomers && typ == messages.TypeCustomerRegistered:
		var v messages.CustomerRegistered
		if err := json.Unmarshal(value, &v); err != nil {
			return mail{}, false, err
		}
		lang := langOf(v.Lang)
		m = mail{Kind: KindCustomerConfirmation, To: v.Email, Lang: lang, Subject: say(lang, "customer.subj"),
			Paragraphs: []string{say(lang, "hello", v.Name), say(lang, "customer.body", when(v.Expires, "")), v.ConfirmURL, say(lang, "customer.note")}}
	default:
		return mail{}, false, nil
	}
	if err != nil {
		return mail{}, false, err
	}
	return m, true, nil
}

func confirmation(v messages.PaymentRequested) (mail, error) {
	lang := langOf(v.Buyer.Lang)
	m := mail{Kind: KindOrderConfirmation, OrderID: v.OrderID, To: v.Buyer.Email, Lang: lang,
		Subject: say(lang, "confirm.subj", v.Number),
		Paragraphs: []string{say(lang, "hello", v.Buyer.Name),
			say(lang, "confirm.body", v.EventName, v.Number, money(lang, v.Amount))}}
	if v.Method == messages.MethodOnline {
		m.Paragraphs = append(m.Paragraphs, say(lang, "pay.online", v.VirtualAccount, when(v.PayBy, "")))
		if v.QR != "" {
			p, err := qrPart("pay-"+v.PaymentID, v.QR)
			if err != nil {
				return mail{}, err
			}
			m.Parts = append(m.Parts, p)
			m.ImageAfter = map[int]string{len(m.Paragraphs) - 1: p.ContentID}
		}
	} else {
		m.Paragraphs = append(m.Paragraphs, say(lang, "pay.cash", when(v.PayBy, ""), v.Number))
	}
	m.Paragraphs = append(m.Paragraphs, say(lang, "pay.hold"))
	return m, nil
}

// eTicket composes an order's e-tickets. Each QR code carries the
// ticket's signed pass from passes (by ticket id) when given, else its
// Code.
func eTicket(v messages.TicketsIssued, passes map[string]string) (mail, error) {
	lang := langOf(v.Buyer.Lang)
	m := mail{Kind: KindETicket, OrderID: v.OrderID, To: v.Buyer.Email, Lang: lang,
		Subject: say(lang, "ticket.subj", v.EventName, v.Number),
		Paragraphs: []string{say(lang, "hello", v.Buyer.Name),
			say(lang, "ticket.body", len(v.Tickets), v.EventName, when(v.Starts, v.TimeZone))}}
	m.ImageAfter = map[int]string{}
	for _, tk := range v.Tickets {
		code := tk.Code
		if qr, ok := passes[tk.TicketID]; ok {
			code = qr
		}
		p, err := qrPart("ticket-"+tk.TicketID, code)
		if err != nil {
			return mail{}, err
		}
		m.Parts = append(m.Parts, p)
		m.Paragraphs = append(m.Paragraphs, say(lang, "ticket.line", tk.TicketID, tk.AreaName))
		m.ImageAfter[len(m.Paragraphs)-1] = p.ContentID
	}
	return m, nil
}

func orderClosed(v messages.OrderClosed) mail {
	lang := langOf(v.Buyer.Lang)
	if v.Type == messages.TypeOrderExpired {
		return mail{Kind: KindOrderExpired, OrderID: v.OrderID, To: v.Buyer.Email, Lang: lang,
			Subject:    say(lang, "expired.subj", v.Number),
			Paragraphs: []string{say(lang, "hello", v.Buyer.Name), say(lang, "expired.body", v.Number)}}
	}
	reason := ""
	if v.Reason != "" {
		reason = say(lang, "reason", v.Reason)
	}
	return mail{Kind: KindOrderCanceled, OrderID: v.OrderID, To: v.Buyer.Email, Lang: lang,
		Subject:    say(lang, "canceled.subj", v.Number),
		Paragraphs: []string{say(lang, "hello", v.Buyer.Name), strings.TrimSpace(say(lang, "canceled.body", v.Number, reason))}}
}

// text is the plain-text body of m.
func (m mail) text() string {
	return strings.Join(m.Paragraphs, "\n\n") + "\n"
}

var htmlBody = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: sans-serif">
{{range .Blocks}}{{if .Text}}<p>{{.Text}}</p>
{{end}}{{with .Image}}<p><img src="cid:{{.ContentID}}" alt="{{.Text}}" width="320" height="320"></p>
{{end}}{{end}}</body></html>
`))

// block is a paragraph or an image of the HTML body.
type block struct {
	Text  string
	Image *Part
}

// html is the HTML body of m; its images are the inline parts, each after
// the paragraph it belongs to.
func (m mail) html() (string, error) {
	byID := map[string]*Part{}
	for i := range m.Parts {
		byID[m.Parts[i].ContentID] = &m.Parts[i]
	}
	var blocks []block
	placed := map[string]bool{}
	for i, p := range m.Paragraphs {
		blocks = append(blocks, block{Text: p})
		if id, ok := m.ImageAfter[i]; ok && byID[id] != nil {
			blocks = append(blocks, block{Image: byID[id]})
			placed[id] = true
		}
	}
	for i := range m.Parts {
		if !placed[m.Parts[i].ContentID] {
			blocks = append(blocks, block{Image: &m.Parts[i]})
		}
	}
	var b bytes.Buffer
	data := struct {
		Lang, Subject string
		Blocks        []block
	}{m.Lang, m.Subject, blocks}
	if err := htmlBody.Execute(&b, data); err != nil {
		return "", fmt.Errorf("notify: render %s: %w", m.Kind, err)
	}
	return b.String(), nil
}
