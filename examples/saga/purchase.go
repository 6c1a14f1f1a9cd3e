package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/stream"
)

// Topics of the saga. The orchestrator sends each participant its
// commands and compensations on one topic, keyed by saga id, so that a
// participant sees a saga's command and its compensation in order.
const (
	TopicStock   = "stock.commands"
	TopicPayment = "payment.commands"
	TopicReplies = "purchase.replies"
)

// Purchase is the saga's data: what is bought, by whom, for how much, and
// the reservation the stock service answered with.
type Purchase struct {
	ID          string `json:"id"`
	Customer    string `json:"customer"`
	SKU         string `json:"sku"`
	Qty         int    `json:"qty"`
	Amount      int64  `json:"amount"` // rupiah
	Reservation string `json:"reservation,omitempty"`
}

// purchaseSaga reserves stock, then charges the card. When the charge is
// declined (or times out), the reservation is released. Each step waits
// timeout for its reply.
func purchaseSaga(timeout time.Duration) saga.Definition {
	return saga.Definition{
		Name: "purchase",
		Steps: []saga.Step{
			{
				Name:         "reserve-stock",
				Command:      saga.Command{Topic: TopicStock}, // the saga's data is the command
				Compensation: saga.Command{Topic: TopicStock}, // release what was reserved
				ReplyTopic:   TopicReplies,
				Timeout:      timeout,
				// Keep the reservation number in the saga's data.
				Update: func(data []byte, reply *stream.Record) ([]byte, error) {
					var p Purchase
					if err := json.Unmarshal(data, &p); err != nil {
						return nil, err
					}
					p.Reservation = string(reply.Value)
					return json.Marshal(p)
				},
			},
			{
				Name:    "charge-payment",
				Command: saga.Command{Topic: TopicPayment},
				// Refund, should the charge have gone through after all after
				// the step timed out.
				Compensation: saga.Command{Topic: TopicPayment},
				ReplyTopic:   TopicReplies,
				Timeout:      timeout,
			},
		},
	}
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
