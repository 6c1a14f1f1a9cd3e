package relay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/arus-platform/arus/internal/relay/sink"
)

// Decoded is a stored record (an Envelope) decoded: its operation and its
// data with numbers as json.Number, or why it cannot be delivered. Data
// is shared by every route that reads the record and must not be
// modified.
type Decoded struct {
	Op   sink.Op // sink.Upsert or sink.Delete
	Data any
	Err  error
}

// DecodeEnvelope decodes a record's value as its routes read it.
func DecodeEnvelope(value []byte) Decoded {
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	var env struct {
		Op   string `json:"op"`
		Data any    `json:"data"`
	}
	if err := dec.Decode(&env); err != nil {
		return Decoded{Err: fmt.Errorf("relay: record is not an envelope: %w", err)}
	}
	op := sink.Upsert
	switch env.Op {
	case "upsert", "":
	case "delete":
		op = sink.Delete
	default:
		return Decoded{Err: fmt.Errorf("relay: record has unknown op %q", env.Op)}
	}
	if env.Data == nil {
		return Decoded{Err: errors.New("relay: record has no data")}
	}
	return Decoded{Op: op, Data: env.Data}
}

// Envelopes keeps recently ingested or decoded records' envelopes,
// decoded, by their exact bytes, so that a record is decoded once rather
// than once per route: every route of a dataset reads the same records at
// about the same time. Ingest puts the records it has just decoded;
// delivery looks records up and decodes those it does not find. The
// oldest are forgotten once the values kept pass envelopeBudget bytes, so
// a route far behind the others decodes for itself. Keyed by content, an
// entry can never stand for another record. Safe for concurrent use.
type Envelopes struct {
	mu    sync.Mutex
	m     map[string]Decoded
	order []string // keys, oldest first from head
	head  int
	bytes int
}

// envelopeBudget bounds the bytes of the values kept (their decoded form
// takes a few times more); envelopeMaxValue is the largest value kept.
const (
	envelopeBudget   = 4 << 20
	envelopeMaxValue = 4 << 10
)

// NewEnvelopes returns an empty cache.
func NewEnvelopes() *Envelopes { return &Envelopes{m: map[string]Decoded{}} }

// Decode returns the decoded envelope of each value, decoding (outside
// the lock) those not kept and keeping them.
func (c *Envelopes) Decode(values [][]byte) []Decoded {
	out := make([]Decoded, len(values))
	var miss []int
	c.mu.Lock()
	for i, v := range values {
		d, ok := c.m[string(v)]
		if ok {
			out[i] = d
		} else {
			miss = append(miss, i)
		}
	}
	c.mu.Unlock()
	if len(miss) == 0 {
		return out
	}
	for _, i := range miss {
		out[i] = DecodeEnvelope(values[i])
	}
	c.mu.Lock()
	for _, i := range miss {
		c.put(string(values[i]), out[i])
	}
	c.mu.Unlock()
	return out
}

// Put keeps the decoded form of value.
func (c *Envelopes) Put(value []byte, d Decoded) {
	if len(value) > envelopeMaxValue {
		return
	}
	c.mu.Lock()
	c.put(string(value), d)
	c.mu.Unlock()
}

func (c *Envelopes) put(key string, d Decoded) {
	if len(key) > envelopeMaxValue {
		return
	}
	if _, ok := c.m[key]; ok {
		return
	}
	c.m[key] = d
	c.order = append(c.order, key)
	c.bytes += len(key)
	for c.bytes > envelopeBudget {
		old := c.order[c.head]
		c.order[c.head] = ""
		c.head++
		delete(c.m, old)
		c.bytes -= len(old)
	}
	if c.head > 1024 && c.head > len(c.order)/2 {
		n := copy(c.order, c.order[c.head:])
		clear(c.order[n:])
		c.order = c.order[:n]
		c.head = 0
	}
}

// Len returns how many envelopes are kept.
func (c *Envelopes) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
