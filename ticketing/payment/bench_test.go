package payment_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/arus-platform/arus/ticketing/payment"
)

// BenchmarkCallback measures the provider callback: verify the signature,
// then record the event, the intent's change and PaymentSucceeded in one
// transaction (SQLite, synchronous=FULL). Each iteration pays a different
// intent.
func BenchmarkCallback(b *testing.B) {
	e := start(b)
	ids := make([]string, b.N)
	for i := range b.N {
		id := fmt.Sprintf("bench-%d", i)
		e.send(b, id, placed(id, "online", 10_000, time.Now().Add(time.Hour)))
	}
	for i := range b.N {
		ids[i] = e.intentOf(b, fmt.Sprintf("bench-%d", i)).ID
	}
	bodies := make([][]byte, b.N)
	for i, id := range ids {
		bodies[i], _ = json.Marshal(payment.ProviderEvent{EventID: "evt-" + strconv.Itoa(i), PaymentID: id, Amount: 10_000,
			Status: payment.ProviderPaid, At: time.Now()})
	}
	b.ResetTimer()
	for i := range b.N {
		ts := e.clock.now().Unix()
		if _, err := e.svc.Callback(b.Context(), strconv.FormatInt(ts, 10), payment.Sign(secret, ts, bodies[i]), bodies[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "callbacks/s")
}
