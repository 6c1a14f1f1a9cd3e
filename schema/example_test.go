package schema_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/arus-platform/arus/schema"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// printProducer stands for a broker: it prints what it would store.
type printProducer struct{}

func (printProducer) Produce(_ context.Context, records ...*stream.Record) error {
	for _, r := range records {
		id, _ := r.Header(schema.HeaderSchemaID)
		fmt.Printf("produced to %s with schema id %s: %s\n", r.Topic, id, r.Value)
	}
	return nil
}

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "schema-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, store.Config{Dir: dir, Component: "schema"})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	reg, err := schema.Open(ctx, db, schema.Config{})
	if err != nil {
		log.Fatal(err)
	}

	v, _, err := reg.Register(ctx, "orders-value", []byte(`{
		"type": "object",
		"properties": {"id": {"type": "string"}, "total": {"type": "number", "minimum": 0}},
		"required": ["id", "total"]
	}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("registered %s version %d with id %d\n", v.Subject, v.Version, v.ID)

	// The subject's mode is BACKWARD: new readers must read old data.
	_, _, err = reg.Register(ctx, "orders-value", []byte(`{
		"type": "object",
		"properties": {"id": {"type": "string"}, "total": {"type": "string"}},
		"required": ["id", "total"]
	}`))
	fmt.Println(err)

	validator, err := schema.NewValidator(reg, schema.ValidatorConfig{})
	if err != nil {
		log.Fatal(err)
	}
	p, err := schema.NewProducer(printProducer{}, validator, schema.ProducerConfig{})
	if err != nil {
		log.Fatal(err)
	}
	if err := p.Produce(ctx, &stream.Record{Topic: "orders", Value: []byte(`{"id":"o1","total":12.5}`)}); err != nil {
		log.Fatal(err)
	}
	err = p.Produce(ctx, &stream.Record{Topic: "orders", Value: []byte(`{"id":"o2","total":-1}`)})
	fmt.Println(err)
	// Output:
	// registered orders-value version 1 with id 1
	// schema for orders-value is incompatible under BACKWARD: /total: type changed from number to string (breaks BACKWARD against version 1: new readers cannot read old data)
	// produced to orders with schema id 1: {"id":"o1","total":12.5}
	// produce: 1 record(s) not stored (index [0]): record 0 (topic orders): value does not match schema orders-value version 1 (id 1): /total: must be >= 0
}

func ExampleCompare() {
	old := []byte(`{"type": "object", "properties": {"status": {"enum": ["new", "paid"]}}, "additionalProperties": false}`)
	next := []byte(`{"type": "object", "properties": {"status": {"enum": ["new", "paid", "refunded"]}, "note": {"type": "string"}}, "additionalProperties": false}`)
	problems, err := schema.Compare(old, next, schema.ModeFull)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range problems {
		fmt.Println(p)
	}
	// Output:
	// /note: property added, but the old schema allows no other properties (breaks FORWARD: old readers cannot read new data)
	// /status: enum value "refunded" added (breaks FORWARD: old readers cannot read new data)
}
