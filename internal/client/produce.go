package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/stream"
)

// Limits of one produce request; a larger Produce call is sent as several
// requests, in order.
const (
	maxRequestRecords = 5000
	maxRequestBytes   = 8 << 20
)

// Produce stores records and returns when the server has them durable. It
// stamps each record's id and timestamp where missing before sending, and
// sets Partition and Offset from the answer. Records go in requests of one
// topic each, one after another, so records of one partition keep their
// order; when a request fails, its records and every later one are reported
// in the [*stream.ProduceError], and the earlier ones are stored.
func (c *Client) Produce(ctx context.Context, records ...*stream.Record) error {
	now := time.Now()
	for i, r := range records {
		if r == nil {
			return stream.AllFailed(len(records), stream.Invalidf("record %d is nil", i))
		}
		if err := stream.ValidateTopicName(r.Topic); err != nil {
			return stream.AllFailed(len(records), err)
		}
		if _, ok := r.Header(stream.HeaderID); !ok {
			r.Headers = append(r.Headers, stream.Header{Key: stream.HeaderID, Value: []byte(stream.NewID())})
		}
		if r.Timestamp.IsZero() {
			r.Timestamp = now
		}
	}
	for start := 0; start < len(records); {
		end, size := start, 0
		for end < len(records) && end-start < maxRequestRecords && records[end].Topic == records[start].Topic {
			size += records[end].Size() + 128
			if end > start && size > maxRequestBytes {
				break
			}
			end++
		}
		if err := c.produceRequest(ctx, records[start:end]); err != nil {
			failed := []int{}
			var pe *stream.ProduceError
			if errors.As(err, &pe) {
				for _, i := range pe.Failed {
					failed = append(failed, start+i)
				}
				err = pe.Err
			} else {
				for i := start; i < end; i++ {
					failed = append(failed, i)
				}
			}
			for i := end; i < len(records); i++ {
				failed = append(failed, i)
			}
			return &stream.ProduceError{Failed: failed, Err: err}
		}
		start = end
	}
	return nil
}

// produceRequest sends records of one topic in one request.
func (c *Client) produceRequest(ctx context.Context, records []*stream.Record) error {
	req := api.ProduceRequest{Records: make([]api.ProduceRecord, len(records))}
	for i, r := range records {
		pr, err := produceRecord(r)
		if err != nil {
			return err
		}
		req.Records[i] = pr
	}
	var out api.ProduceResponse
	err := c.do(ctx, http.MethodPost, topicPath(records[0].Topic, "/records"), nil, req, &out)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && len(e.Problem.Failed) > 0 {
			return &stream.ProduceError{Failed: e.Problem.Failed, Err: err}
		}
		return err
	}
	if len(out.Records) != len(records) {
		return errors.New("client: the server answered a produce with a different number of records")
	}
	for i, r := range records {
		r.Partition, r.Offset = out.Records[i].Partition, out.Records[i].Offset
	}
	return nil
}

// produceRecord returns the JSON form of r: text when key, value and header
// values are all UTF-8, base64 otherwise.
func produceRecord(r *stream.Record) (api.ProduceRecord, error) {
	b64 := !utf8.Valid(r.Key) || !utf8.Valid(r.Value)
	for _, h := range r.Headers {
		b64 = b64 || !utf8.Valid(h.Value)
	}
	jr := api.NewRecord(r, b64)
	value, err := json.Marshal(jr.Value)
	if err != nil {
		return api.ProduceRecord{}, err
	}
	pr := api.ProduceRecord{Key: jr.Key, Value: value, Headers: jr.Headers, Encoding: jr.Encoding}
	if !r.Timestamp.IsZero() {
		pr.Timestamp = r.Timestamp.Format(time.RFC3339Nano)
	}
	return pr, nil
}
