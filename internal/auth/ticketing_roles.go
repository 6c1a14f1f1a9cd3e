package auth

import "slices"

// E-ticketing roles. The platform admin of the e-ticketing suite is
// [RoleAdmin]: it approves events and may do everything.
const (
	// RoleMerchantAdmin runs a merchant's events in the console.
	RoleMerchantAdmin Role = "merchant_admin"
	// RoleCashier takes cash for orders at a counter and pays out cash
	// refunds.
	RoleCashier Role = "cashier"
	// RoleCoordinator coordinates an event's staff and schedules.
	RoleCoordinator Role = "coordinator"
	// RoleInternalStaff is the platform's own staff: it reads every
	// merchant's events, orders and refunds, the payments and the
	// notification mailbox to help buyers, and changes nothing.
	RoleInternalStaff Role = "internal_staff"
	// RoleGateSteward scans tickets at a gate.
	RoleGateSteward Role = "gate_steward"
	// RoleGateSupervisor oversees the gates of an event: scans, reads the
	// counts and flagged scans, searches passes and overrides refusals.
	RoleGateSupervisor Role = "gate_supervisor"
	// RoleCustomer is a buyer with an account. Buyers may also check out
	// as guests, without one.
	RoleCustomer Role = "customer"
)

// ticketingRoles are the e-ticketing roles, in the order listings show
// them.
var ticketingRoles = []Role{
	RoleMerchantAdmin, RoleCashier, RoleCoordinator, RoleInternalStaff,
	RoleGateSteward, RoleGateSupervisor, RoleCustomer,
}

// E-ticketing permissions.
const (
	// PermPaymentRead lists and shows payment intents and refunds.
	PermPaymentRead Permission = "payment.read"
	// PermPaymentCash confirms cash received at a counter and pays out
	// cash refunds.
	PermPaymentCash Permission = "payment.cash"
	// PermPaymentSimulate drives the simulated online provider, as a
	// buyer's bank would.
	PermPaymentSimulate Permission = "payment.simulate"
	// PermNotifyRead lists and shows the notification mailbox.
	PermNotifyRead Permission = "notify.read"
)

// Ticketing service permissions: read the catalogue, orders and refunds;
// manage a merchant's events, areas and waiting rooms and decide its
// refunds; plan its events' staff and schedules; sell (cancel pending
// orders, ask for refunds); buy (place an order); support (read every
// merchant's data, not only one's own merchants'); and the platform's part
// (merchants, approval, cancellation, payment methods, the dashboard,
// audits). Which merchants' data a holder sees is the ticketing service's
// business (its merchant members).
const (
	PermTicketingRead    Permission = "ticketing.read"
	PermTicketingManage  Permission = "ticketing.manage"
	PermTicketingStaff   Permission = "ticketing.staff"
	PermTicketingSell    Permission = "ticketing.sell"
	PermTicketingBuy     Permission = "ticketing.buy"
	PermTicketingSupport Permission = "ticketing.support"
	PermTicketingAdmin   Permission = "ticketing.admin"
)

var ticketingPermissions = []Permission{PermPaymentRead, PermPaymentCash, PermPaymentSimulate, PermNotifyRead,
	PermTicketingRead, PermTicketingManage, PermTicketingStaff, PermTicketingSell, PermTicketingBuy,
	PermTicketingSupport, PermTicketingAdmin}

// ticketingGrants is what each e-ticketing role may do. The platform
// admin may do everything (Role.Can).
var ticketingGrants = map[Role][]Permission{
	RoleMerchantAdmin:  {PermTicketingRead, PermTicketingManage, PermTicketingStaff, PermTicketingSell, PermTicketingBuy},
	RoleCashier:        {PermPaymentRead, PermPaymentCash, PermTicketingRead, PermTicketingSell, PermTicketingBuy},
	RoleCoordinator:    {PermTicketingRead, PermTicketingStaff},
	RoleInternalStaff:  {PermPaymentRead, PermNotifyRead, PermTicketingRead, PermTicketingSupport},
	RoleGateSteward:    {PermGateScan},
	RoleGateSupervisor: {PermGateRead, PermGateScan, PermGateSearch, PermGateOverride},
	RoleCustomer:       {PermTicketingBuy},
}

// ticketingCan reports whether an e-ticketing role grants p.
func ticketingCan(r Role, p Permission) bool {
	return slices.Contains(ticketingGrants[r], p)
}

// StaffFlags are the original console's four staff flags: a staff member
// works as a cashier, as a user of the merchant's console, as a
// coordinator, and as internal staff, in any combination.
type StaffFlags struct {
	Cashier     bool `json:"as_cashier"`
	User        bool `json:"as_user"`
	Coordinator bool `json:"as_coordinator"`
	Internal    bool `json:"as_internal"`
}

// Roles returns the roles the flags stand for: as cashier is cashier, as
// user is merchant admin, as coordinator is coordinator, as internal is
// internal staff.
func (f StaffFlags) Roles() []Role {
	var out []Role
	for _, m := range staffFlagRoles(&f) {
		if *m.flag {
			out = append(out, m.role)
		}
	}
	return out
}

// StaffFlagsOf returns the staff flags that roles hold; other roles are
// ignored.
func StaffFlagsOf(roles []Role) StaffFlags {
	var f StaffFlags
	for _, m := range staffFlagRoles(&f) {
		*m.flag = slices.Contains(roles, m.role)
	}
	return f
}

func staffFlagRoles(f *StaffFlags) []struct {
	flag *bool
	role Role
} {
	return []struct {
		flag *bool
		role Role
	}{
		{&f.Cashier, RoleCashier},
		{&f.User, RoleMerchantAdmin},
		{&f.Coordinator, RoleCoordinator},
		{&f.Internal, RoleInternalStaff},
	}
}
