package paymentapi

import (
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/api"
)

// The payment API's own input errors carry the code of the first rule
// broken, with its values, as the ticketing API's do.
func TestInputErrorsCoded(t *testing.T) {
	tests := []struct {
		name, query, key string
		code             string
		args             []string
	}{
		{"unknown parameters", "?x=1&state=bogus&a=2", "", "query_unknown", []string{"a, x"}},
		{"unknown state", "?state=bogus", "", "query_not_one_of", []string{"state", "bogus", strings.Join(refundStates, ", ")}},
		{"limit out of range", "?limit=0", "", "query_not_in_range", []string{"limit", "0", "1", "1000"}},
		{"repeated", "?limit=5&limit=6", "", "query_repeated", []string{"limit"}},
		{"order id too long", "?order_id=" + strings.Repeat("o", 201), "", "query_too_long", []string{"order_id", "200"}},
		{"bad idempotency key", "", "a key", "idempotency_key_invalid", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v1/payment/refunds"+tc.query, nil)
			if tc.key != "" {
				r.Header.Set(IdempotencyHeader, tc.key)
			}
			_, err := idempotencyKey(r)
			if err == nil {
				q := newQuery(r, "state", "order_id", "limit")
				q.oneOf("state", refundStates...)
				q.str("order_id", 200)
				q.limit()
				err = q.err()
			}
			var p *api.Problem
			if !errors.As(err, &p) {
				t.Fatalf("got %v, want a problem", err)
			}
			if p.Code != tc.code || !slices.Equal(p.Args, tc.args) {
				t.Errorf("got code %q args %q, want %q %q (detail %q)", p.Code, p.Args, tc.code, tc.args, p.Detail)
			}
		})
	}
}
