package auth

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Role is a named set of permissions given to users. What a role may do is
// decided in one place, [Role.Can].
type Role string

// Platform roles.
const (
	// RoleViewer reads everything operational: topics, records, groups,
	// dead letters, schemas, relay state, system status.
	RoleViewer Role = "viewer"
	// RoleOperator does what a viewer does, and also creates topics,
	// produces records, resets consumer groups and replays dead letters.
	RoleOperator Role = "operator"
	// RoleAdmin may do everything, including managing users, API keys and
	// the relay's configuration, and reading the audit log.
	RoleAdmin Role = "admin"
)

// allRoles is every known role, in the order listings show them: the
// platform's, then the e-ticketing roles (ticketing_roles.go).
var allRoles = append([]Role{RoleAdmin, RoleOperator, RoleViewer}, ticketingRoles...)

// Roles returns every known role.
func Roles() []Role { return slices.Clone(allRoles) }

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(allRoles, r) }

// Permission is one thing a user or API key may do.
type Permission string

// Permissions.
const (
	PermTopicsRead     Permission = "topics.read"
	PermTopicsWrite    Permission = "topics.write"
	PermRecordsRead    Permission = "records.read"
	PermRecordsProduce Permission = "records.produce"
	PermGroupsRead     Permission = "groups.read"
	PermGroupsReset    Permission = "groups.reset"
	PermDLQRead        Permission = "dlq.read"
	PermDLQReplay      Permission = "dlq.replay"
	PermSchemasRead    Permission = "schemas.read"
	PermSchemasWrite   Permission = "schemas.write"
	PermRelayRead      Permission = "relay.read"
	PermRelayWrite     Permission = "relay.write"
	PermRelayIngest    Permission = "relay.ingest"
	PermUsersRead      Permission = "users.read"
	PermUsersWrite     Permission = "users.write"
	PermKeysRead       Permission = "keys.read"
	PermKeysWrite      Permission = "keys.write"
	PermAuditRead      Permission = "audit.read"
	PermSystemRead     Permission = "system.read"
	// PermRecordsUnmask shows records whole where a masking policy would
	// hide some of their fields; PermMaskingWrite changes the policies.
	// Both are the admin's unless granted to a key.
	PermRecordsUnmask Permission = "records.unmask"
	PermMaskingWrite  Permission = "masking.write"
	// PermBackupRead downloads a backup of the server's data directory
	// (GET /api/v1/backup): every record, store and secret.key. No role
	// but the admin's grants it, and no other permission implies it; a
	// key holds it only when created with the scope.
	PermBackupRead Permission = "backup.read"
)

// Gate permissions. Scanning devices hold API keys narrowed to their event
// ("gate.scan:EVENT"); stewards scan, supervisors also search and override.
const (
	PermGateRead     Permission = "gate.read"
	PermGateManage   Permission = "gate.manage"
	PermGateScan     Permission = "gate.scan"
	PermGateSearch   Permission = "gate.search"
	PermGateOverride Permission = "gate.override"
)

var allPermissions = []Permission{
	PermTopicsRead, PermTopicsWrite,
	PermRecordsRead, PermRecordsProduce, PermRecordsUnmask, PermMaskingWrite,
	PermGroupsRead, PermGroupsReset,
	PermDLQRead, PermDLQReplay,
	PermSchemasRead, PermSchemasWrite,
	PermRelayRead, PermRelayWrite, PermRelayIngest,
	PermUsersRead, PermUsersWrite,
	PermKeysRead, PermKeysWrite,
	PermAuditRead,
	PermSystemRead,
	PermBackupRead,
	PermGateRead, PermGateManage, PermGateScan, PermGateSearch, PermGateOverride,
}

// Permissions returns every known permission.
func Permissions() []Permission { return slices.Concat(allPermissions, ticketingPermissions) }

// Valid reports whether p is a known permission.
func (p Permission) Valid() bool {
	return slices.Contains(allPermissions, p) || slices.Contains(ticketingPermissions, p)
}

// viewerPerms are the operational reads. User, key and audit listings are
// left to admins: they show who can do what.
var viewerPerms = []Permission{
	PermTopicsRead, PermRecordsRead, PermGroupsRead, PermDLQRead,
	PermSchemasRead, PermRelayRead, PermSystemRead,
}

// operatorPerms are what an operator may do beyond a viewer.
var operatorPerms = []Permission{
	PermTopicsWrite, PermRecordsProduce, PermGroupsReset, PermDLQReplay,
}

// Can reports whether the role grants p. This is the one place where
// permissions are decided: viewers read, operators also create topics,
// produce, reset groups and replay dead letters, admins may do everything.
// The e-ticketing roles grant what ticketingCan says; unknown roles grant
// nothing.
func (r Role) Can(p Permission) bool {
	if !p.Valid() {
		return false
	}
	switch r {
	case RoleAdmin:
		return true
	case RoleOperator:
		return slices.Contains(viewerPerms, p) || slices.Contains(operatorPerms, p)
	case RoleViewer:
		return slices.Contains(viewerPerms, p)
	}
	return ticketingCan(r, p)
}

// Can reports whether the user may do p: the user is enabled and one of
// their roles grants it.
func (u User) Can(p Permission) bool {
	if u.Disabled {
		return false
	}
	for _, r := range u.Roles {
		if r.Can(p) {
			return true
		}
	}
	return false
}

// HasRole reports whether the user holds role r.
func (u User) HasRole(r Role) bool { return slices.Contains(u.Roles, r) }

// resourceName is what may qualify a scope: a topic, dataset or similar
// name, as in stream topic names.
var resourceName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// ParseScope splits an API key scope, "permission" or
// "permission:resource", and checks both parts. A bare permission covers
// every resource; a qualified one only the named resource.
func ParseScope(scope string) (p Permission, resource string, err error) {
	ps, res, qualified := strings.Cut(scope, ":")
	p = Permission(ps)
	if !p.Valid() {
		return "", "", fmt.Errorf("unknown permission %q", ps)
	}
	if qualified && !resourceName.MatchString(res) {
		return "", "", fmt.Errorf("resource %q: use 1 to 249 letters, digits, '.', '_' or '-'", res)
	}
	return p, res, nil
}

// sortRoles puts roles in the order of allRoles and drops duplicates.
func sortRoles(roles []Role) []Role {
	out := make([]Role, 0, len(roles))
	for _, r := range allRoles {
		if slices.Contains(roles, r) {
			out = append(out, r)
		}
	}
	return out
}
