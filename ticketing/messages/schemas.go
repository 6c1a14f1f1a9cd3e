package messages

import (
	"encoding/json"
	"fmt"
)

// topicSchema describes what a topic's values must hold: one of its
// message types, the id of what the message is about, and whole-rupiah
// amounts.
type topicSchema struct {
	types    []string
	required []string
}

var topicSchemas = map[string]topicSchema{
	TopicCreate:       {[]string{TypeCreateInventory}, []string{"event_id", "areas"}},
	TopicCreated:      {[]string{TypeInventoryCreated, TypeStatusUpdate}, []string{"event_id"}},
	TopicACLCreate:    {[]string{TypeCreateACLServer}, []string{"event_id", "areas"}},
	TopicACLPrepared:  {[]string{TypeACLServerPrepared}, []string{"event_id", "ok"}},
	TopicStatusUpdate: {[]string{TypeStatusUpdate}, []string{"event_id", "status"}},
	TopicOrders: {[]string{TypeOrderPlaced, TypeOrderExpired, TypeOrderCanceled, TypeOrderPaid, TypeTicketsIssued,
		TypeTicketsRevoked, TypeRefundApproved, TypeOrderRefunded, TypeLatePaymentRejected}, []string{"order_id"}},
	TopicPayments: {[]string{TypePaymentRequested, TypePaymentSucceeded, TypePaymentFailed, TypePaymentRefunded},
		[]string{"order_id", "payment_id"}},
	TopicAccess:      {[]string{TypeAccessGranted, TypeAccessRevoked}, []string{"order_id", "event_id"}},
	TopicStaff:       {[]string{TypeStaffAssigned, TypeStaffRemoved}, []string{"event_id", "staff_id"}},
	TopicStaffAccess: {[]string{TypeStaffGranted, TypeStaffRevoked}, []string{"event_id", "staff_id"}},
}

// Schemas returns the JSON Schema of each topic's values, for a schema
// registry (subject <topic>-value). Each says which message types the
// topic carries and which fields every one of them has; fields not named
// are free, so a message may grow new fields.
func Schemas() map[string][]byte {
	money := map[string]any{"type": "integer", "minimum": 0}
	out := map[string][]byte{}
	for topic, ts := range topicSchemas {
		props := map[string]any{
			"type":   map[string]any{"enum": ts.types},
			"amount": money,
			"total":  money,
		}
		for _, f := range ts.required {
			switch f {
			case "areas":
				props[f] = map[string]any{"type": "array", "minItems": 1, "items": map[string]any{
					"type":       "object",
					"required":   []string{"area_id", "capacity"},
					"properties": map[string]any{"area_id": map[string]any{"type": "string", "minLength": 1}, "capacity": map[string]any{"type": "integer", "minimum": 0}, "price": money},
				}}
			case "ok":
				props[f] = map[string]any{"type": "boolean"}
			default:
				props[f] = map[string]any{"type": "string", "minLength": 1}
			}
		}
		doc := map[string]any{
			"$schema":    "https://json-schema.org/draft/2020-12/schema",
			"title":      fmt.Sprintf("%s messages", topic),
			"type":       "object",
			"required":   append([]string{"type"}, ts.required...),
			"properties": props,
		}
		b, err := json.Marshal(doc)
		if err != nil {
			panic(fmt.Sprintf("messages: schema of %s: %v", topic, err)) // maps of plain values: cannot fail
		}
		out[topic] = b
	}
	// A topic without its own description still gets one: an object with
	// a type.
	for _, topic := range Topics {
		if _, ok := out[topic]; !ok {
			out[topic] = []byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","required":["type"],"properties":{"type":{"type":"string","minLength":1}}}`)
		}
	}
	return out
}
