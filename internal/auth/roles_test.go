package auth_test

import (
	"slices"
	"testing"

	"github.com/arus-platform/arus/internal/auth"
)

// TestRoleMatrix states the whole permission matrix: every role against
// every permission.
func TestRoleMatrix(t *testing.T) {
	reads := []auth.Permission{
		auth.PermTopicsRead, auth.PermRecordsRead, auth.PermGroupsRead, auth.PermDLQRead,
		auth.PermSchemasRead, auth.PermRelayRead, auth.PermSystemRead,
	}
	operates := append(slices.Clone(reads),
		auth.PermTopicsWrite, auth.PermRecordsProduce, auth.PermGroupsReset, auth.PermDLQReplay)
	grants := map[auth.Role][]auth.Permission{
		auth.RoleAdmin:          auth.Permissions(),
		auth.RoleOperator:       operates,
		auth.RoleViewer:         reads,
		auth.RoleMerchantAdmin:  {auth.PermTicketingRead, auth.PermTicketingManage, auth.PermTicketingStaff, auth.PermTicketingSell, auth.PermTicketingBuy},
		auth.RoleCashier:        {auth.PermPaymentRead, auth.PermPaymentCash, auth.PermTicketingRead, auth.PermTicketingSell, auth.PermTicketingBuy},
		auth.RoleCoordinator:    {auth.PermTicketingRead, auth.PermTicketingStaff},
		auth.RoleInternalStaff:  {auth.PermPaymentRead, auth.PermNotifyRead, auth.PermTicketingRead, auth.PermTicketingSupport},
		auth.RoleGateSteward:    {auth.PermGateScan},
		auth.RoleGateSupervisor: {auth.PermGateRead, auth.PermGateScan, auth.PermGateSearch, auth.PermGateOverride},
		auth.RoleCustomer:       {auth.PermTicketingBuy},
	}
	for _, role := range append(auth.Roles(), "root", "") {
		for _, p := range auth.Permissions() {
			want := slices.Contains(grants[role], p)
			if got := role.Can(p); got != want {
				t.Errorf("Role(%q).Can(%s) = %v, want %v", role, p, got, want)
			}
		}
		if role.Can("everything") {
			t.Errorf("Role(%q).Can(unknown permission) = true", role)
		}
	}
	// Spot checks that say the policy in words.
	for _, tt := range []struct {
		role auth.Role
		p    auth.Permission
		want bool
	}{
		{auth.RoleViewer, auth.PermRecordsProduce, false},
		{auth.RoleViewer, auth.PermUsersRead, false},
		{auth.RoleOperator, auth.PermDLQReplay, true},
		{auth.RoleOperator, auth.PermUsersWrite, false},
		{auth.RoleOperator, auth.PermKeysWrite, false},
		{auth.RoleOperator, auth.PermRelayWrite, false},
		{auth.RoleAdmin, auth.PermAuditRead, true},
		{auth.RoleCashier, auth.PermTopicsRead, false},
		{auth.RoleCustomer, auth.PermRecordsRead, false},
		{auth.RoleCustomer, auth.PermTicketingRead, false},
		{auth.RoleCoordinator, auth.PermTicketingManage, false},
		{auth.RoleGateSteward, auth.PermGateOverride, false},
		{auth.RoleInternalStaff, auth.PermTicketingSell, false},
		{auth.RoleCashier, auth.PermTicketingManage, false},
	} {
		if got := tt.role.Can(tt.p); got != tt.want {
			t.Errorf("%s.Can(%s) = %v, want %v", tt.role, tt.p, got, tt.want)
		}
	}
}

func TestUserCan(t *testing.T) {
	tests := []struct {
		name string
		u    auth.User
		p    auth.Permission
		want bool
	}{
		{"no roles", auth.User{}, auth.PermTopicsRead, false},
		{"viewer reads", auth.User{Roles: []auth.Role{auth.RoleViewer}}, auth.PermTopicsRead, true},
		{"any role grants", auth.User{Roles: []auth.Role{auth.RoleCashier, auth.RoleOperator}}, auth.PermGroupsReset, true},
		{"disabled grants nothing", auth.User{Roles: []auth.Role{auth.RoleAdmin}, Disabled: true}, auth.PermTopicsRead, false},
	}
	for _, tt := range tests {
		if got := tt.u.Can(tt.p); got != tt.want {
			t.Errorf("%s: Can(%s) = %v, want %v", tt.name, tt.p, got, tt.want)
		}
	}
}

func TestRolesAndPermissionsValid(t *testing.T) {
	for _, r := range auth.Roles() {
		if !r.Valid() {
			t.Errorf("Role(%q).Valid() = false", r)
		}
	}
	for _, p := range auth.Permissions() {
		if !p.Valid() {
			t.Errorf("Permission(%q).Valid() = false", p)
		}
	}
	if auth.Role("root").Valid() || auth.Permission("topics.delete").Valid() {
		t.Error("unknown role or permission is valid")
	}
	if got := len(auth.Permissions()); got != 38 {
		t.Errorf("%d permissions, want 38", got)
	}
}

// backup.read gives away everything: no role but the admin's grants it,
// and a key holds it only by that scope, bare.
func TestBackupReadIsTheAdminsAlone(t *testing.T) {
	for _, r := range auth.Roles() {
		if got := r.Can(auth.PermBackupRead); got != (r == auth.RoleAdmin) {
			t.Errorf("%s.Can(backup.read) = %v", r, got)
		}
	}
	var others []string
	for _, p := range auth.Permissions() {
		if p != auth.PermBackupRead {
			others = append(others, string(p), string(p)+":backup")
		}
	}
	if (auth.APIKey{Scopes: others}).Allows(auth.PermBackupRead, "") {
		t.Error("a key with every other scope is allowed backup.read")
	}
	if (auth.APIKey{Scopes: []string{"backup.read:x"}}).Allows(auth.PermBackupRead, "") {
		t.Error("a key with backup.read narrowed is allowed the backup, which names no resource")
	}
	if !(auth.APIKey{Scopes: []string{"backup.read"}}).Allows(auth.PermBackupRead, "") {
		t.Error("a key with backup.read is not allowed it")
	}
}

func TestParseScope(t *testing.T) {
	tests := []struct {
		in       string
		p        auth.Permission
		resource string
		bad      bool
	}{
		{in: "records.produce", p: auth.PermRecordsProduce},
		{in: "relay.ingest:cars", p: auth.PermRelayIngest, resource: "cars"},
		{in: "relay.ingest:orders.v2-eu_1", p: auth.PermRelayIngest, resource: "orders.v2-eu_1"},
		{in: "", bad: true},
		{in: "relay.ingest:", bad: true},
		{in: "relay.ingest:a b", bad: true},
		{in: "relay.ingest:a:b", bad: true},
		{in: "relay.*", bad: true},
		{in: ":cars", bad: true},
	}
	for _, tt := range tests {
		p, res, err := auth.ParseScope(tt.in)
		if (err != nil) != tt.bad {
			t.Errorf("ParseScope(%q) error %v, want error %v", tt.in, err, tt.bad)
			continue
		}
		if p != tt.p || res != tt.resource {
			t.Errorf("ParseScope(%q) = %q, %q; want %q, %q", tt.in, p, res, tt.p, tt.resource)
		}
	}
}

func TestAPIKeyAllows(t *testing.T) {
	k := auth.APIKey{Scopes: []string{"records.produce", "relay.ingest:cars", "relay.ingest:bikes"}}
	tests := []struct {
		p        auth.Permission
		resource string
		want     bool
	}{
		{auth.PermRecordsProduce, "", true},
		{auth.PermRecordsProduce, "orders", true},
		{auth.PermRelayIngest, "cars", true},
		{auth.PermRelayIngest, "bikes", true},
		{auth.PermRelayIngest, "boats", false},
		{auth.PermRelayIngest, "", false},
		{auth.PermRelayIngest, "car", false},
		{auth.PermRecordsRead, "", false},
		{auth.PermTopicsRead, "cars", false},
	}
	for _, tt := range tests {
		if got := k.Allows(tt.p, tt.resource); got != tt.want {
			t.Errorf("Allows(%s, %q) = %v, want %v", tt.p, tt.resource, got, tt.want)
		}
	}
}
