package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"time"
	"unicode/utf8"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/stream"
)

// This file holds the JSON forms of the API's requests and responses. The
// client in internal/client uses the same types.

// Encodings of record keys, values and header values.
const (
	// EncodingText: key, value and header values are JSON strings taken as
	// UTF-8 bytes. The default.
	EncodingText = "text"
	// EncodingBase64: key, value and header values are standard base64, for
	// binary data.
	EncodingBase64 = "base64"
)

// Header is one record header. Header keys need not be unique.
type Header struct {
	Key string `json:"key"`
	// Value is null for a header without a value (Kafka's null header
	// value), "" for an empty one.
	Value *string `json:"value"`
}

// Headers are a record's headers. In a request they may be a list,
// [{"key":"k","value":"v"}], or an object, {"k":"v"}; responses use the list.
type Headers []Header

// UnmarshalJSON accepts both forms; the object form keeps its order.
func (h *Headers) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		var list []Header
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&list); err != nil {
			return err
		}
		*h = list
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return err
	}
	var list []Header
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		var v string
		if err := dec.Decode(&v); err != nil {
			return err
		}
		list = append(list, Header{Key: tok.(string), Value: &v})
	}
	*h = list
	return nil
}

func (Headers) checkJSON(v any, path string) []invalid.Field {
	switch v := v.(type) {
	case map[string]any:
		var errs []invalid.Field
		for _, k := range sortedKeys(v) {
			if _, ok := v[k].(string); !ok {
				errs = append(errs, kindError(join(path, k), "a string", v[k])...)
			}
		}
		return errs
	case []any:
		var errs []invalid.Field
		for i, e := range v {
			p := fmt.Sprintf("%s[%d]", path, i)
			errs = append(errs, checkValue(e, headerType, p)...)
			if obj, ok := e.(map[string]any); ok {
				if _, ok := obj["key"]; !ok {
					errs = append(errs, invalid.Field{Name: join(p, "key"), Message: "missing; every header needs a key"})
				}
			}
		}
		return errs
	}
	return kindError(path, `a list [{"key":..., "value":...}] or an object {"key": "value"}`, v)
}

var headerType = reflect.TypeFor[Header]()

// ProduceRequest is the body of POST /api/v1/topics/{topic}/records.
type ProduceRequest struct {
	Records []ProduceRecord `json:"records"`
}

// ProduceRecord is one record to produce. Value may be a JSON string (its
// bytes are the value) or any other JSON value (its JSON text is the
// value). With Encoding "base64", Key, a string Value and header values
// are base64 of binary data.
type ProduceRecord struct {
	Key       *string         `json:"key,omitempty"`
	Value     json.RawMessage `json:"value,omitempty"`
	Headers   Headers         `json:"headers,omitempty"`
	Timestamp string          `json:"timestamp,omitempty"`
	Encoding  string          `json:"encoding,omitempty"`
}

// ProduceResponse answers a produce: where each record was stored, in the
// order of the request.
type ProduceResponse struct {
	Records []Produced `json:"records"`
}

// Produced is the position and id of one stored record.
type Produced struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	ID        string `json:"id"`
}

// Record is a stored record as the API returns it. When the key, the value
// or a header value is not valid UTF-8 (or base64 was asked for), all of
// them are base64 and Encoding says so.
type Record struct {
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Timestamp time.Time `json:"timestamp"`
	// Key is null for a record without a key, "" for an empty key.
	Key *string `json:"key"`
	// Value is null for a tombstone (Kafka's null value), "" for an
	// empty value.
	Value    *string `json:"value"`
	Headers  Headers `json:"headers"`
	Encoding string  `json:"encoding,omitempty"`
}

// NewRecord returns the JSON form of r.
func NewRecord(r *stream.Record, forceBase64 bool) Record {
	b64 := forceBase64 || !utf8.Valid(r.Key) || !utf8.Valid(r.Value)
	for _, h := range r.Headers {
		b64 = b64 || !utf8.Valid(h.Value)
	}
	enc := func(b []byte) *string {
		if b == nil {
			return nil
		}
		s := string(b)
		if b64 {
			s = base64.StdEncoding.EncodeToString(b)
		}
		return &s
	}
	out := Record{
		Topic:     r.Topic,
		Partition: r.Partition,
		Offset:    r.Offset,
		Timestamp: r.Timestamp.UTC(),
		Key:       enc(r.Key),
		Value:     enc(r.Value),
		Headers:   make(Headers, len(r.Headers)),
	}
	for i, h := range r.Headers {
		out.Headers[i] = Header{Key: h.Key, Value: enc(h.Value)}
	}
	if b64 {
		out.Encoding = EncodingBase64
	}
	return out
}

// Stream returns the record r describes.
func (r Record) Stream() (*stream.Record, error) {
	dec := func(s *string) ([]byte, error) {
		switch {
		case s == nil:
			return nil, nil
		case r.Encoding == EncodingBase64:
			return base64.StdEncoding.AppendDecode([]byte{}, []byte(*s))
		}
		return []byte(*s), nil
	}
	out := &stream.Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp}
	var err error
	if out.Key, err = dec(r.Key); err != nil {
		return nil, fmt.Errorf("record %s/%d/%d: key: %w", r.Topic, r.Partition, r.Offset, err)
	}
	if out.Value, err = dec(r.Value); err != nil {
		return nil, fmt.Errorf("record %s/%d/%d: value: %w", r.Topic, r.Partition, r.Offset, err)
	}
	for _, h := range r.Headers {
		v, err := dec(h.Value)
		if err != nil {
			return nil, fmt.Errorf("record %s/%d/%d: header %q: %w", r.Topic, r.Partition, r.Offset, h.Key, err)
		}
		out.Headers = append(out.Headers, stream.Header{Key: h.Key, Value: v})
	}
	return out, nil
}

// RecordsPage answers a read by position.
type RecordsPage struct {
	Records []Record `json:"records"`
	// NextOffset is the offset to read from next.
	NextOffset int64 `json:"next_offset"`
}

// PartitionOffset answers GET .../partitions/{partition}/offset?time=.
type PartitionOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// CreateTopicRequest is the body of POST /api/v1/topics.
type CreateTopicRequest struct {
	Name string `json:"name"`
	// Partitions defaults to the server's default partition count.
	Partitions     *int32 `json:"partitions,omitempty"`
	RetentionMS    int64  `json:"retention_ms,omitempty"`
	RetentionBytes int64  `json:"retention_bytes,omitempty"`
}

// Topic describes a topic: its settings, record count and, per partition,
// the start and end offsets.
type Topic struct {
	Name           string             `json:"name"`
	Partitions     int32              `json:"partitions"`
	RetentionMS    int64              `json:"retention_ms"`
	RetentionBytes int64              `json:"retention_bytes"`
	Records        int64              `json:"records"`
	Offsets        []PartitionOffsets `json:"offsets"`
}

// PartitionOffsets are the bounds of one partition.
type PartitionOffsets struct {
	Partition int32 `json:"partition"`
	Start     int64 `json:"start"`
	End       int64 `json:"end"`
}

// TopicList answers GET /api/v1/topics.
type TopicList struct {
	Topics []Topic `json:"topics"`
}

// NewTopic returns the JSON form of t.
func NewTopic(t stream.TopicInfo) Topic {
	out := Topic{
		Name:           t.Name,
		Partitions:     t.Partitions,
		RetentionMS:    t.RetentionTime.Milliseconds(),
		RetentionBytes: t.RetentionBytes,
		Records:        t.Records(),
		Offsets:        make([]PartitionOffsets, len(t.Offsets)),
	}
	for i, o := range t.Offsets {
		out.Offsets[i] = PartitionOffsets(o)
	}
	return out
}

// Stream returns the topic t describes.
func (t Topic) Stream() stream.TopicInfo {
	out := stream.TopicInfo{Topic: stream.Topic{
		Name:           t.Name,
		Partitions:     t.Partitions,
		RetentionTime:  time.Duration(t.RetentionMS) * time.Millisecond,
		RetentionBytes: t.RetentionBytes,
	}}
	for _, o := range t.Offsets {
		out.Offsets = append(out.Offsets, stream.PartitionOffsets(o))
	}
	return out
}

// Group describes a consumer group: its live members and, per partition it
// has an offset for, the committed offset and the lag.
type Group struct {
	Group   string        `json:"group"`
	Members []Member      `json:"members"`
	Offsets []GroupOffset `json:"offsets"`
	// Lag is the total over all partitions.
	Lag int64 `json:"lag"`
}

// Member is a live member of a group and the partitions it owns. On Kafka
// ID is the coordinator's member id, ClientID the client's own name and
// Host where it connects from; the other backends leave the last two out.
type Member struct {
	ID         string           `json:"id"`
	ClientID   string           `json:"client_id,omitempty"`
	Host       string           `json:"host,omitempty"`
	Partitions []TopicPartition `json:"partitions"`
}

// TopicPartition names a partition of a topic.
type TopicPartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
}

// GroupOffset is a group's position in one partition. Committed is null
// when the group never committed the partition; Lag then counts from the
// partition's start.
type GroupOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed *int64 `json:"committed"`
	End       int64  `json:"end"`
	Lag       int64  `json:"lag"`
	// Oldest is the timestamp of the oldest unconsumed record, when known.
	Oldest *time.Time `json:"oldest,omitempty"`
}

// GroupList answers GET /api/v1/groups.
type GroupList struct {
	Groups []Group `json:"groups"`
}

// NewGroup returns the JSON form of g.
func NewGroup(g stream.GroupInfo) Group {
	out := Group{Group: g.Group, Members: []Member{}, Offsets: NewGroupOffsets(g.Offsets), Lag: g.Lag()}
	for _, m := range g.Members {
		jm := Member{ID: m.ID, ClientID: m.ClientID, Host: m.Host, Partitions: []TopicPartition{}}
		for _, tp := range m.Partitions {
			jm.Partitions = append(jm.Partitions, TopicPartition(tp))
		}
		out.Members = append(out.Members, jm)
	}
	return out
}

// NewGroupOffsets returns the JSON form of offsets.
func NewGroupOffsets(offsets []stream.GroupOffset) []GroupOffset {
	out := make([]GroupOffset, len(offsets))
	for i, o := range offsets {
		out[i] = GroupOffset{Topic: o.Topic, Partition: o.Partition, End: o.End, Lag: o.Lag}
		if !o.NoCommit {
			out[i].Committed = &o.Committed
		}
		if !o.Oldest.IsZero() {
			t := o.Oldest.UTC()
			out[i].Oldest = &t
		}
	}
	return out
}

// Stream returns the group g describes.
func (g Group) Stream() stream.GroupInfo {
	out := stream.GroupInfo{Group: g.Group, Offsets: GroupOffsetsStream(g.Offsets)}
	for _, m := range g.Members {
		sm := stream.Member{ID: m.ID, ClientID: m.ClientID, Host: m.Host}
		for _, tp := range m.Partitions {
			sm.Partitions = append(sm.Partitions, stream.TopicPartition(tp))
		}
		out.Members = append(out.Members, sm)
	}
	return out
}

// GroupOffsetsStream returns the offsets the JSON form describes.
func GroupOffsetsStream(offsets []GroupOffset) []stream.GroupOffset {
	var out []stream.GroupOffset
	for _, o := range offsets {
		so := stream.GroupOffset{Topic: o.Topic, Partition: o.Partition, Committed: o.End - o.Lag, End: o.End, Lag: o.Lag, NoCommit: o.Committed == nil}
		if o.Committed != nil {
			so.Committed = *o.Committed
		}
		if o.Oldest != nil {
			so.Oldest = *o.Oldest
		}
		out = append(out, so)
	}
	return out
}

// ResetRequest is the body of POST /api/v1/groups/{group}/reset.
type ResetRequest struct {
	Topic string `json:"topic"`
	// To is earliest, latest, time or offset.
	To string `json:"to"`
	// Time, for "time": RFC 3339.
	Time string `json:"time,omitempty"`
	// Offset, for "offset".
	Offset *int64 `json:"offset,omitempty"`
	// Partitions limits the reset; empty means all.
	Partitions []int32 `json:"partitions,omitempty"`
}

// ResetResponse answers a reset with the group's offsets on the topic
// after it.
type ResetResponse struct {
	Group   string        `json:"group"`
	Topic   string        `json:"topic"`
	Offsets []GroupOffset `json:"offsets"`
}

// ConsumeBatch is one line of a consume stream in client-ack mode: a batch
// of records of one partition, to be acknowledged with an [Ack].
type ConsumeBatch struct {
	Batch   int64    `json:"batch"`
	Records []Record `json:"records"`
}

// Ack is one line of the request body of a consume in client-ack mode: the
// client processed the first Processed records of batch Batch. Those are
// committed; the rest are delivered again.
type Ack struct {
	Batch     int64 `json:"batch"`
	Processed int   `json:"processed"`
}

// StreamError is the last line of a consume stream that ended on an error
// after the response had started.
type StreamError struct {
	Error *Problem `json:"error"`
}
