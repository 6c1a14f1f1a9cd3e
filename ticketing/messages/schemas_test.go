package messages_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/arus-platform/arus/ticketing/messages"
)

// Every topic has a schema; the messages the services write match their
// topic's schema, and a message of another topic or without its id does
// not.
func TestSchemas(t *testing.T) {
	schemas := messages.Schemas()
	compile := func(topic string) *jsonschema.Schema {
		t.Helper()
		doc, err := jsonschema.UnmarshalJSON(bytesReader(schemas[topic]))
		if err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource(topic+".json", doc); err != nil {
			t.Fatal(err)
		}
		s, err := c.Compile(topic + ".json")
		if err != nil {
			t.Fatalf("compile %s: %v", topic, err)
		}
		return s
	}
	for _, topic := range messages.Topics {
		if _, ok := schemas[topic]; !ok {
			t.Errorf("topic %s has no schema", topic)
		}
	}
	now := time.Now()
	cases := []struct {
		topic string
		msg   any
		ok    bool
	}{
		{messages.TopicCreate, messages.CreateInventory{Type: messages.TypeCreateInventory, EventID: "e", Areas: []messages.Area{{AreaID: "a", Capacity: 10, Price: 5}}}, true},
		{messages.TopicCreate, messages.CreateInventory{Type: messages.TypeCreateInventory, EventID: "e"}, false},
		{messages.TopicACLPrepared, messages.ACLServerPrepared{Type: messages.TypeACLServerPrepared, EventID: "e", OK: true, Stub: true}, true},
		{messages.TopicStatusUpdate, messages.StatusUpdate{Type: messages.TypeStatusUpdate, EventID: "e", Status: "on_sale"}, true},
		{messages.TopicCreated, messages.StatusUpdate{Type: messages.TypeStatusUpdate, EventID: "e", Status: "on_sale"}, true},
		{messages.TopicOrders, messages.OrderPlaced{Type: messages.TypeOrderPlaced, OrderID: "o", Total: 100, PlacedAt: now}, true},
		{messages.TopicOrders, messages.OrderPaid{Type: messages.TypeOrderPaid, OrderID: "o", Amount: -1}, false},
		{messages.TopicOrders, messages.PaymentResult{Type: messages.TypePaymentSucceeded, OrderID: "o", PaymentID: "p"}, false},
		{messages.TopicPayments, messages.PaymentResult{Type: messages.TypePaymentSucceeded, OrderID: "o", PaymentID: "p", Amount: 5}, true},
		{messages.TopicPayments, messages.PaymentResult{Type: messages.TypePaymentSucceeded, PaymentID: "p"}, false},
		{messages.TopicAccess, messages.Access{Type: messages.TypeAccessGranted, OrderID: "o", EventID: "e"}, true},
	}
	for _, c := range cases {
		b, err := json.Marshal(c.msg)
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(bytesReader(b))
		if err != nil {
			t.Fatal(err)
		}
		err = compile(c.topic).Validate(v)
		if got := err == nil; got != c.ok {
			t.Errorf("%s on %s: valid %v (%v), want %v", b, c.topic, got, err, c.ok)
		}
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
