package server

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/ticketingapi"
)

type queueJSON struct {
	Ticket         string `json:"ticket"`
	Position       int64  `json:"position"`
	Status         string `json:"status"`
	Ahead          int64  `json:"ahead"`
	AdmissionToken string `json:"admission_token"`
}

// The waiting room through the server: a merchant switches it on; an
// order without a token is refused naming admission_token; guests join and
// ask for their place without credentials, the first is admitted at once
// and the second waits; the token places one order, not two; joins are
// limited per client address; the metrics show the queue.
func TestTicketingWaitingRoomThroughTheServer(t *testing.T) {
	r := start(t, Config{})
	admin := r.key(t, "ticketing.admin", "ticketing.read", "ticketing.manage", "ticketing.sell", "ticketing.buy")
	shop := r.key(t, "ticketing.buy") // a storefront's key: guests check out through it
	e := r.onSale(t, admin, "Merchant W", 10)
	room := "/api/v1/ticketing/events/" + e.ID + "/waiting-room"
	decode[map[string]any](t, r.call(t, "PUT", room, admin, `{"enabled":true,"rate":1,"token_ttl_seconds":300}`), 200, "switch the room on")
	order := func(token string) string {
		return fmt.Sprintf(`{"event_id":%q,"lines":[{"area_id":%q,"quantity":1}],"buyer":{"name":"Guest","email":"guest@example.com"},"method":"CASH","admission_token":%q}`,
			e.ID, e.Areas[0].ID, token)
	}
	if rep := r.call(t, "POST", "/api/v1/ticketing/orders", shop, order("")); rep.status != 422 || !strings.Contains(rep.body, `"field":"admission_token"`) {
		t.Fatalf("order without a token: %d %s, want 422 naming admission_token", rep.status, rep.body)
	}
	first := decode[queueJSON](t, r.call(t, "POST", room+"/join", "", ""), 201, "join")
	second := decode[queueJSON](t, r.call(t, "POST", room+"/join", "", ""), 201, "join")
	if first.Position != 1 || first.Status != "admitted" || first.AdmissionToken == "" || first.Ticket == "" {
		t.Fatalf("first in line: %+v, want position 1 admitted with a token", first)
	}
	if second.Position != 2 || second.Status != "waiting" || second.AdmissionToken != "" {
		t.Fatalf("second in line: %+v, want position 2 waiting", second)
	}
	st := decode[queueJSON](t, r.call(t, "POST", room+"/status", "", `{"ticket":"`+second.Ticket+`"}`), 200, "status")
	if st.Position != 2 || st.Ticket != "" {
		t.Errorf("status: %+v, want position 2 and no ticket echoed", st)
	}
	if rep := r.call(t, "POST", room+"/status", "", `{"ticket":"`+second.Ticket+`x"}`); rep.status != 422 || !strings.Contains(rep.body, `"field":"ticket"`) {
		t.Errorf("status with a wrong secret: %d %s, want 422 naming ticket", rep.status, rep.body)
	}
	decode[map[string]any](t, r.call(t, "POST", "/api/v1/ticketing/orders", shop, order(first.AdmissionToken)), 201, "order with the token")
	if rep := r.call(t, "POST", "/api/v1/ticketing/orders", shop, order(first.AdmissionToken)); rep.status != 422 || !strings.Contains(rep.body, "was used by order") {
		t.Errorf("the token again: %d %s, want 422 saying it was used", rep.status, rep.body)
	}
	got := decode[struct {
		Joined, Admitted int64
	}](t, r.call(t, "GET", room, admin, ""), 200, "room")
	if got.Joined != 2 || got.Admitted != 1 {
		t.Errorf("room: %+v, want 2 joined, 1 admitted", got)
	}
	metrics := r.call(t, "GET", "/metrics", "", "")
	if want := `arus_waitroom_queue_length{event="` + e.ID + `"} 1`; !strings.Contains(metrics.body, want) {
		t.Errorf("metrics lack %s", want)
	}
	// Joins from one address are limited; a minute's window may turn
	// during the loop, so two windows' worth bounds it.
	limited := false
	for range 2*ticketingapi.JoinsPerMinute + 1 {
		rep := r.call(t, "POST", room+"/join", "", "")
		if rep.status == 429 {
			limited = rep.header.Get("Retry-After") != "" && strings.Contains(rep.body, "rate-limited") &&
				strings.Contains(rep.body, `"code":"too_many_joins","args":["`+strconv.Itoa(ticketingapi.JoinsPerMinute)+`",`)
			break
		}
		if rep.status != 201 {
			t.Fatalf("join: %d %s", rep.status, rep.body)
		}
	}
	if !limited {
		t.Errorf("joins from one address were never limited (429 too_many_joins with Retry-After)")
	}
}
