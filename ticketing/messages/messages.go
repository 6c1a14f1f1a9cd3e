// Package messages is the contract between the e-ticketing services: the
// topics they talk on and the JSON messages each carries. The services
// (ticketing, payment, gate, notify) share nothing else: no tables, no calls.
//
// Every message is a JSON object whose "type" field names it; the record key
// is the id of the thing it is about (an event id for the go-live saga, an
// order id for orders and payments), so all messages of one order are read
// in the order they were written. Producers stamp the record's arus-id, and
// consumers deduplicate on it through their inbox.
//
// Money is whole rupiah (IDR) in int64; times are RFC 3339 in UTC.
package messages

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The go-live saga's five topics, named as the original deployment named
// them. An approved event goes on sale through them in this order.
const (
	// TopicCreate carries the command to prepare an event's inventory
	// (CreateInventory) to the ticketing service.
	TopicCreate = "ticketing.create"
	// TopicCreated carries the ticketing service's answers: InventoryCreated
	// to CreateInventory, and the StatusUpdate it applied to a StatusUpdate
	// command.
	TopicCreated = "ticketing.created"
	// TopicACLCreate carries the command to prepare the event's
	// access-control server (CreateACLServer) to the gate service.
	TopicACLCreate = "acl.server.create"
	// TopicACLPrepared carries the gate service's answer (ACLServerPrepared).
	TopicACLPrepared = "acl.server.prepared"
	// TopicStatusUpdate carries the event's new status (StatusUpdate).
	TopicStatusUpdate = "ticketing.status.update"
)

// Choreography topics.
const (
	// TopicOrders carries what happens to orders and their tickets, keyed by
	// order id: OrderPlaced, OrderExpired, OrderCanceled, OrderPaid,
	// TicketsIssued, TicketsRevoked, RefundApproved, OrderRefunded,
	// LatePaymentRejected.
	TopicOrders = "ticketing.orders"
	// TopicPayments carries what happens to payments, keyed by order id:
	// PaymentRequested, PaymentSucceeded, PaymentFailed, PaymentRefunded.
	TopicPayments = "payment.events"
	// TopicAccess carries the gate's confirmations, keyed by order id:
	// AccessGranted, AccessRevoked.
	TopicAccess = "acl.access"
	// TopicCustomers carries what happens to customer accounts, keyed by
	// user id: CustomerRegistered.
	TopicCustomers = "auth.customers"
	// TopicStaff carries what happens to an event's staff, keyed by event
	// id: StaffChanged (assigned or removed).
	TopicStaff = "ticketing.staff"
	// TopicStaffAccess carries the gate's answers to staff changes, keyed
	// by event id: StaffAccess (a staff pass granted with its signed QR
	// payload, or revoked).
	TopicStaffAccess = "acl.staff"
)

// Topics lists every topic of the suite, for creating them at start.
var Topics = []string{
	TopicCreate, TopicCreated, TopicACLCreate, TopicACLPrepared, TopicStatusUpdate,
	TopicOrders, TopicPayments, TopicAccess, TopicCustomers, TopicStaff, TopicStaffAccess,
}

// Message types, the "type" field of each message.
const (
	TypeCreateInventory   = "inventory.create"
	TypeInventoryCreated  = "inventory.created"
	TypeCreateACLServer   = "acl_server.create"
	TypeACLServerPrepared = "acl_server.prepared"
	TypeStatusUpdate      = "event.status_update"

	TypeOrderPlaced         = "order.placed"
	TypeOrderExpired        = "order.expired"
	TypeOrderCanceled       = "order.canceled"
	TypeOrderPaid           = "order.paid"
	TypeTicketsIssued       = "tickets.issued"
	TypeTicketsRevoked      = "tickets.revoked"
	TypeRefundApproved      = "refund.approved"
	TypeOrderRefunded       = "order.refunded"
	TypeLatePaymentRejected = "order.late_payment_rejected"

	TypePaymentRequested = "payment.requested"
	TypePaymentSucceeded = "payment.succeeded"
	TypePaymentFailed    = "payment.failed"
	TypePaymentRefunded  = "payment.refunded"

	TypeAccessGranted = "access.granted"
	TypeAccessRevoked = "access.revoked"

	TypeCustomerRegistered = "customer.registered"

	TypeStaffAssigned = "staff.assigned"
	TypeStaffRemoved  = "staff.removed"

	TypeStaffGranted = "access.staff_granted"
	TypeStaffRevoked = "access.staff_revoked"
)

// Payment methods, the Method of OrderPlaced and of the payment messages.
const (
	// MethodCash is paid at a cashier's counter.
	MethodCash = "cash"
	// MethodOnline is paid through the simulated online provider, to a
	// virtual account or by scanning a QR code.
	MethodOnline = "online"
)

// Area is one sellable area of an event as the saga carries it.
type Area struct {
	AreaID   string `json:"area_id"`
	Name     string `json:"name"`
	Capacity int    `json:"capacity"`
	Price    int64  `json:"price"`
}

// CreateInventory asks the ticketing service to prepare an event's
// inventory (TopicCreate).
type CreateInventory struct {
	Type       string    `json:"type"`
	EventID    string    `json:"event_id"`
	MerchantID string    `json:"merchant_id"`
	Areas      []Area    `json:"areas"`
	SaleStart  time.Time `json:"sale_start"`
	SaleEnd    time.Time `json:"sale_end"`
}

// InventoryCreated answers CreateInventory (TopicCreated). OK false carries
// the reason.
type InventoryCreated struct {
	Type    string `json:"type"`
	EventID string `json:"event_id"`
	OK      bool   `json:"ok"`
	Reason  string `json:"reason,omitempty"`
}

// CreateACLServer asks the gate service to prepare the event's
// access-control server (TopicACLCreate).
type CreateACLServer struct {
	Type       string    `json:"type"`
	EventID    string    `json:"event_id"`
	MerchantID string    `json:"merchant_id"`
	Areas      []Area    `json:"areas"`
	Starts     time.Time `json:"starts"`
	Ends       time.Time `json:"ends"`
	TimeZone   string    `json:"time_zone"`
	// Staff are the event's staff when it goes live (TypeStaffAssigned
	// each); later changes come on TopicStaff.
	Staff []StaffChanged `json:"staff,omitempty"`
}

// ACLServerPrepared answers CreateACLServer (TopicACLPrepared). Stub is true
// when the answer comes from a gate that only acknowledges.
type ACLServerPrepared struct {
	Type      string `json:"type"`
	EventID   string `json:"event_id"`
	OK        bool   `json:"ok"`
	Reason    string `json:"reason,omitempty"`
	PublicKey string `json:"public_key,omitempty"`
	Stub      bool   `json:"stub,omitempty"`
}

// StatusUpdate sets an event's status (TopicStatusUpdate).
type StatusUpdate struct {
	Type    string `json:"type"`
	EventID string `json:"event_id"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	// GateStub is true when the event's access-control server was
	// prepared by a gate that only acknowledges (ACLServerPrepared.Stub).
	GateStub bool `json:"gate_stub,omitempty"`
}

// Buyer is who placed an order.
type Buyer struct {
	UserID string `json:"user_id,omitempty"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	Phone  string `json:"phone,omitempty"`
	// Lang is the buyer's language for messages: "id" or "en".
	Lang string `json:"lang,omitempty"`
}

// Line is one area and quantity of an order.
type Line struct {
	AreaID    string `json:"area_id"`
	AreaName  string `json:"area_name"`
	Quantity  int    `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
}

// OrderPlaced says an order holds tickets until HoldExpires
// (TopicOrders). The payment service answers with PaymentRequested.
type OrderPlaced struct {
	Type          string    `json:"type"`
	OrderID       string    `json:"order_id"`
	Number        string    `json:"number"`
	EventID       string    `json:"event_id"`
	EventName     string    `json:"event_name"`
	MerchantID    string    `json:"merchant_id"`
	Buyer         Buyer     `json:"buyer"`
	Lines         []Line    `json:"lines"`
	Total         int64     `json:"total"`
	Method        string    `json:"method"`
	HoldExpires   time.Time `json:"hold_expires"`
	PlacedAt      time.Time `json:"placed_at"`
	IdempotencyID string    `json:"idempotency_id,omitempty"`
}

// OrderClosed is an order that ends without tickets: expired (its hold ran
// out unpaid) or canceled (by the buyer, an operator, or the event's
// cancellation). Type says which.
type OrderClosed struct {
	Type    string    `json:"type"`
	OrderID string    `json:"order_id"`
	Number  string    `json:"number"`
	EventID string    `json:"event_id"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
	Buyer   Buyer     `json:"buyer"`
}

// OrderPaid says the ticketing service took a payment for the order.
type OrderPaid struct {
	Type      string    `json:"type"`
	OrderID   string    `json:"order_id"`
	Number    string    `json:"number"`
	EventID   string    `json:"event_id"`
	PaymentID string    `json:"payment_id"`
	Amount    int64     `json:"amount"`
	Late      bool      `json:"late,omitempty"`
	At        time.Time `json:"at"`
}

// Ticket is one admission.
type Ticket struct {
	TicketID string `json:"ticket_id"`
	AreaID   string `json:"area_id"`
	AreaName string `json:"area_name"`
	// Code is what the ticket's QR code encodes.
	Code string `json:"code"`
}

// TicketsIssued says an order's tickets exist (the order is validated).
// The gate grants access; notify mails the e-tickets.
type TicketsIssued struct {
	Type      string    `json:"type"`
	OrderID   string    `json:"order_id"`
	Number    string    `json:"number"`
	EventID   string    `json:"event_id"`
	EventName string    `json:"event_name"`
	Buyer     Buyer     `json:"buyer"`
	Tickets   []Ticket  `json:"tickets"`
	Starts    time.Time `json:"starts"`
	Ends      time.Time `json:"ends"`
	TimeZone  string    `json:"time_zone"`
	At        time.Time `json:"at"`
}

// TicketsRevoked withdraws tickets (a refund, a cancellation). It is written
// before the refund that causes it, so access is revoked before money moves.
type TicketsRevoked struct {
	Type      string    `json:"type"`
	OrderID   string    `json:"order_id"`
	EventID   string    `json:"event_id"`
	TicketIDs []string  `json:"ticket_ids"`
	Reason    string    `json:"reason"`
	At        time.Time `json:"at"`
}

// RefundApproved asks the payment service to return money for an order.
type RefundApproved struct {
	Type      string    `json:"type"`
	RefundID  string    `json:"refund_id"`
	OrderID   string    `json:"order_id"`
	PaymentID string    `json:"payment_id,omitempty"`
	Amount    int64     `json:"amount"`
	TicketIDs []string  `json:"ticket_ids,omitempty"`
	Reason    string    `json:"reason"`
	Buyer     Buyer     `json:"buyer"`
	At        time.Time `json:"at"`
}

// OrderRefunded says the money of a refund was returned.
type OrderRefunded struct {
	Type     string    `json:"type"`
	RefundID string    `json:"refund_id"`
	OrderID  string    `json:"order_id"`
	Amount   int64     `json:"amount"`
	Partial  bool      `json:"partial"`
	Buyer    Buyer     `json:"buyer"`
	At       time.Time `json:"at"`
}

// LatePaymentRejected says a payment arrived after the order's hold expired
// and its tickets were gone: the payment service refunds it and the buyer
// is told.
type LatePaymentRejected struct {
	Type      string    `json:"type"`
	OrderID   string    `json:"order_id"`
	Number    string    `json:"number"`
	PaymentID string    `json:"payment_id"`
	Amount    int64     `json:"amount"`
	Buyer     Buyer     `json:"buyer"`
	At        time.Time `json:"at"`
}

// PaymentRequested says a payment intent waits for the buyer's money: at a
// cash counter by PayBy, or through the online provider's instructions.
type PaymentRequested struct {
	Type         string    `json:"type"`
	PaymentID    string    `json:"payment_id"`
	OrderID      string    `json:"order_id"`
	Number       string    `json:"number"`
	Amount       int64     `json:"amount"`
	Method       string    `json:"method"`
	PayBy        time.Time `json:"pay_by"`
	Instructions string    `json:"instructions,omitempty"`
	Buyer        Buyer     `json:"buyer"`
	// EventName names the order's event for the buyer.
	EventName string `json:"event_name,omitempty"`
	// VirtualAccount and QR are where an online payment is made: a
	// virtual account number to transfer to, or the string a QR code
	// carries for a payment app to scan.
	VirtualAccount string `json:"virtual_account,omitempty"`
	QR             string `json:"qr,omitempty"`
}

// PaymentResult is a payment that succeeded or failed (Type says which), or
// money returned (TypePaymentRefunded, with RefundID).
type PaymentResult struct {
	Type      string `json:"type"`
	PaymentID string `json:"payment_id"`
	OrderID   string `json:"order_id"`
	Amount    int64  `json:"amount"`
	Method    string `json:"method"`
	// ProviderEventID is the provider's id for what happened; the same id
	// twice is one event.
	ProviderEventID string    `json:"provider_event_id,omitempty"`
	RefundID        string    `json:"refund_id,omitempty"`
	Reason          string    `json:"reason,omitempty"`
	At              time.Time `json:"at"`
}

// Access is the gate's confirmation that an order's tickets were granted or
// revoked at the gates (TopicAccess).
type Access struct {
	Type      string    `json:"type"`
	OrderID   string    `json:"order_id"`
	EventID   string    `json:"event_id"`
	TicketIDs []string  `json:"ticket_ids"`
	At        time.Time `json:"at"`
	// Passes, on AccessGranted, carry each ticket's signed QR payload: the
	// code the e-ticket shows and the gates verify.
	Passes []Pass `json:"passes,omitempty"`
}

// Pass is a ticket's signed QR payload as the gate made it.
type Pass struct {
	TicketID string `json:"ticket_id"`
	QR       string `json:"qr"`
}

// StaffChanged says a staff member of an event was assigned (added or
// edited: TypeStaffAssigned) or removed (TypeStaffRemoved), on TopicStaff.
// The gate admits staff in their work window while their status is not
// "finished". Name and Email are the staff member's, by which a gate
// supervisor finds their pass.
type StaffChanged struct {
	Type       string    `json:"type"`
	EventID    string    `json:"event_id"`
	StaffID    string    `json:"staff_id"`
	Name       string    `json:"name,omitempty"`
	Email      string    `json:"email,omitempty"`
	WorkStarts time.Time `json:"work_starts"`
	WorkEnds   time.Time `json:"work_ends"`
	// Status is the staff member's: none, active, on_break or finished.
	Status string    `json:"status,omitempty"`
	At     time.Time `json:"at"`
}

// StaffAccess is the gate's answer to a StaffChanged (TopicStaffAccess):
// the staff pass granted, with the signed QR payload the gates verify
// (TypeStaffGranted), or revoked (TypeStaffRevoked).
type StaffAccess struct {
	Type       string    `json:"type"`
	EventID    string    `json:"event_id"`
	StaffID    string    `json:"staff_id"`
	QR         string    `json:"qr,omitempty"`
	WorkStarts time.Time `json:"work_starts,omitzero"`
	WorkEnds   time.Time `json:"work_ends,omitzero"`
	At         time.Time `json:"at"`
}

// CustomerRegistered says a customer signed up and must confirm their
// e-mail address by opening ConfirmURL before Expires (TopicCustomers).
// Notify mails the link.
type CustomerRegistered struct {
	Type       string    `json:"type"`
	UserID     string    `json:"user_id"`
	Name       string    `json:"name"`
	Email      string    `json:"email"`
	Lang       string    `json:"lang,omitempty"`
	ConfirmURL string    `json:"confirm_url"`
	Expires    time.Time `json:"expires"`
	At         time.Time `json:"at"`
}

// ErrUnknownType is returned by TypeOf for a message without a known type.
var ErrUnknownType = errors.New("messages: unknown message type")

// TypeOf reads the "type" field of a message.
func TypeOf(value []byte) (string, error) {
	var m struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(value, &m); err != nil {
		return "", fmt.Errorf("messages: decode: %w", err)
	}
	if m.Type == "" {
		return "", fmt.Errorf("%w: no type field", ErrUnknownType)
	}
	return m.Type, nil
}
