package payment_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/arus-platform/arus/ticketing/payment"
)

// A provider signs each callback with the shared secret: the signature
// covers the time of signing and the body, and both travel as headers.
func ExampleSign() {
	secret := []byte("0123456789abcdef0123456789abcdef")
	body := []byte(`{"event_id":"evt_1","payment_id":"pay_1","amount":150000,"status":"paid","at":"2026-12-06T10:00:00Z"}`)
	ts := int64(1796551200)

	req, _ := http.NewRequest(http.MethodPost, "https://arus.example/api/v1/payment/provider/callback", strings.NewReader(string(body)))
	req.Header.Set(payment.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(payment.HeaderSignature, payment.Sign(secret, ts, body))
	fmt.Println(req.Header.Get(payment.HeaderTimestamp))
	fmt.Println(len(req.Header.Get(payment.HeaderSignature)), "hex digits")
	// Output:
	// 1796551200
	// 64 hex digits
}
