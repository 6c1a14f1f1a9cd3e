package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// postJSON sends a JSON body to the server with the key, and decodes the
// answer's id, failing the test on a status other than want.
func postJSON(t *testing.T, url, key, path, body string, want int) map[string]any {
	t.Helper()
	req, err := http.NewRequest("POST", url+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("POST %s: got %d %s, want %d", path, resp.StatusCode, b, want)
	}
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	return v
}

// The ticketing commands list, approve and cancel events, list and show
// orders and refunds, and audit an event, against arus serve.
func TestTicketingCommands(t *testing.T) {
	data := t.TempDir()
	key := mustKey(t, data, "ticketing.admin", "ticketing.read", "ticketing.manage", "ticketing.sell", "ticketing.buy")
	url, _ := serve(t, map[string]string{"ARUS_DATA": data, "ARUS_COMPONENTS": "backbone,ticketing,gate"})
	env := map[string]string{"ARUS_SERVER": url, "ARUS_API_KEY": key}

	m := postJSON(t, url, key, "/api/v1/ticketing/merchants", `{"name":"Loket","type":"promoter"}`, 201)
	now := time.Now().UTC()
	e := postJSON(t, url, key, "/api/v1/ticketing/events", fmt.Sprintf(`{"merchant_id":%q,"name":"Konser","venue":"GBK","address":"Senayan","starts":%q,"ends":%q,"sale_starts":%q,"sale_ends":%q}`,
		m["id"], now.Add(72*time.Hour).Format(time.RFC3339), now.Add(80*time.Hour).Format(time.RFC3339),
		now.Add(-time.Hour).Format(time.RFC3339), now.Add(48*time.Hour).Format(time.RFC3339)), 201)
	id := e["id"].(string)
	area := postJSON(t, url, key, "/api/v1/ticketing/events/"+id+"/areas", `{"name":"Tribun","capacity":5,"price":75000}`, 201)
	postJSON(t, url, key, "/api/v1/ticketing/events/"+id+"/submit", ``, 200)

	if out := must(t, env, "", "events", "list", "--status", "waiting_for_approval").stdout; !strings.Contains(out, id) || !strings.Contains(out, "Konser") {
		t.Errorf("events list: %s, want the event waiting for approval", out)
	}
	if out := must(t, env, "", "events", "approve", id).stdout; !strings.Contains(out, "approved") {
		t.Errorf("events approve: %s", out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(must(t, env, "", "events", "list", "--status", "on_sale").stdout, "completed") {
		if time.Now().After(deadline) {
			t.Fatalf("the event is not on sale after 30s: %s", must(t, env, "", "events", "list").stdout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	o := postJSON(t, url, key, "/api/v1/ticketing/orders", fmt.Sprintf(`{"event_id":%q,"lines":[{"area_id":%q,"quantity":2}],"buyer":{"name":"Ayu","email":"ayu@example.com"},"method":"CASH"}`,
		id, area["id"]), 201)
	number := o["number"].(string)
	if out := must(t, env, "", "orders", "list", "--event", id).stdout; !strings.Contains(out, number) || !strings.Contains(out, "pending") {
		t.Errorf("orders list: %s, want the pending order %s", out, number)
	}
	if out := must(t, env, "", "orders", "show", number).stdout; !strings.Contains(out, "Tribun") || !strings.Contains(out, "Rp 150000") {
		t.Errorf("orders show: %s", out)
	}
	if out := must(t, env, "", "tickets", "audit", id).stdout; !strings.Contains(out, "Tribun") || !strings.Contains(out, "ok") {
		t.Errorf("tickets audit: %s", out)
	}
	if out := must(t, env, "", "refunds", "list").stdout; !strings.HasPrefix(out, "ID") {
		t.Errorf("refunds list: %s", out)
	}
	if r := arus(t, env, "", "refunds", "approve", "ref_nope"); r.err == nil || !strings.Contains(r.err.Error(), "refund ref_nope") {
		t.Errorf("refunds approve of an unknown refund: %v", r.err)
	}
	if r := arus(t, env, "", "events", "cancel", id); r.err == nil || !strings.Contains(r.stderr+r.err.Error(), "--reason") {
		t.Errorf("events cancel without a reason: %v", r.err)
	}
	if out := must(t, env, "", "events", "cancel", id, "--reason", "hujan badai").stdout; !strings.Contains(out, "canceled") {
		t.Errorf("events cancel: %s", out)
	}
	if out := must(t, env, "", "orders", "show", number).stdout; !strings.Contains(out, "canceled") {
		t.Errorf("the pending order after the cancellation: %s, want canceled", out)
	}
}
