package stream

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestStampIDs(t *testing.T) {
	records := []*Record{
		{Topic: "t"},
		{Topic: "t", Headers: []Header{{Key: "a", Value: []byte("1")}}},
		{Topic: "t", Headers: []Header{{Key: HeaderID, Value: []byte("mine")}}},
		nil,
	}
	for range 1000 {
		records = append(records, &Record{Topic: "t"})
	}
	stampIDs(records)

	if got := records[2].ID(); got != "mine" {
		t.Errorf("a set id became %q, want mine", got)
	}
	if got := len(records[1].Headers); got != 2 || records[1].Headers[0].Key != "a" {
		t.Errorf("headers of a record with one header: got %v, want a then %s", records[1].Headers, HeaderID)
	}
	prev := ""
	seen := make(map[string]bool)
	for i, r := range records {
		if i == 2 || r == nil {
			continue
		}
		id := r.ID()
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 7 || u.String() != id {
			t.Fatalf("record %d: id %q is not a canonical UUIDv7 (%v)", i, id, err)
		}
		if seen[id] {
			t.Fatalf("record %d: id %q repeats", i, id)
		}
		seen[id] = true
		if id <= prev {
			t.Errorf("record %d: id %q not after %q; ids must be ordered by creation", i, id, prev)
		}
		prev = id
	}
	// A producer appending a header to one record must not touch another's.
	records[0].Headers = append(records[0].Headers, Header{Key: "x"})
	if records[4].Headers[0].Key != HeaderID {
		t.Errorf("appending to one record's headers changed another's: %v", records[4].Headers)
	}
}

func TestIDsShareOneClock(t *testing.T) {
	before := time.Now().Add(-time.Millisecond)
	prev := ""
	for i := range 3000 {
		var id string
		if i%2 == 0 {
			id = NewID()
		} else {
			r := &Record{Topic: "t"}
			stampIDs([]*Record{r})
			id = r.ID()
		}
		if id <= prev {
			t.Fatalf("id %d %q not after %q", i, id, prev)
		}
		prev = id
	}
	u := uuid.MustParse(prev)
	sec, nsec := u.Time().UnixTime()
	if at := time.Unix(sec, nsec); at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("id %s holds time %v, want about %v", prev, at, before)
	}
}
