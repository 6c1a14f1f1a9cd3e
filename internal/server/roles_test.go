package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/auth"
)

// eTicketingPrefixes are where the e-ticketing services' routes live.
var eTicketingPrefixes = []string{"/api/v1/ticketing/", "/api/v1/payment/", "/api/v1/notify/", "/api/v1/customers", "/api/v1/gate/"}

// roleMay states, apart from the code that decides it, what each role may
// do on the e-ticketing routes: the platform admin everything; a merchant
// admin runs its merchant's events (catalogue, waiting room, staff plan,
// sales, refund decisions) but not the platform's part; a cashier sells and
// takes cash; a coordinator reads and plans staff and schedules; internal
// staff read everything to help buyers and change nothing; a gate steward
// scans; a gate supervisor scans, reads the gate's figures, searches and
// overrides; a customer buys. The platform's operator and viewer have no
// part in e-ticketing.
var roleMay = map[auth.Role][]auth.Permission{
	auth.RoleMerchantAdmin:  {auth.PermTicketingRead, auth.PermTicketingManage, auth.PermTicketingStaff, auth.PermTicketingSell, auth.PermTicketingBuy},
	auth.RoleCashier:        {auth.PermTicketingRead, auth.PermTicketingSell, auth.PermTicketingBuy, auth.PermPaymentRead, auth.PermPaymentCash},
	auth.RoleCoordinator:    {auth.PermTicketingRead, auth.PermTicketingStaff},
	auth.RoleInternalStaff:  {auth.PermTicketingRead, auth.PermTicketingSupport, auth.PermPaymentRead, auth.PermNotifyRead},
	auth.RoleGateSteward:    {auth.PermGateScan},
	auth.RoleGateSupervisor: {auth.PermGateRead, auth.PermGateScan, auth.PermGateSearch, auth.PermGateOverride},
	auth.RoleCustomer:       {auth.PermTicketingBuy},
	auth.RoleOperator:       {},
	auth.RoleViewer:         {},
}

// signedIn makes a user holding role alone, named prefix and the role,
// and signs them in: their session's cookie value and CSRF token.
func (r *running) signedIn(t *testing.T, prefix string, role auth.Role) (token, csrf string) {
	t.Helper()
	ctx := context.Background()
	u, err := r.auth.CreateUser(ctx, auth.NewUser{Username: prefix + strings.ReplaceAll(string(role), "_", "-"), Name: string(role),
		Email: string(role) + "@example.com", Roles: []auth.Role{role}, Confirmed: true})
	if err != nil {
		t.Fatal(err)
	}
	sess, token, err := r.auth.CreateSession(ctx, u.ID, auth.SessionMeta{})
	if err != nil {
		t.Fatal(err)
	}
	return token, sess.CSRFToken
}

// documentedPermissions reads docs/api.md's route tables: the permission
// each route needs (its first backquoted permission), "" for a route that
// takes no credentials.
func documentedPermissions(t *testing.T) map[string]auth.Permission {
	t.Helper()
	f, err := os.Open("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]auth.Permission{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) < 5 || strings.TrimSpace(cells[0]) != "" {
			continue
		}
		method := strings.TrimSpace(cells[1])
		_, rest, ok := strings.Cut(cells[2], "`")
		path, _, ok2 := strings.Cut(rest, "`")
		if !ok || !ok2 || !slices.ContainsFunc(eTicketingPrefixes, func(p string) bool { return strings.HasPrefix(path, p) }) {
			continue
		}
		perm := strings.TrimSpace(cells[3])
		switch {
		case strings.HasPrefix(perm, "none"):
			out[method+" "+path] = ""
		case strings.HasPrefix(perm, "`"):
			out[method+" "+path] = auth.Permission(strings.Split(perm, "`")[1])
		default:
			t.Errorf("docs/api.md: %s %s: permission cell %q is neither `perm` nor none", method, path, perm)
		}
	}
	return out
}

// Every e-ticketing route the server registers (ticketing, payment,
// notify, customers, gate), asked by a signed-in user of every role:
// a route is let through exactly when the role may do what docs/api.md
// says the route needs, by the table above, and refused with 403
// otherwise; the routes that take no credentials are refused to no role. A route the docs do not classify fails the test.
func TestETicketingRoutesByRole(t *testing.T) {
	r := start(t, Config{})
	perms := documentedPermissions(t)
	var routes []string
	for _, p := range muxPatterns(t, r.mux) {
		_, path, _ := strings.Cut(p, " ")
		if !slices.ContainsFunc(eTicketingPrefixes, func(pre string) bool { return strings.HasPrefix(path, pre) }) {
			continue
		}
		if _, ok := perms[p]; !ok {
			t.Errorf("route %s: docs/api.md gives no permission for it", p)
			continue
		}
		routes = append(routes, p)
	}
	if len(routes) < 70 {
		t.Fatalf("found %d e-ticketing routes; the walk missed some", len(routes))
	}
	every := slices.DeleteFunc(auth.Permissions(), func(p auth.Permission) bool {
		return !slices.ContainsFunc([]string{"ticketing.", "payment.", "notify.", "gate."}, func(pre string) bool { return strings.HasPrefix(string(p), pre) })
	})
	may := func(role auth.Role, p auth.Permission) bool {
		return role == auth.RoleAdmin || slices.Contains(roleMay[role], p)
	}
	for _, role := range auth.Roles() {
		if _, ok := roleMay[role]; !ok && role != auth.RoleAdmin {
			t.Errorf("role %s: the test's table does not say what it may do", role)
		}
		for _, p := range every {
			if got := role.Can(p); got != may(role, p) {
				t.Errorf("%s.Can(%s) = %v, want %v", role, p, got, may(role, p))
			}
		}
	}

	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sent := 0
	for _, role := range auth.Roles() {
		token, csrf := r.signedIn(t, "as-", role)
		wg.Go(func() {
			for _, p := range routes {
				method, path := fill(p, "victim")
				req, _ := http.NewRequest(method, r.url+path, strings.NewReader(`{}`))
				req.Header.Set("Cookie", auth.SessionCookie+"="+token)
				req.Header.Set("X-CSRF-Token", csrf)
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("%s as %s: %v", p, role, err)
					continue
				}
				resp.Body.Close()
				need := perms[p]
				allowed := need == "" || may(role, need)
				refused := resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized
				if need == "" {
					// The route's own credential (a signature, a code)
					// decides; the role never refuses it.
					refused = resp.StatusCode == http.StatusForbidden
				}
				mu.Lock()
				sent++
				mu.Unlock()
				switch {
				case allowed && refused:
					t.Errorf("%s as %s (needs %q): answered %d, want it let through", p, role, need, resp.StatusCode)
				case !allowed && resp.StatusCode != http.StatusForbidden:
					t.Errorf("%s as %s (needs %q): answered %d, want 403", p, role, need, resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("class tested: %d e-ticketing routes × %d roles = %d requests", len(routes), len(auth.Roles()), sent)
	if want := len(routes) * len(auth.Roles()); sent != want {
		t.Errorf("sent %d requests, want %d", sent, want)
	}
}

// What the roles' names promise on the data itself: a coordinator plans
// the staff of their merchant's event but cannot change the event; the
// platform's internal staff read another merchant's order but cannot
// cancel it; a merchant admin of another merchant does not see it.
func TestETicketingRolesOnTheData(t *testing.T) {
	r := start(t, Config{})
	ctx := context.Background()
	admin := r.key(t, "ticketing.admin", "ticketing.read", "ticketing.manage", "ticketing.staff", "ticketing.sell", "ticketing.buy")
	e := r.onSale(t, admin, "Merchant R", 5)
	order := decode[idJSON](t, r.call(t, "POST", "/api/v1/ticketing/orders", admin, fmt.Sprintf(
		`{"event_id":%q,"lines":[{"area_id":%q,"quantity":1}],"buyer":{"name":"Ayu","email":"ayu@example.com"},"method":"CASH"}`, e.ID, e.Areas[0].ID)), 201, "order")
	merchant := decode[struct {
		MerchantID string `json:"merchant_id"`
	}](t, r.call(t, "GET", "/api/v1/ticketing/events/"+e.ID, admin, ""), 200, "event")
	other := decode[idJSON](t, r.call(t, "POST", "/api/v1/ticketing/merchants", admin, `{"name":"Merchant S","type":"venue"}`), 201, "other merchant")
	as := func(username string, role auth.Role, merchantID string) func(method, path, body string) reply {
		u, err := r.auth.CreateUser(ctx, auth.NewUser{Username: username, Name: username, Roles: []auth.Role{role}, Confirmed: true})
		if err != nil {
			t.Fatal(err)
		}
		if merchantID != "" {
			decode[map[string]any](t, r.call(t, "PUT", "/api/v1/ticketing/merchants/"+merchantID+"/members", admin, `{"usernames":["`+username+`"]}`), 200, "members")
		}
		sess, token, err := r.auth.CreateSession(ctx, u.ID, auth.SessionMeta{})
		if err != nil {
			t.Fatal(err)
		}
		return func(method, path, body string) reply {
			return r.call(t, method, path, "", body, "Cookie", auth.SessionCookie+"="+token, "X-CSRF-Token", sess.CSRFToken)
		}
	}
	coord := as("coord", auth.RoleCoordinator, merchant.MerchantID)
	now := time.Now().UTC()
	staff := fmt.Sprintf(`{"name":"Sari","email":"sari@example.com","work_starts":%q,"work_ends":%q}`,
		now.Add(70*time.Hour).Format(time.RFC3339), now.Add(81*time.Hour).Format(time.RFC3339))
	if rep := coord("POST", "/api/v1/ticketing/events/"+e.ID+"/staff", staff); rep.status != 201 {
		t.Errorf("coordinator adds staff to their merchant's event: %d %s, want 201", rep.status, rep.body)
	}
	if rep := coord("POST", "/api/v1/ticketing/events/"+e.ID+"/areas", `{"name":"X","capacity":1,"price":1}`); rep.status != 403 {
		t.Errorf("coordinator adds an area: %d, want 403", rep.status)
	}
	help := as("helpdesk", auth.RoleInternalStaff, "")
	if rep := help("GET", "/api/v1/ticketing/orders/"+order.ID, ""); rep.status != 200 {
		t.Errorf("internal staff read an order of a merchant they are no member of: %d %s, want 200", rep.status, rep.body)
	}
	if rep := help("POST", "/api/v1/ticketing/orders/"+order.ID+"/cancel", `{"reason":"x"}`); rep.status != 403 {
		t.Errorf("internal staff cancel an order: %d, want 403", rep.status)
	}
	stranger := as("stranger", auth.RoleMerchantAdmin, other.ID)
	if rep := stranger("GET", "/api/v1/ticketing/orders/"+order.ID, ""); rep.status != 404 {
		t.Errorf("another merchant's admin reads the order: %d, want 404", rep.status)
	}
	if rep := stranger("POST", "/api/v1/ticketing/orders/"+order.ID+"/cancel", `{"reason":"x"}`); rep.status != 404 {
		t.Errorf("another merchant's admin cancels the order: %d, want 404", rep.status)
	}

	payments := merchantPayments(t, r, admin, e)
	others := map[string]caller{}
	var members []string
	for _, role := range auth.Roles() {
		if role == auth.RoleAdmin {
			continue // every merchant's: no member of one
		}
		name := "s-" + strings.ReplaceAll(string(role), "_", "-")
		members = append(members, name)
		others["user with role "+string(role)] = caller{call: as(name, role, ""), can: role.Can}
	}
	usernames, _ := json.Marshal(map[string][]string{"usernames": members})
	decode[map[string]any](t, r.call(t, "PUT", "/api/v1/ticketing/merchants/"+other.ID+"/members", admin, string(usernames)), 200, "members of S")
	owner, err := r.auth.UserByUsername(ctx, "s-cashier")
	if err != nil {
		t.Fatal(err)
	}
	others["key of S's cashier"] = r.keyPrincipal(t, owner.ID, "payment.read", "payment.cash")
	others["key of its own, every payment permission"] = r.keyPrincipal(t, "", "payment.read", "payment.cash", "payment.simulate")
	payments.askedBy(t, others)
	payments.ownMerchantSees(t, r.keyPrincipal(t, "", "ticketing.admin", "payment.read", "payment.cash"), "a platform key", false)
	payments.ownMerchantSees(t, caller{call: as("r-cashier", auth.RoleCashier, merchant.MerchantID), can: auth.RoleCashier.Can}, "R's cashier", true)

	customersSeeTheirOwnOrders(t, r, admin, e, order.ID)
}
