package eventsource

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/stream"
)

// Headers of the records [Record] makes from events.
const (
	HeaderStream   = "arus-es-stream"
	HeaderVersion  = "arus-es-version"
	HeaderType     = "arus-es-type"
	HeaderPosition = "arus-es-position"
	HeaderMetadata = "arus-es-metadata"
)

// Record returns the stream record that publishes an appended event to
// topic: keyed by the stream id (so one stream's events stay in order in
// one partition), the event's data as its value, and its stream, version,
// type, position and metadata as headers.
func Record(topic string, e Event) *stream.Record {
	r := &stream.Record{
		Topic:     topic,
		Key:       []byte(e.StreamID),
		Value:     []byte(e.Data),
		Timestamp: e.Time,
		Headers: []stream.Header{
			{Key: HeaderStream, Value: []byte(e.StreamID)},
			{Key: HeaderVersion, Value: []byte(strconv.FormatInt(e.Version, 10))},
			{Key: HeaderType, Value: []byte(e.Type)},
			{Key: HeaderPosition, Value: []byte(strconv.FormatInt(e.Position, 10))},
		},
	}
	if len(e.Metadata) > 0 {
		r.Headers = append(r.Headers, stream.Header{Key: HeaderMetadata, Value: []byte(e.Metadata)})
	}
	return r
}

// PublishTx writes one outbox record per event (see [Record]) inside tx.
// Called in the transaction of [Store.AppendTx], the events and the
// records that publish them commit together or not at all.
func PublishTx(ctx context.Context, tx *sql.Tx, ob *outbox.Outbox, topic string, events []Event) error {
	recs := make([]*stream.Record, len(events))
	for i, e := range events {
		recs[i] = Record(topic, e)
	}
	if err := ob.Write(ctx, tx, recs...); err != nil {
		return fmt.Errorf("eventsource: publish to %s: %w", topic, err)
	}
	return nil
}

// AppendPublish appends events to a stream and writes the outbox records
// that publish them to topic, in one transaction: either both commit or
// neither does. ob must live in the store's database.
func (s *Store) AppendPublish(ctx context.Context, ob *outbox.Outbox, topic string, streamID string, expected int64, events ...Event) ([]Event, error) {
	var out []Event
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if out, err = s.AppendTx(ctx, tx, streamID, expected, events...); err != nil {
			return err
		}
		return PublishTx(ctx, tx, ob, topic, out)
	})
	if err != nil {
		return nil, err
	}
	s.wake()
	return out, nil
}
