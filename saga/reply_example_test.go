package saga_test

import (
	"fmt"

	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/stream"
)

// A participant answers a command with Success or Failure: the reply goes
// to the command's reply topic, with its saga headers, so the orchestrator
// can tell which saga and step it answers.
func ExampleFailure() {
	cmd := &stream.Record{Topic: "payments", Key: []byte("P-1"), Headers: []stream.Header{
		{Key: saga.HeaderSagaID, Value: []byte("P-1")},
		{Key: saga.HeaderSagaName, Value: []byte("purchase")},
		{Key: saga.HeaderStep, Value: []byte("1")},
		{Key: saga.HeaderKind, Value: []byte(saga.KindCommand)},
		{Key: saga.HeaderReplyTo, Value: []byte("purchase.replies")},
	}}
	fmt.Println(saga.ID(cmd), saga.IsCompensation(cmd))
	reply := saga.Failure(cmd, "card declined")
	outcome, _ := reply.Header(saga.HeaderOutcome)
	reason, _ := reply.Header(saga.HeaderReason)
	fmt.Println(reply.Topic, saga.ID(reply), string(outcome), string(reason))
	// Output:
	// P-1 false
	// purchase.replies P-1 failure card declined
}
