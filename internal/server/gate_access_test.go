package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/ticketing/gate"
	"github.com/arus-platform/arus/ticketing/messages"
)

// gateRouteClass sorts the gate's routes by who may use them.
var gateRouteClass = map[string]string{
	"GET /api/v1/gate/events/{event}":                        "read",
	"GET /api/v1/gate/events/{event}/counts":                 "read",
	"GET /api/v1/gate/events/{event}/flagged":                "read",
	"GET /api/v1/gate/events/{event}/devices":                "read",
	"PUT /api/v1/gate/events/{event}/gates/{gate}":           "manage",
	"PUT /api/v1/gate/events/{event}/lists/{list}":           "manage",
	"POST /api/v1/gate/events/{event}/keys":                  "manage",
	"DELETE /api/v1/gate/events/{event}/keys/{key}":          "manage",
	"POST /api/v1/gate/events/{event}/passes/{pass}/block":   "manage",
	"POST /api/v1/gate/events/{event}/passes/{pass}/unblock": "manage",
	"POST /api/v1/gate/events/{event}/enrolments":            "manage",
	"DELETE /api/v1/gate/events/{event}/devices/{device}":    "manage",
	"POST /api/v1/gate/events/{event}/rebuild":               "manage",
	"POST /api/v1/gate/rebuild":                              "manage_all",
	"POST /api/v1/gate/events/{event}/redeem":                "scan",
	"POST /api/v1/gate/events/{event}/upload":                "scan",
	"GET /api/v1/gate/events/{event}/bundle":                 "follow",
	"GET /api/v1/gate/events/{event}/changes":                "follow",
	"GET /api/v1/gate/events/{event}/passes":                 "search",
	"GET /api/v1/gate/orders/{order}/passes":                 "buyer",
	"POST /api/v1/gate/enrol":                                "public",
}

// Every gate route × every kind of principal: keys narrowed to an event
// or not, with each gate scope, enrolled devices of each role at their own
// gate or another, of another event, revoked, and signed-in users of every
// role. Each is let through exactly where its event, gate and role allow
// (a key that is no device's scans only with gate.manage for the event; a
// session as its roles grant), and refused (401 or 403) everywhere else.
func TestGateRoutesConfineEveryPrincipal(t *testing.T) {
	r, qrs := startGate(t)
	ctx := context.Background()
	admin := r.key(t, "gate.read", "gate.manage", "gate.scan", "gate.search", "gate.override")
	if _, err := r.gate.CreateServer(ctx, messages.CreateACLServer{EventID: "ev2", Areas: []messages.Area{{AreaID: "ga"}},
		Starts: time.Now().Add(-time.Hour), Ends: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := r.gate.PutGate(ctx, gate.Gate{EventID: "ev1", GateID: "north", Name: "North", Areas: []string{"ga"}, Direction: gate.DirectionBoth}); err != nil {
		t.Fatal(err)
	}
	steward, _ := r.enrolDeviceAt(t, admin, "ev1", "main", "steward")
	supervisor, _ := r.enrolDeviceAt(t, admin, "ev1", "main", "supervisor")
	north, _ := r.enrolDeviceAt(t, admin, "ev1", "north", "supervisor")
	other, _ := r.enrolDeviceAt(t, admin, "ev2", "main", "supervisor")
	revoked, revokedID := r.enrolDeviceAt(t, admin, "ev1", "main", "steward")
	if rep := r.call(t, "DELETE", "/api/v1/gate/events/ev1/devices/"+revokedID, admin, ""); rep.status != 204 {
		t.Fatalf("revoke: %d %s", rep.status, rep.body)
	}

	type principal struct {
		name    string
		key     string
		headers []string
		allow   string // the classes let through, space-separated
	}
	ps := []principal{
		{name: "no credentials"},
		{name: "operator key, every event", key: admin, allow: "read manage manage_all scan follow search"},
		{name: "operator key of ev1", key: r.key(t, "gate.read:ev1", "gate.manage:ev1", "gate.scan:ev1", "gate.search:ev1"), allow: "read manage scan follow search"},
		{name: "operator key of ev2", key: r.key(t, "gate.read:ev2", "gate.manage:ev2", "gate.scan:ev2", "gate.search:ev2")},
		{name: "reader key of ev1", key: r.key(t, "gate.read:ev1"), allow: "read"},
		{name: "gate.scan key, every event, no device", key: r.key(t, "gate.scan", "gate.search", "gate.override")},
		{name: "gate.scan key of ev1, no device", key: r.key(t, "gate.scan:ev1", "gate.search:ev1")},
		{name: "steward device at main", key: steward, allow: "scan follow"},
		{name: "supervisor device at main", key: supervisor, allow: "scan follow search"},
		{name: "supervisor device at north", key: north, allow: "follow search"},
		{name: "device of ev2", key: other},
		{name: "revoked device", key: revoked},
	}
	for _, role := range auth.Roles() {
		u, err := r.auth.CreateUser(ctx, auth.NewUser{Username: "u-" + strings.ReplaceAll(string(role), "_", "-"), Name: "U", Email: string(role) + "@example.com",
			Roles: []auth.Role{role}, Confirmed: true})
		if err != nil {
			t.Fatal(err)
		}
		sess, token, err := r.auth.CreateSession(ctx, u.ID, auth.SessionMeta{})
		if err != nil {
			t.Fatal(err)
		}
		p := principal{name: "user with role " + string(role), headers: []string{"Cookie", auth.SessionCookie + "=" + token, "X-CSRF-Token", sess.CSRFToken}}
		// A session goes by its roles, which name no event.
		for class, perm := range map[string]auth.Permission{"read": auth.PermGateRead, "manage": auth.PermGateManage, "manage_all": auth.PermGateManage,
			"scan": auth.PermGateScan, "follow": auth.PermGateScan, "search": auth.PermGateSearch, "buyer": auth.PermTicketingBuy} {
			if role.Can(perm) {
				p.allow += " " + class
			}
		}
		ps = append(ps, p)
	}

	now := time.Now().UTC().Format(time.RFC3339)
	scan := fmt.Sprintf(`{"secret":%q,"gate_id":"main","direction":"entry"}`, qrs["t1"])
	bodies := map[string]string{
		"PUT /api/v1/gate/events/{event}/gates/{gate}":           `{"name":"Zero","areas":["ga"],"direction":"both"}`,
		"PUT /api/v1/gate/events/{event}/lists/{list}":           `{"name":"Zero","areas":["ga"]}`,
		"POST /api/v1/gate/events/{event}/passes/{pass}/block":   `{"reason":"lost"}`,
		"POST /api/v1/gate/events/{event}/passes/{pass}/unblock": `{"reason":"found"}`,
		"POST /api/v1/gate/events/{event}/enrolments":            `{"gate_id":"main","role":"steward","name":"Lane"}`,
		"POST /api/v1/gate/events/{event}/redeem":                scan,
		"POST /api/v1/gate/events/{event}/upload":                fmt.Sprintf(`{"scans":[{"secret":%q,"gate_id":"main","direction":"entry","at":%q,"nonce":"n1"}]}`, qrs["t2"], now),
	}
	var patterns []string
	for _, p := range muxPatterns(t, r.mux) {
		if strings.Contains(p, "/api/v1/gate/") {
			if _, ok := gateRouteClass[p]; !ok {
				t.Errorf("route %s has no class in gateRouteClass: add it", p)
			}
			patterns = append(patterns, p)
		}
	}
	cases := 0
	for _, pattern := range patterns {
		class := gateRouteClass[pattern]
		if class == "public" {
			continue
		}
		method, path := fill(pattern, "ev1")
		if class == "buyer" {
			path = "/api/v1/gate/orders/o1/passes"
		}
		for _, p := range ps {
			cases++
			rep := r.call(t, method, path, p.key, bodies[pattern], p.headers...)
			refused := rep.status == 401 || rep.status == 403
			allowed := strings.Contains(" "+p.allow+" ", " "+class+" ")
			switch {
			case allowed && refused:
				t.Errorf("%s, %s: refused %d %s; want it let through", pattern, p.name, rep.status, rep.body)
			case !allowed && !refused:
				t.Errorf("%s, %s: answered %d %s; want 401 or 403", pattern, p.name, rep.status, rep.body)
			case p.key == revoked && rep.status != 401, p.name == "no credentials" && rep.status != 401:
				t.Errorf("%s, %s: %d, want 401", pattern, p.name, rep.status)
			}
		}
	}
	t.Logf("class tested: %d gate routes × %d principals = %d requests", len(patterns)-1, len(ps), cases)
}
