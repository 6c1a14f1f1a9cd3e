package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/arus-platform/arus/stream"
)

// Topics of the flow. Each service publishes its own and reads the others'.
const (
	TopicOrderPlaced      = "orders.placed"      // order → payment
	TopicPaymentCompleted = "payments.completed" // payment → order
	TopicPaymentFailed    = "payments.failed"    // payment → order
	TopicOrderConfirmed   = "orders.confirmed"   // order → notification
	TopicOrderCancelled   = "orders.cancelled"   // order → notification
)

// Order is an order as the order service takes it, and the value of
// orders.placed, orders.confirmed and orders.cancelled: each event carries
// what its readers need, so that no service asks another for data.
type Order struct {
	ID       string `json:"id"`
	Customer string `json:"customer"`
	Email    string `json:"email"`
	Amount   int64  `json:"amount"` // rupiah
	Status   string `json:"status,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Payment is the value of payments.completed and payments.failed.
type Payment struct {
	OrderID   string `json:"order_id"`
	InvoiceID string `json:"invoice_id"`
	Amount    int64  `json:"amount"`
	Reason    string `json:"reason,omitempty"`
}

// event returns a record of topic keyed by the order id, so that every
// event of one order lands on one partition and is read in order.
func event(topic, orderID string, v any) (*stream.Record, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &stream.Record{Topic: topic, Key: []byte(orderID), Value: b}, nil
}

// rupiah formats an amount the Indonesian way: Rp 1.250.000.
func rupiah(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(c)
	}
	return "Rp " + b.String()
}
