package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/messages"
)

// recorder is a producer that keeps what it is given.
type recorder struct {
	mu   sync.Mutex
	recs []*stream.Record
	fail error
}

func (r *recorder) Produce(_ context.Context, recs ...*stream.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.recs = append(r.recs, recs...)
	return nil
}

// last returns the last CustomerRegistered published.
func (r *recorder) last(t *testing.T) messages.CustomerRegistered {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.recs) == 0 {
		t.Fatal("nothing was published")
	}
	rec := r.recs[len(r.recs)-1]
	var m messages.CustomerRegistered
	if err := json.Unmarshal(rec.Value, &m); err != nil {
		t.Fatal(err)
	}
	if rec.Topic != messages.TopicCustomers || string(rec.Key) != m.UserID || m.Type != messages.TypeCustomerRegistered {
		t.Fatalf("published %s key %s type %s, want %s keyed by the user", rec.Topic, rec.Key, m.Type, messages.TopicCustomers)
	}
	return m
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

func TestCustomerSignUpAndConfirmation(t *testing.T) {
	e := newEnv(t, store.Config{Dir: t.TempDir()})
	pub := &recorder{}
	cs, err := auth.NewCustomers(e.st, auth.CustomersConfig{Key: []byte(strings.Repeat("k", 32)), TTL: time.Hour, Producer: pub,
		ConfirmURL: func(tok string) string {
			return "http://arus.test/api/v1/customers/confirm?token=" + url.QueryEscape(tok)
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	u, err := cs.Register(ctx, auth.NewCustomer{Name: "Rina", Email: "Rina@Example.co.id", Password: goodPassword, Lang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "rina.example.co.id" || u.Confirmed || !slices.Equal(u.Roles, []auth.Role{auth.RoleCustomer}) {
		t.Errorf("registered %+v, want rina.example.co.id, unconfirmed, customer", u)
	}
	m := pub.last(t)
	if m.Email != "Rina@Example.co.id" || m.Lang != "en" || !m.Expires.Equal(e.clock.Now().Add(time.Hour)) {
		t.Errorf("published %+v, want the address, en, and an hour to confirm", m)
	}
	if _, err := cs.Register(ctx, auth.NewCustomer{Name: "Rina", Email: "rina@example.co.id", Password: goodPassword}); !errors.Is(err, auth.ErrEmailTaken) {
		t.Errorf("second sign-up with the address: %v, want ErrEmailTaken", err)
	}
	for _, bad := range []struct {
		nc     auth.NewCustomer
		fields []string
	}{
		{auth.NewCustomer{}, []string{"email", "name", "password"}},
		{auth.NewCustomer{Name: "X", Email: "not an address", Password: goodPassword}, []string{"email"}},
		{auth.NewCustomer{Name: "X", Email: "x@example.com", Password: "short"}, []string{"password"}},
		{auth.NewCustomer{Name: "X", Email: "x@example.com", Password: goodPassword, Lang: "fr"}, []string{"lang"}},
	} {
		_, err := cs.Register(ctx, bad.nc)
		var ve *invalid.Fields
		if !errors.As(err, &ve) {
			t.Errorf("Register(%v) = %v, want a validation error", bad.nc, err)
			continue
		}
		var got []string
		for _, f := range ve.List {
			got = append(got, f.Name)
		}
		if !slices.Equal(got, bad.fields) {
			t.Errorf("Register(%v) fields %v, want %v", bad.nc, got, bad.fields)
		}
	}

	tok := tokenOf(t, m.ConfirmURL)
	forged := tok[:len(tok)-2] + "AA"
	for _, bad := range []string{"", "a.b", "x.1.y", forged, strings.Replace(tok, ".", ".9", 1)} {
		if _, err := cs.Confirm(ctx, bad); !errors.Is(err, auth.ErrBadToken) {
			t.Errorf("Confirm(%q) = %v, want ErrBadToken", bad, err)
		}
	}
	// Before confirming, the right password does not sign in; a wrong one
	// is answered as ever, so the answer tells nothing without it.
	if _, err := e.st.Authenticate(ctx, u.Username, goodPassword, "192.0.2.7"); !errors.Is(err, auth.ErrUnconfirmed) {
		t.Errorf("sign-in before confirming: %v, want ErrUnconfirmed", err)
	}
	if _, err := e.st.Authenticate(ctx, u.Username, goodPassword+"x", "192.0.2.7"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("sign-in before confirming, wrong password: %v, want ErrInvalidCredentials", err)
	}
	got, err := cs.Confirm(ctx, tok)
	if err != nil || !got.Confirmed {
		t.Fatalf("Confirm = %+v, %v; want confirmed", got, err)
	}
	if signed, err := e.st.Authenticate(ctx, u.Username, goodPassword, "192.0.2.7"); err != nil || signed.ID != u.ID {
		t.Errorf("sign-in once confirmed: %+v, %v", signed, err)
	}
	if _, err := cs.Confirm(ctx, tok); err != nil {
		t.Errorf("Confirm again: %v, want no error", err)
	}

	// A link past its time fails; a new one works.
	v, _ := cs.Register(ctx, auth.NewCustomer{Name: "Budi", Email: "budi@example.com", Password: goodPassword})
	old := tokenOf(t, pub.last(t).ConfirmURL)
	n := len(pub.recs)
	if err := cs.Resend(ctx, "budi@example.com", "id"); err != nil || len(pub.recs) != n {
		t.Errorf("Resend right after sign-up = %v and published %d, want nothing within the resend interval", err, len(pub.recs)-n)
	}
	e.clock.Advance(2 * time.Hour)
	if _, err := cs.Confirm(ctx, old); !errors.Is(err, auth.ErrExpired) {
		t.Errorf("Confirm(expired) = %v, want ErrExpired", err)
	}
	if err := cs.Resend(ctx, "BUDI@example.com", "id"); err != nil {
		t.Fatal(err)
	}
	if got, err := cs.Confirm(ctx, tokenOf(t, pub.last(t).ConfirmURL)); err != nil || !got.Confirmed || got.ID != v.ID {
		t.Errorf("Confirm(resent) = %+v, %v; want budi confirmed", got, err)
	}
	n = len(pub.recs)
	for _, addr := range []string{"nobody@example.com", "budi@example.com"} { // unknown, and confirmed already
		if err := cs.Resend(ctx, addr, ""); err != nil || len(pub.recs) != n {
			t.Errorf("Resend(%s) = %v and published %d, want nothing", addr, err, len(pub.recs)-n)
		}
	}
	pub.fail = errors.New("broker down")
	if _, err := cs.Register(ctx, auth.NewCustomer{Name: "Sari", Email: "sari@example.com", Password: goodPassword}); err == nil {
		t.Errorf("Register with the broker down succeeded; want the error, so the caller asks again")
	}
}

func TestStaffFlagsMapOntoRoles(t *testing.T) {
	for _, tt := range []struct {
		f     auth.StaffFlags
		roles []auth.Role
	}{
		{auth.StaffFlags{}, nil},
		{auth.StaffFlags{Cashier: true}, []auth.Role{auth.RoleCashier}},
		{auth.StaffFlags{User: true, Internal: true}, []auth.Role{auth.RoleMerchantAdmin, auth.RoleInternalStaff}},
		{auth.StaffFlags{Cashier: true, User: true, Coordinator: true, Internal: true},
			[]auth.Role{auth.RoleCashier, auth.RoleMerchantAdmin, auth.RoleCoordinator, auth.RoleInternalStaff}},
	} {
		if got := tt.f.Roles(); !slices.Equal(got, tt.roles) {
			t.Errorf("%+v.Roles() = %v, want %v", tt.f, got, tt.roles)
		}
		if got := auth.StaffFlagsOf(append(tt.roles, auth.RoleViewer)); got != tt.f {
			t.Errorf("StaffFlagsOf(%v) = %+v, want %+v", tt.roles, got, tt.f)
		}
	}
	for _, tt := range []struct {
		r    auth.Role
		p    auth.Permission
		want bool
	}{
		{auth.RoleCashier, auth.PermPaymentCash, true},
		{auth.RoleCashier, auth.PermNotifyRead, false},
		{auth.RoleInternalStaff, auth.PermNotifyRead, true},
		{auth.RoleInternalStaff, auth.PermPaymentCash, false},
		{auth.RoleCustomer, auth.PermPaymentRead, false},
		{auth.RoleGateSteward, auth.PermTopicsRead, false},
		{auth.RoleAdmin, auth.PermPaymentSimulate, true},
		{auth.RoleOperator, auth.PermPaymentSimulate, false},
	} {
		if got := tt.r.Can(tt.p); got != tt.want {
			t.Errorf("%s.Can(%s) = %v, want %v", tt.r, tt.p, got, tt.want)
		}
	}
	for _, r := range []auth.Role{auth.RoleMerchantAdmin, auth.RoleCashier, auth.RoleCoordinator, auth.RoleInternalStaff,
		auth.RoleGateSteward, auth.RoleGateSupervisor, auth.RoleCustomer} {
		if !r.Valid() {
			t.Errorf("role %s is not valid", r)
		}
	}
}
