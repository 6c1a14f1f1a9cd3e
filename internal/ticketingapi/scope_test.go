package ticketingapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/ticketingapi"
)

// members is every user's merchants, as the ticketing service keeps them.
type members map[string][]string

func (m members) MerchantsOf(_ context.Context, username string) ([]string, error) {
	return m[username], nil
}

// TestScopeOfByMethodAndRole checks the one merchant rule: ticketing.support
// reads (GET, HEAD) every merchant and acts on none of another's; members
// cover their own merchants whatever the method; the admin covers all.
func TestScopeOfByMethodAndRole(t *testing.T) {
	m := members{"eko": nil, "ani": {"m1"}}
	user := func(name string, roles ...auth.Role) *auth.Principal {
		return &auth.Principal{User: auth.User{Username: name, Roles: roles}}
	}
	cases := []struct {
		who     *auth.Principal
		method  string
		all     bool
		members []string
	}{
		{user("eko", auth.RoleInternalStaff), http.MethodGet, true, nil},
		{user("eko", auth.RoleInternalStaff), http.MethodHead, true, nil},
		{user("eko", auth.RoleInternalStaff), http.MethodPost, false, nil},
		{user("eko", auth.RoleInternalStaff), http.MethodDelete, false, nil},
		{user("ani", auth.RoleMerchantAdmin), http.MethodGet, false, []string{"m1"}},
		{user("ani", auth.RoleMerchantAdmin), http.MethodPost, false, []string{"m1"}},
		{user("root", auth.RoleAdmin), http.MethodPost, true, nil},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, "/api/v1/ticketing/orders", nil)
		r = r.WithContext(auth.WithPrincipal(r.Context(), c.who))
		sc, err := ticketingapi.ScopeOf(r, m, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sc.All != c.all || len(sc.Merchants) != len(c.members) || len(c.members) > 0 && sc.Merchants[0] != c.members[0] {
			t.Errorf("%s %v %s: scope %+v, want all=%v merchants %v", c.who.User.Username, c.who.User.Roles, c.method, sc, c.all, c.members)
		}
	}
}
