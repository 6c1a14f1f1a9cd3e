package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/ticketing"
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
	"POST /api/v1/gate/events/{event}/passes/{pass}/admit":   "override",
	"POST /api/v1/gate/events/{event}/upload":                "scan",
	"GET /api/v1/gate/events/{event}/bundle":                 "follow",
	"GET /api/v1/gate/events/{event}/changes":                "follow",
	"GET /api/v1/gate/events/{event}/passes":                 "search",
	"GET /api/v1/gate/orders/{order}/passes":                 "buyer",
	"POST /api/v1/gate/enrol":                                "public",
}

// Every gate route × every kind of principal × an event of merchant A
// (ev1) and one of merchant B (ev2): keys narrowed to an event or not,
// with each gate scope, of their own or owned by a user of merchant A,
// enrolled devices of each role at their own gate or another, of another
// event, revoked, and signed-in users of every role, members of merchant
// A. Each is let through exactly where its event, merchant, gate and role
// allow (a key narrowed to the event, as a device's is, was given it; any
// other key or session reaches the events of the merchants it acts for, or
// every event with ticketing.admin; a key that is no device's scans only
// with gate.manage for the event; a session as its roles grant), and
// refused everywhere else: 401 or 403, or 404 for an event of a merchant
// the caller does not act for, as for an unknown one.
func TestGateRoutesConfineEveryPrincipal(t *testing.T) {
	r, qrs := startGate(t)
	ctx := context.Background()
	ev1, err := r.gate.Server(ctx, "ev1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.ticketing.CreateMerchant(ctx, ticketing.MerchantInput{Name: "Merchant of ev2", Type: "venue"})
	if err != nil {
		t.Fatal(err)
	}
	admin := r.key(t, "ticketing.admin", "gate.read", "gate.manage", "gate.scan", "gate.search", "gate.override")
	if _, err := r.gate.CreateServer(ctx, messages.CreateACLServer{EventID: "ev2", MerchantID: b.ID, Areas: []messages.Area{{AreaID: "ga"}},
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
		allow   map[string]string // per event, the classes let through, space-separated; "" for the routes of no event
	}
	every := "read manage scan follow search override"
	ps := []principal{
		{name: "no credentials"},
		{name: "operator key, every event", key: admin, allow: map[string]string{"ev1": every, "ev2": every, "": "manage_all"}},
		{name: "operator key of ev1", key: r.key(t, "gate.read:ev1", "gate.manage:ev1", "gate.scan:ev1", "gate.search:ev1", "gate.override:ev1"), allow: map[string]string{"ev1": every}},
		{name: "operator key of ev2", key: r.key(t, "gate.read:ev2", "gate.manage:ev2", "gate.scan:ev2", "gate.search:ev2", "gate.override:ev2"), allow: map[string]string{"ev2": every}},
		{name: "operator key of ev1 without gate.override", key: r.key(t, "gate.read:ev1", "gate.manage:ev1", "gate.scan:ev1", "gate.search:ev1"), allow: map[string]string{"ev1": "read manage scan follow search"}},
		{name: "gate.override key of ev1, no device", key: r.key(t, "gate.scan:ev1", "gate.override:ev1")},
		{name: "manager key of ev1 with gate.override", key: r.key(t, "gate.read:ev1", "gate.manage:ev1", "gate.override:ev1"), allow: map[string]string{"ev1": "read manage override"}},
		{name: "reader key of ev1", key: r.key(t, "gate.read:ev1"), allow: map[string]string{"ev1": "read"}},
		{name: "gate key of its own, every event, without ticketing.admin", key: r.key(t, "gate.read", "gate.manage", "gate.scan", "gate.search", "gate.override")},
		{name: "gate.scan key of ev1, no device", key: r.key(t, "gate.scan:ev1", "gate.search:ev1")},
		{name: "steward device at main", key: steward, allow: map[string]string{"ev1": "scan follow"}},
		{name: "supervisor device at main", key: supervisor, allow: map[string]string{"ev1": "scan follow search override"}},
		{name: "supervisor device at north", key: north, allow: map[string]string{"ev1": "follow search"}},
		{name: "device of ev2", key: other, allow: map[string]string{"ev2": "scan follow search override"}},
		{name: "revoked device", key: revoked},
	}
	var members []string
	for _, role := range auth.Roles() {
		username := "u-" + strings.ReplaceAll(string(role), "_", "-")
		u, err := r.auth.CreateUser(ctx, auth.NewUser{Username: username, Name: "U", Email: string(role) + "@example.com",
			Roles: []auth.Role{role}, Confirmed: true})
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, username)
		sess, token, err := r.auth.CreateSession(ctx, u.ID, auth.SessionMeta{})
		if err != nil {
			t.Fatal(err)
		}
		p := principal{name: "user with role " + string(role), headers: []string{"Cookie", auth.SessionCookie + "=" + token, "X-CSRF-Token", sess.CSRFToken},
			allow: map[string]string{}}
		// A session goes by its roles, on the events of merchant A, of
		// which it is a member; the admin's on every event.
		for class, perm := range map[string]auth.Permission{"read": auth.PermGateRead, "manage": auth.PermGateManage, "manage_all": auth.PermGateManage,
			"scan": auth.PermGateScan, "follow": auth.PermGateScan, "search": auth.PermGateSearch, "override": auth.PermGateOverride,
			"buyer": auth.PermTicketingBuy} {
			if !role.Can(perm) {
				continue
			}
			switch {
			case class == "buyer":
				p.allow[""] += " buyer"
			case class == "manage_all":
				if role == auth.RoleAdmin { // every event's list: every merchant's
					p.allow[""] += " manage_all"
				}
			default:
				p.allow["ev1"] += " " + class
				if role == auth.RoleAdmin {
					p.allow["ev2"] += " " + class
				}
			}
		}
		ps = append(ps, p)
		if role == auth.RoleGateSupervisor {
			_, key, err := r.auth.CreateAPIKey(ctx, auth.NewAPIKey{Name: "supervisor's", OwnerID: u.ID, Scopes: []string{"gate.read", "gate.scan", "gate.search", "gate.override"}})
			if err != nil {
				t.Fatal(err)
			}
			// Not a device's, so it scans nowhere; it reads merchant A's events.
			ps = append(ps, principal{name: "key of a gate supervisor of merchant A", key: key, allow: map[string]string{"ev1": "read"}})
			// Narrowed to merchant B's event, it still reaches no further
			// than its owner.
			_, key, err = r.auth.CreateAPIKey(ctx, auth.NewAPIKey{Name: "supervisor's, of ev2", OwnerID: u.ID, Scopes: []string{"gate.read:ev2", "gate.scan:ev2", "gate.search:ev2", "gate.override:ev2"}})
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, principal{name: "key of a gate supervisor of merchant A, narrowed to ev2", key: key})
		}
	}
	if err := r.ticketing.SetMembers(ctx, ev1.MerchantID, members); err != nil {
		t.Fatal(err)
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
		"POST /api/v1/gate/events/{event}/passes/{pass}/admit":   `{"gate_id":"main","direction":"entry","override":"phone cracked"}`,
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
		events := []string{"ev1", "ev2"}
		if !strings.Contains(pattern, "{event}") {
			events = []string{""}
		}
		for _, ev := range events {
			method, path := fill(pattern, ev)
			if class == "buyer" {
				path = "/api/v1/gate/orders/o1/passes"
			}
			for _, p := range ps {
				cases++
				rep := r.call(t, method, path, p.key, bodies[pattern], p.headers...)
				// Another merchant's event is not found, as an unknown one.
				hidden := rep.status == 404 && strings.Contains(rep.body, "no access-control server for event "+ev)
				refused := rep.status == 401 || rep.status == 403 || hidden
				allowed := strings.Contains(" "+p.allow[ev]+" ", " "+class+" ")
				switch {
				case allowed && refused:
					t.Errorf("%s %s, %s: refused %d %s; want it let through", method, path, p.name, rep.status, rep.body)
				case !allowed && !refused:
					t.Errorf("%s %s, %s: answered %d %s; want 401, 403 or 404", method, path, p.name, rep.status, rep.body)
				case p.key == revoked && rep.status != 401, p.name == "no credentials" && rep.status != 401:
					t.Errorf("%s %s, %s: %d, want 401", method, path, p.name, rep.status)
				}
			}
		}
	}
	t.Logf("class tested: %d gate routes × %d principals × the events of two merchants = %d requests", len(patterns)-1, len(ps), cases)
}
