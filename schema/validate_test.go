package schema_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/schema"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// sqliteRegistry opens a registry on SQLite in a temporary directory.
func sqliteRegistry(t *testing.T, cfg schema.Config) *schema.Registry {
	t.Helper()
	return openRegistry(t, store.Config{Dir: t.TempDir()}, cfg)
}

const orderSchema = `{
	"type": "object",
	"properties": {
		"id": {"type": "string", "minLength": 1},
		"total": {"type": "number"},
		"status": {"enum": ["new", "paid"]},
		"created": {"type": "string", "format": "date-time"},
		"note": {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 5}]},
		"items": {"type": "array", "items": {
			"type": "object",
			"properties": {"sku": {"type": "string"}, "price": {"type": "number", "minimum": 0}},
			"required": ["sku", "price"]
		}}
	},
	"required": ["id", "total"],
	"additionalProperties": false
}`

func TestValidate(t *testing.T) {
	r := sqliteRegistry(t, schema.Config{})
	ver := mustRegister(t, r, "orders-value", orderSchema)
	v, err := schema.NewValidator(r, schema.ValidatorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		value string
		want  []string // "path: message", in order
	}{
		{"valid", `{"id":"o1","total":12.5,"status":"paid","created":"2025-01-31T15:04:05Z","note":null,"items":[{"sku":"a","price":0}]}`, nil},
		{"item price", `{"id":"o1","total":1,"items":[{"sku":"a","price":1},{"sku":"b","price":2},{"sku":"c","price":-1}]}`,
			[]string{"/items/2/price: must be >= 0"}},
		{"missing", `{"total":1}`, []string{"/id: is required"}},
		{"missing in item", `{"id":"o1","total":1,"items":[{"price":1}]}`, []string{"/items/0/sku: is required"}},
		{"unknown", `{"id":"o1","total":1,"extra":true}`, []string{"/extra: is not allowed"}},
		{"type", `{"id":"o1","total":"12"}`, []string{"/total: must be number, not string"}},
		{"enum", `{"id":"o1","total":1,"status":"lost"}`, []string{`/status: must be one of "new", "paid"`}},
		{"format", `{"id":"o1","total":1,"created":"yesterday"}`, []string{"/created: must be a valid date-time (less than 20 characters long)"}},
		{"min length", `{"id":"","total":1}`, []string{"/id: must be at least 1 character long"}},
		{"anyOf", `{"id":"o1","total":1,"note":"too long"}`,
			[]string{"/note: must match one of the anyOf alternatives (must be null, not string; must be at most 5 characters long)"}},
		{"several", `{"total":-1,"extra":1}`, []string{"/extra: is not allowed", "/id: is required"}},
		{"root type", `[1]`, []string{"(root): must be object, not array"}},
		{"not JSON", `{"id":`, []string{"(root): is not JSON: it ends too early"}},
		{"bad JSON", `{"id" 1}`, []string{"(root): is not JSON: invalid character '1' after object key (at byte 7)"}},
		{"trailing data", `{"id":"o1","total":1} {}`, []string{"(root): is not JSON: invalid character after top-level value"}},
		{"empty", ``, []string{"(root): is empty; a JSON document is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			used, err := v.Validate(context.Background(), "orders-value", schema.Latest, []byte(tt.value))
			if used.ID != ver.ID {
				t.Errorf("used id %d, want %d", used.ID, ver.ID)
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			var ve *schema.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want a ValidationError", err)
			}
			if !errors.Is(err, schema.ErrInvalidValue) || !errors.Is(err, stream.ErrInvalid) {
				t.Errorf("%v does not unwrap to ErrInvalidValue and stream.ErrInvalid", err)
			}
			var got []string
			for _, fe := range ve.Errors {
				got = append(got, fe.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// countingSource counts the lookups a validator makes.
type countingSource struct {
	src schema.Source
	mu  sync.Mutex
	n   int
}

func (c *countingSource) Version(ctx context.Context, subject string, version int) (schema.Version, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.src.Version(ctx, subject, version)
}

func (c *countingSource) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func TestValidatorCache(t *testing.T) {
	ctx := context.Background()
	r := sqliteRegistry(t, schema.Config{DefaultMode: schema.ModeNone})
	one := mustRegister(t, r, "s", `{"type":"integer"}`)
	src := &countingSource{src: r}
	now := time.Unix(1000, 0)
	reg := prometheus.NewRegistry()
	m, _ := schema.NewMetrics(reg)
	v, err := schema.NewValidator(src, schema.ValidatorConfig{LatestTTL: time.Minute, Now: func() time.Time { return now }, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if got, err := v.Validate(ctx, "s", schema.Latest, []byte(`1`)); err != nil || got.ID != one.ID {
			t.Fatalf("validate: got %+v, %v", got, err)
		}
	}
	if got := src.calls(); got != 1 {
		t.Errorf("lookups for three values: got %d, want 1", got)
	}

	two := mustRegister(t, r, "s", `{"type":"string"}`)
	if _, err := v.Validate(ctx, "s", schema.Latest, []byte(`1`)); err != nil {
		t.Errorf("within the TTL the old latest is used: %v", err)
	}
	now = now.Add(time.Minute)
	got, err := v.Validate(ctx, "s", schema.Latest, []byte(`1`))
	if got.ID != two.ID || !errors.Is(err, schema.ErrInvalidValue) {
		t.Errorf("after the TTL: got %+v, %v, want version 2 refusing the value", got, err)
	}

	// A pinned version is looked up once per TTL too.
	before := src.calls()
	for range 2 {
		if got, err := v.Validate(ctx, "s", 1, []byte(`1`)); err != nil || got.ID != one.ID {
			t.Errorf("pinned: got %+v, %v", got, err)
		}
	}
	if got := src.calls() - before; got != 1 {
		t.Errorf("lookups of a pinned version: got %d, want 1", got)
	}

	// A subject without versions is remembered as such for the TTL.
	before = src.calls()
	for range 3 {
		if _, err := v.Validate(ctx, "none", schema.Latest, []byte(`1`)); !errors.Is(err, schema.ErrNotFound) {
			t.Fatalf("unknown subject: got %v, want ErrNotFound", err)
		}
	}
	if got := src.calls() - before; got != 1 {
		t.Errorf("lookups of an unknown subject: got %d, want 1", got)
	}

	if got := counter(t, reg, "arus_schema_validations_total", map[string]string{"subject": "s"}); got != 7 {
		t.Errorf("validations: got %v, want 7", got)
	}
	if got := counter(t, reg, "arus_schema_validation_failures_total", map[string]string{"subject": "s"}); got != 1 {
		t.Errorf("failures: got %v, want 1", got)
	}
}

// recorder is a stream.Producer that keeps what it is given.
type recorder struct{ records []*stream.Record }

func (p *recorder) Produce(_ context.Context, records ...*stream.Record) error {
	p.records = append(p.records, records...)
	return nil
}

func TestProducer(t *testing.T) {
	ctx := context.Background()
	r := sqliteRegistry(t, schema.Config{DefaultMode: schema.ModeNone})
	orders1 := mustRegister(t, r, "orders-value", `{"type":"object","required":["id"]}`)
	orders2 := mustRegister(t, r, "orders-value", `{"type":"object","required":["id","total"]}`)
	custom := mustRegister(t, r, "payments", `{"type":"string"}`)
	v, err := schema.NewValidator(r, schema.ValidatorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	subjects := func(topic string) string {
		if topic == "payments" {
			return "payments"
		}
		return schema.TopicValue(topic)
	}
	tests := []struct {
		name    string
		cfg     schema.ProducerConfig
		records []*stream.Record
		wantIDs []int64 // header per record; 0 for none
		wantErr error
	}{
		{"latest", schema.ProducerConfig{},
			[]*stream.Record{{Topic: "orders", Value: []byte(`{"id":"a","total":1}`)}, {Topic: "orders", Value: []byte(`{"id":"b","total":2}`)}},
			[]int64{orders2.ID, orders2.ID}, nil},
		{"one bad value fails all", schema.ProducerConfig{},
			[]*stream.Record{{Topic: "orders", Value: []byte(`{"id":"a","total":1}`)}, {Topic: "orders", Value: []byte(`{"id":"b"}`)}},
			nil, schema.ErrInvalidValue},
		{"pinned", schema.ProducerConfig{Versions: map[string]int{"orders-value": 1}},
			[]*stream.Record{{Topic: "orders", Value: []byte(`{"id":"a"}`)}},
			[]int64{orders1.ID}, nil},
		{"pinned to a missing version", schema.ProducerConfig{Versions: map[string]int{"orders-value": 9}},
			[]*stream.Record{{Topic: "orders", Value: []byte(`{"id":"a"}`)}},
			nil, stream.ErrInvalid},
		{"topic without schema", schema.ProducerConfig{},
			[]*stream.Record{{Topic: "logs", Value: []byte(`anything`)}, {Topic: "orders", Value: []byte(`{"id":"a","total":1}`)}},
			[]int64{0, orders2.ID}, nil},
		{"schema required", schema.ProducerConfig{Require: true},
			[]*stream.Record{{Topic: "logs", Value: []byte(`{}`)}},
			nil, schema.ErrNotFound},
		{"subject naming", schema.ProducerConfig{Subject: subjects},
			[]*stream.Record{{Topic: "payments", Value: []byte(`"p1"`)}},
			[]int64{custom.ID}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &recorder{}
			p, err := schema.NewProducer(next, v, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Produce(ctx, tt.records...)
			if tt.wantErr != nil {
				var pe *stream.ProduceError
				if !errors.As(err, &pe) || len(pe.Failed) != len(tt.records) || !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %v, want a ProduceError of every record wrapping %v", err, tt.wantErr)
				}
				if len(next.records) != 0 {
					t.Errorf("%d records produced, want none", len(next.records))
				}
				return
			}
			if err != nil {
				t.Fatalf("produce: %v", err)
			}
			if len(next.records) != len(tt.records) {
				t.Fatalf("produced %d records, want %d", len(next.records), len(tt.records))
			}
			for i, rec := range next.records {
				h, ok := rec.Header(schema.HeaderSchemaID)
				var want string
				if tt.wantIDs[i] != 0 {
					want = strconv.FormatInt(tt.wantIDs[i], 10)
				}
				if string(h) != want || ok != (want != "") {
					t.Errorf("record %d: header %q (present %v), want %q", i, h, ok, want)
				}
			}
		})
	}
}

func TestProducerMessage(t *testing.T) {
	r := sqliteRegistry(t, schema.Config{})
	mustRegister(t, r, "orders-value", orderSchema)
	v, _ := schema.NewValidator(r, schema.ValidatorConfig{})
	p, _ := schema.NewProducer(&recorder{}, v, schema.ProducerConfig{})
	err := p.Produce(context.Background(),
		&stream.Record{Topic: "orders", Value: []byte(`{"id":"o1","total":1}`)},
		&stream.Record{Topic: "orders", Value: []byte(`{"id":"o2","total":1,"items":[{"sku":"a","price":1},{"sku":"b","price":2},{"sku":"c","price":-1}]}`)})
	want := "produce: 2 record(s) not stored (index [0 1]): record 1 (topic orders): value does not match schema orders-value version 1 (id 1): /items/2/price: must be >= 0"
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

// BenchmarkValidate measures validating one order against a cached schema:
// the cost a Producer adds per record.
func BenchmarkValidate(b *testing.B) {
	r := openRegistry(b, store.Config{Dir: b.TempDir()}, schema.Config{})
	if _, _, err := r.Register(context.Background(), "orders-value", []byte(orderSchema)); err != nil {
		b.Fatal(err)
	}
	v, _ := schema.NewValidator(r, schema.ValidatorConfig{})
	value := []byte(`{"id":"o1","total":12.5,"status":"paid","created":"2025-01-31T15:04:05Z","note":null,"items":[{"sku":"a","price":1},{"sku":"b","price":2}]}`)
	ctx := context.Background()
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Validate(ctx, "orders-value", schema.Latest, value); err != nil {
			b.Fatal(err)
		}
	}
}
