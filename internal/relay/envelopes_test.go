package relay

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/arus-platform/arus/internal/relay/sink"
)

func TestEnvelopesDecodeAsDecodeEnvelope(t *testing.T) {
	c := NewEnvelopes()
	values := [][]byte{
		[]byte(`{"op":"upsert","data":{"id":1,"name":"a"}}`),
		[]byte(`{"op":"delete","data":{"id":2}}`),
		[]byte(`{"op":"upsert","data":{"id":1,"name":"a"}}`), // the same value again
		[]byte(`not json`),
		[]byte(`{"op":"merge","data":{}}`),
		[]byte(`{"op":"upsert"}`),
	}
	for round := range 2 { // decoded, then kept
		got := c.Decode(values)
		for i, v := range values {
			want := DecodeEnvelope(v)
			if fmt.Sprint(got[i].Err) != fmt.Sprint(want.Err) || got[i].Op != want.Op || !reflect.DeepEqual(got[i].Data, want.Data) {
				t.Errorf("round %d: value %s: got %+v, want %+v", round, v, got[i], want)
			}
		}
	}
	if got := DecodeEnvelope(values[1]); got.Op != sink.Delete {
		t.Errorf("delete decoded as %v", got.Op)
	}
	if n := c.Len(); n != 5 {
		t.Errorf("kept %d envelopes, want 5 (the repeated value once)", n)
	}
}

func TestEnvelopesForgetTheOldestBeyondTheBudget(t *testing.T) {
	c := NewEnvelopes()
	n := 0
	for size := 0; size <= 2*envelopeBudget; n++ {
		v := fmt.Appendf(nil, `{"op":"upsert","data":{"id":%d}}`, n)
		size += len(v)
		c.Put(v, Decoded{Op: sink.Upsert, Data: map[string]any{}})
	}
	c.Put(make([]byte, envelopeMaxValue+1), Decoded{})
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bytes > envelopeBudget || len(c.m) >= n || len(c.m) != len(c.order)-c.head {
		t.Fatalf("after %d puts: %d bytes in %d entries (order %d from %d), budget %d", n, c.bytes, len(c.m), len(c.order), c.head, envelopeBudget)
	}
	if _, ok := c.m[fmt.Sprintf(`{"op":"upsert","data":{"id":%d}}`, n-1)]; !ok {
		t.Error("the newest envelope was forgotten")
	}
	if _, ok := c.m[`{"op":"upsert","data":{"id":0}}`]; ok {
		t.Error("the oldest envelope is still kept")
	}
}
