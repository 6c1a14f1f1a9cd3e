package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/stream"
)

// produce stores the records of the request in the topic and answers, only
// once they are durable, with the partition, offset and id of each. A
// request is validated whole before anything is stored; when the broker
// stores only some records, the problem's "failed" lists the others.
func (s *Server) produce(w http.ResponseWriter, r *http.Request) error {
	topic, err := topicParam(r)
	if err != nil {
		return err
	}
	if err := s.notDatasetTopic(r.Context(), topic); err != nil {
		return err
	}
	records, err := s.decodeProduce(w, r, topic)
	if err != nil {
		return err
	}
	if err := s.broker.Produce(r.Context(), records...); err != nil {
		p := problemFor(err)
		var pe *stream.ProduceError
		if errors.As(err, &pe) {
			p = problemFor(pe.Err)
			p.Failed = pe.Failed
			if p.Detail != "" && p.Type != TypeInternal {
				p.Detail = pe.Error()
			}
		}
		if p.Status >= 500 {
			s.log.ErrorContext(r.Context(), "api: produce failed", "topic", topic, "records", len(records), "err", err)
		}
		if p.Failed == nil {
			p.Failed = stream.AllFailed(len(records), nil).Failed
		}
		writeProblem(w, r, p)
		return nil
	}
	out := ProduceResponse{Records: make([]Produced, len(records))}
	for i, rec := range records {
		out.Records[i] = Produced{Partition: rec.Partition, Offset: rec.Offset, ID: rec.ID()}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// record converts a produce record; path names it in field errors.
func (pr ProduceRecord) record(topic, path string) (*stream.Record, []invalid.Field) {
	var errs []invalid.Field
	fail := func(field, format string, args ...any) {
		errs = append(errs, invalid.Field{Name: path + "." + field, Message: fmt.Sprintf(format, args...)})
	}
	b64 := false
	switch pr.Encoding {
	case "", EncodingText:
	case EncodingBase64:
		b64 = true
	default:
		fail("encoding", "%q is not an encoding; use %q (the default) or %q", pr.Encoding, EncodingText, EncodingBase64)
	}
	bytesOf := func(field, s string) []byte {
		if !b64 {
			return []byte(s)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			fail(field, "not valid base64: %v", err)
		}
		return b
	}
	rec := &stream.Record{Topic: topic}
	if pr.Key != nil {
		rec.Key = bytesOf("key", *pr.Key)
	}
	switch v := bytes.TrimSpace(pr.Value); {
	case len(v) == 0 || string(v) == "null":
	case v[0] == '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			fail("value", "%v", err)
		}
		rec.Value = bytesOf("value", s)
	case b64:
		fail("value", "with encoding %q the value must be a base64 string", EncodingBase64)
	default:
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			fail("value", "%v", err)
		}
		rec.Value = buf.Bytes()
	}
	for j, h := range pr.Headers {
		if h.Key == "" {
			fail(fmt.Sprintf("headers[%d].key", j), "a header key must not be empty")
		}
		var v []byte // null: a header without a value
		if h.Value != nil {
			v = bytesOf(fmt.Sprintf("headers[%d].value", j), *h.Value)
		}
		rec.Headers = append(rec.Headers, stream.Header{Key: h.Key, Value: v})
	}
	if pr.Timestamp != "" {
		t, err := parseTime(pr.Timestamp)
		if err != nil {
			fail("timestamp", "%v", err)
		}
		rec.Timestamp = t
	}
	return rec, errs
}

// read returns records of one partition from an offset (?offset=, default
// 0, which reads from the oldest retained record) or from the first record
// at or after a time (?time=, RFC 3339), up to ?limit= (default 100).
// ?encoding=base64 returns keys, values and headers in base64.
func (s *Server) read(w http.ResponseWriter, r *http.Request) error {
	topic, err := topicParam(r)
	if err != nil {
		return err
	}
	partition, err := partitionParam(r)
	if err != nil {
		return err
	}
	q := newQuery(r)
	offset := q.int("offset", -1, 0, math.MaxInt64)
	at := q.time("time")
	limit := q.int("limit", 100, 1, int64(s.cfg.MaxReadLimit))
	force := q.oneOf("encoding", EncodingText, EncodingBase64) == EncodingBase64
	if offset >= 0 && !at.IsZero() {
		q.fail("time", "give either offset or time, not both")
	}
	if p := q.problem(); p != nil {
		return p
	}
	if offset < 0 {
		offset = 0
	}
	if !at.IsZero() {
		if offset, err = s.broker.OffsetForTime(r.Context(), topic, partition, at); err != nil {
			return err
		}
	}
	view, err := View(r.Context(), s.cfg.Masks, topic)
	if err != nil {
		return err
	}
	records, err := s.broker.Read(r.Context(), topic, partition, offset, int(limit))
	if err != nil {
		return err
	}
	out := RecordsPage{Records: make([]Record, len(records)), NextOffset: offset}
	for i, rec := range records {
		out.Records[i] = NewRecord(view(rec), force)
	}
	if n := len(records); n > 0 {
		out.NextOffset = records[n-1].Offset + 1
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// offsetForTime answers the offset of a partition's first record at or
// after ?time= (RFC 3339), or its end offset when there is none.
func (s *Server) offsetForTime(w http.ResponseWriter, r *http.Request) error {
	topic, err := topicParam(r)
	if err != nil {
		return err
	}
	partition, err := partitionParam(r)
	if err != nil {
		return err
	}
	q := newQuery(r)
	at := q.time("time")
	if at.IsZero() && len(q.errs) == 0 {
		q.fail("time", "required: an RFC 3339 time such as %s", time.Now().UTC().Format(time.RFC3339))
	}
	if p := q.problem(); p != nil {
		return p
	}
	offset, err := s.broker.OffsetForTime(r.Context(), topic, partition, at)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, PartitionOffset{Topic: topic, Partition: partition, Offset: offset})
	return nil
}
