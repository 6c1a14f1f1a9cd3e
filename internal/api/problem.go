package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/stream"
)

// Problem is the one error shape of the API: RFC 9457 problem details,
// served as application/problem+json.
type Problem struct {
	// Type is a URI naming the kind of problem; the ProblemType constants
	// list those the API uses. Clients branch on it, not on Title.
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	// Detail says what was wrong with this request, naming the value and
	// the rule it breaks.
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Code names the rule the request broke, or what went wrong, stably
	// (order_not_pending, sold_out, query_unknown, body_too_large,
	// credentials_missing). Every problem of the API's own (credentials,
	// scopes, bodies, query parameters, routes, the broker) carries one,
	// as do the refusals of the ticketing, payment and gate services, the
	// errors of their APIs' own and those of the other components (relay,
	// schemas, dead letters, sagas), an unknown id in the path included.
	// Args are the values Detail names, in
	// order: a client shows the refusal in its own language from them, and
	// Detail in English.
	Code string   `json:"code,omitempty"`
	Args []string `json:"args,omitempty"`
	// Errors lists field errors: which field of the request (a JSON path
	// such as records[2].value, or a query parameter) and why.
	Errors []invalid.Field `json:"errors,omitempty"`
	// Failed, on a failed produce, holds the indexes of the records that
	// were not stored. Records not listed were stored and are durable.
	Failed []int `json:"failed,omitempty"`

	// header is added to the response; cause is logged, not shown.
	header http.Header
	cause  error
}

// Problem types. Each maps to one stream error, so a client can give the
// caller the same sentinel the server saw.
const (
	TypeMalformed        = "urn:arus:problem:malformed-request"
	TypeInvalid          = "urn:arus:problem:invalid"
	TypeNotFound         = "urn:arus:problem:not-found"
	TypeTopicNotFound    = "urn:arus:problem:topic-not-found"
	TypeGroupNotFound    = "urn:arus:problem:group-not-found"
	TypeTopicExists      = "urn:arus:problem:topic-exists"
	TypeGroupActive      = "urn:arus:problem:group-active"
	TypeTooLarge         = "urn:arus:problem:too-large"
	TypeRecordTooLarge   = "urn:arus:problem:record-too-large"
	TypeOffsetOutOfRange = "urn:arus:problem:offset-out-of-range"
	TypeUnavailable      = "urn:arus:problem:unavailable"
	TypeMethodNotAllowed = "urn:arus:problem:method-not-allowed"
	TypeInternal         = "urn:arus:problem:internal"
)

// problemKinds maps stream sentinels to their problem type, title and
// status, most specific first.
var problemKinds = []struct {
	err    error
	typ    string
	title  string
	status int
	code   string
}{
	{stream.ErrRecordTooLarge, TypeRecordTooLarge, "Record too large", http.StatusRequestEntityTooLarge, "record_too_large"},
	{stream.ErrTopicNotFound, TypeTopicNotFound, "Topic not found", http.StatusNotFound, "topic_not_found"},
	{stream.ErrGroupNotFound, TypeGroupNotFound, "Consumer group not found", http.StatusNotFound, "group_not_found"},
	{stream.ErrTopicExists, TypeTopicExists, "Topic already exists", http.StatusConflict, "topic_exists"},
	{stream.ErrGroupActive, TypeGroupActive, "Consumer group has active members", http.StatusConflict, "group_active"},
	{stream.ErrOffsetOutOfRange, TypeOffsetOutOfRange, "Offset out of range", http.StatusRequestedRangeNotSatisfiable, "offset_out_of_range"},
	{stream.ErrInvalid, TypeInvalid, "Invalid request", http.StatusUnprocessableEntity, "broker_invalid"},
	{stream.ErrUnavailable, TypeUnavailable, "Broker unavailable", http.StatusServiceUnavailable, "broker_unavailable"},
	{stream.ErrClosed, TypeUnavailable, "Broker unavailable", http.StatusServiceUnavailable, "broker_unavailable"},
}

// problemFor turns an error from the broker into a problem. Errors that
// match no stream sentinel are internal: their text is logged, not shown.
// A broker's problem has a code but no args: its detail is the broker's
// words.
func problemFor(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	for _, k := range problemKinds {
		if errors.Is(err, k.err) {
			p := &Problem{Type: k.typ, Title: k.title, Status: k.status, Detail: err.Error(), Code: k.code}
			if p.Status == http.StatusRequestedRangeNotSatisfiable && errors.Is(err, stream.ErrInvalid) {
				// An offset out of range given as an argument (a reset
				// target) is bad input rather than a read past the end.
				p.Status = http.StatusUnprocessableEntity
			}
			return p
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Problem{Type: TypeUnavailable, Title: "Broker unavailable", Status: http.StatusServiceUnavailable,
			Detail: "the broker did not answer in time", Code: "broker_timeout"}
	}
	return internalError()
}

// internalError is the problem of a fault of the server's own: its error
// is in the log, not in the answer.
func internalError() *Problem {
	return &Problem{Type: TypeInternal, Title: "Internal server error", Status: http.StatusInternalServerError,
		Detail: "the server failed to handle the request; the error is in its log", Code: "internal_error"}
}

// Error makes a Problem usable as an error inside the server.
func (p *Problem) Error() string {
	if p.Detail != "" {
		return p.Detail
	}
	return p.Title
}

func malformed(detail string) *Problem {
	return &Problem{Type: TypeMalformed, Title: "Malformed request", Status: http.StatusBadRequest, Detail: detail}
}

// invalidFields reports field errors, with the first one as the detail;
// code names the rule, with args, by default the first field.
func invalidFields(code string, errs []invalid.Field, args ...any) *Problem {
	for i := range errs {
		if errs[i].Name == "" {
			errs[i].Name = "(body)"
		}
	}
	detail := errs[0].Name + ": " + errs[0].Message
	if len(errs) > 1 {
		detail += " (and more; see errors)"
	}
	if len(args) == 0 {
		args = []any{errs[0].Name}
	}
	return Coded(Invalid(detail, errs...), code, args...)
}

// bodyError answers an error reading a request body: 413 over the limit,
// 400 otherwise.
func bodyError(err error) *Problem {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return Coded(tooLarge(fmt.Sprintf("the request body is larger than the limit of %d bytes", mbe.Limit)), "body_too_large", mbe.Limit)
	}
	return Coded(malformed(fmt.Sprintf("reading the request body: %v", err)), "body_unreadable")
}

// emptyBody answers a request whose body is empty.
func emptyBody() *Problem {
	return Coded(malformed("the request body is empty; send a JSON object"), "body_empty")
}

// syntaxError answers malformed JSON, naming where in body it breaks.
func syntaxError(body []byte, se *json.SyntaxError) *Problem {
	line, col := position(body, se.Offset)
	return Coded(malformed(fmt.Sprintf("malformed JSON at byte %d (line %d, column %d): %v", se.Offset, line, col, se)),
		"json_malformed", se.Offset, line, col)
}

// truncated answers JSON that ends too early or is cut off otherwise
// (err, from a decoder reading token by token).
func truncated(err error) *Problem {
	return Coded(malformed(fmt.Sprintf("malformed JSON: %v", err)), "json_incomplete")
}

func tooLarge(detail string) *Problem {
	return &Problem{Type: TypeTooLarge, Title: "Request too large", Status: http.StatusRequestEntityTooLarge, Detail: detail}
}

func notFound(detail string) *Problem {
	return &Problem{Type: TypeNotFound, Title: "Not found", Status: http.StatusNotFound, Detail: detail}
}

// writeProblem writes p as the response.
func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	if p.Instance == "" && r != nil {
		p.Instance = r.URL.Path
	}
	for k, v := range p.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Del("Content-Length")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON writes v as a JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
