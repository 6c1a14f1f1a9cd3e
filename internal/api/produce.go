package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/stream"
)

// notDatasetTopic refuses producing to the topic of a relay dataset: its
// records come in through the dataset's ingest endpoint, which checks the
// relay.ingest scope, the dataset's schema and the application's rate
// limit, none of which a plain produce would.
func (s *Server) notDatasetTopic(ctx context.Context, topic string) error {
	if s.cfg.DatasetOf == nil {
		return nil
	}
	name, err := s.cfg.DatasetOf(ctx, topic)
	if err != nil {
		return fmt.Errorf("api: find the dataset of topic %s: %w", topic, err)
	}
	if name == "" {
		return nil
	}
	return Coded(&Problem{Type: TypeForbidden, Title: "Forbidden", Status: http.StatusForbidden,
		Detail: fmt.Sprintf("topic %s holds the records of the relay dataset %s; send them to POST /api/v1/datasets/%s/records, which applies the dataset's ingest scope, schema and rate limit", topic, name, name)},
		"topic_of_dataset", topic, name)
}

// readBody reads a request body of at most limit bytes into one buffer,
// sized from Content-Length when the client sent it. Over the limit is a
// 413 problem.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *Problem) {
	body := http.MaxBytesReader(w, r.Body, limit)
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= limit {
		buf.Grow(int(n) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(body); err != nil {
		return nil, bodyError(err)
	}
	return buf.Bytes(), nil
}

// decodeProduce reads the body of a produce request, a [ProduceRequest],
// and converts its records for topic. It decodes token by token and one
// record at a time, so memory follows the records kept, and it stops at
// the first record over the limit of records per request (413). Errors
// are those of decode: 400 for malformed JSON with its position, 422 for
// unknown fields and wrong types with their paths.
func (s *Server) decodeProduce(w http.ResponseWriter, r *http.Request, topic string) ([]*stream.Record, error) {
	body, p := readBody(w, r, s.cfg.MaxBodyBytes)
	if p != nil {
		return nil, p
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, emptyBody()
	}
	// Syntax first, over the whole body, allocating nothing per value: the
	// walk below then meets only well-formed JSON.
	var skip struct{}
	if err := json.Unmarshal(body, &skip); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, syntaxError(body, se)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if tok, _ := dec.Token(); tok != json.Delim('{') {
		return nil, invalidFields("body_invalid", kindError("", "an object", tokenKind(tok)))
	}
	var records []*stream.Record
	var errs []invalid.Field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, truncated(err)
		}
		if key, _ := tok.(string); key != "records" {
			// Refused whatever follows: stop here rather than read a value
			// that may be most of the body.
			errs = append(errs, invalid.Field{Name: key, Message: fmt.Sprintf("unknown field %q; known fields: records", key)})
			return nil, invalidFields("body_invalid", errs)
		}
		// A repeated field replaces the earlier one, as in every other body
		// (and errs holds only records' errors: any other field returned).
		records, errs = records[:0], errs[:0]
		tok, err = dec.Token()
		if err != nil {
			return nil, truncated(err)
		}
		if tok == nil {
			continue
		}
		if tok != json.Delim('[') {
			return nil, invalidFields("body_invalid", kindError("records", "an array", tokenKind(tok)))
		}
		for i := 0; dec.More(); i++ {
			if i == s.cfg.MaxRecords {
				return nil, Coded(tooLarge(fmt.Sprintf("the request has more than %d records; the limit is %d per request", s.cfg.MaxRecords, s.cfg.MaxRecords)),
					"too_many_records", s.cfg.MaxRecords)
			}
			start := dec.InputOffset()
			var pr ProduceRecord
			if err := dec.Decode(&pr); err != nil {
				// The decoder has read past the record: decode its bytes
				// again, the slow way that names each bad field.
				if len(errs) < maxFieldErrors {
					errs = append(errs, recordErrors(body[start:dec.InputOffset()], i)...)
				}
				continue
			}
			path := fmt.Sprintf("records[%d]", i)
			rec, fe := pr.record(topic, path)
			if len(errs) < maxFieldErrors {
				errs = append(errs, fe...)
			}
			records = append(records, rec)
		}
		if _, err := dec.Token(); err != nil {
			return nil, truncated(err)
		}
	}
	if len(errs) > maxFieldErrors {
		errs = append(errs[:maxFieldErrors], invalid.Field{Name: "records", Message: fmt.Sprintf("more errors not listed; these are the first %d", maxFieldErrors)})
	}
	if len(errs) > 0 {
		return nil, invalidFields("body_invalid", errs)
	}
	if len(records) == 0 {
		return nil, Coded(Invalid("no records to produce", invalid.Field{Name: "records", Message: fmt.Sprintf("give 1 to %d records", s.cfg.MaxRecords)}), "no_records")
	}
	return records, nil
}

// maxFieldErrors bounds the field errors of one produce request: past
// them, a 422 names no more.
const maxFieldErrors = 100

// recordErrors names what is wrong with the raw JSON of records[i].
func recordErrors(raw []byte, i int) []invalid.Field {
	raw = bytes.TrimLeft(raw, ", \t\r\n")
	path := fmt.Sprintf("records[%d]", i)
	var pr ProduceRecord
	p := decodeBytes(raw, &pr)
	if p == nil {
		return []invalid.Field{{Name: path, Message: "not a valid record"}}
	}
	errs := make([]invalid.Field, 0, len(p.Errors)+1)
	for _, fe := range p.Errors {
		switch fe.Name {
		case "", "(body)": // the record itself
			fe.Name = path
		default:
			fe.Name = path + "." + fe.Name
		}
		errs = append(errs, fe)
	}
	if len(errs) == 0 {
		errs = append(errs, invalid.Field{Name: path, Message: p.Detail})
	}
	return errs
}

// tokenKind turns a JSON token into the value checkValue's messages name.
func tokenKind(tok json.Token) any {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return []any{}
		}
		return map[string]any{}
	}
	return tok
}
