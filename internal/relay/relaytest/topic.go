package relaytest

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/arus-platform/arus/internal/client"
)

// Topic is the dataset's topic as stored: what the relay must deliver,
// including records stored whose 202 never reached the client.
type Topic struct {
	// Records in partition and offset order.
	Records []Record
	at      map[position]*Record
}

// Record is a record of the dataset's topic.
type Record struct {
	ID        string
	Partition int32
	Offset    int64
	Delete    bool
	Car       Car // only ID for a delete
}

type position struct {
	partition int32
	offset    int64
}

// ReadTopic reads the whole of the dataset's topic (relay.cars) with key
// (scopes topics.read and records.read).
func ReadTopic(ctx context.Context, t testing.TB, api API, key string) *Topic {
	t.Helper()
	c, err := client.New(api.URL, key)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.DescribeTopic(ctx, "relay."+Dataset)
	if err != nil {
		t.Fatalf("relaytest: describe the dataset's topic: %v", err)
	}
	tp := &Topic{at: map[position]*Record{}}
	for _, po := range info.Offsets {
		for off := po.Start; off < po.End; {
			recs, err := c.Read(ctx, info.Name, po.Partition, off, 1000)
			if err != nil || len(recs) == 0 {
				t.Fatalf("relaytest: read %s/%d at %d: %v", info.Name, po.Partition, off, err)
			}
			for _, r := range recs {
				var env struct {
					Op   string `json:"op"`
					Data Car    `json:"data"`
				}
				dec := json.NewDecoder(bytes.NewReader(r.Value))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&env); err != nil {
					t.Fatalf("relaytest: record %s/%d@%d is not a car: %s: %v", info.Name, r.Partition, r.Offset, r.Value, err)
				}
				tp.Records = append(tp.Records, Record{ID: r.ID(), Partition: r.Partition, Offset: r.Offset, Delete: env.Op == "delete", Car: env.Data})
			}
			off = recs[len(recs)-1].Offset + 1
		}
	}
	for i := range tp.Records {
		r := &tp.Records[i]
		tp.at[position{r.Partition, r.Offset}] = r
	}
	return tp
}

// State applies the topic's records in order. The changes of one id all
// sit in one partition (the id is the key), so the order across
// partitions does not matter. A record stored twice (the same id, as a
// retried request whose first answer was lost stores it again) is one
// upsert of the insert-only route: a client sent it once.
func (tp *Topic) State() *State {
	st := &State{Final: map[int]Car{}}
	seen := map[string]bool{}
	for _, r := range tp.Records {
		if r.Delete {
			delete(st.Final, r.Car.ID)
			continue
		}
		st.Final[r.Car.ID] = r.Car
		if !seen[r.ID] {
			seen[r.ID] = true
			st.Upserts = append(st.Upserts, r.Car)
		}
	}
	return st
}

// IDs returns how many times each record id is stored.
func (tp *Topic) IDs() map[string]int {
	out := map[string]int{}
	for _, r := range tp.Records {
		out[r.ID]++
	}
	return out
}
