// Package dlqapi serves the dead-letter tools (package dlq) on the server's
// HTTP API under /api/v1/dlq, and holds [Client], their client, which
// arus dlq --server uses.
package dlqapi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/arus-platform/arus/dlq"
	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/stream"
)

// Register adds the dead-letter routes to mux, served by a under the
// rules of every /api/v1 route:
//
//	GET  /api/v1/dlq                                     list queues                  dlq.read
//	GET  /api/v1/dlq/{dlq}                               one queue with its reasons   dlq.read
//	GET  /api/v1/dlq/{dlq}/records                       letters, filtered            dlq.read
//	GET  /api/v1/dlq/{dlq}/records/{partition}/{offset}  one letter                   dlq.read
//	GET  /api/v1/dlq/{dlq}/reasons                       errors grouped, filtered     dlq.read
//	POST /api/v1/dlq/{dlq}/replay                        replay to the retry topic    dlq.replay
//	POST /api/v1/dlq/{dlq}/discard                       discard                      dlq.replay
//
// Filters are query parameters: error (a substring, any case), key, from
// and to (RFC 3339 times of dead-lettering), all=true (include letters
// already replayed or discarded) and limit (1 to 10,000, default 100).
// Replay and discard take a body [ActionRequest].
func Register(a *api.Server, mux *http.ServeMux, m *dlq.Manager) {
	h := &handler{m: m, a: a}
	read := []auth.Permission{auth.PermDLQRead}
	replay := []auth.Permission{auth.PermDLQReplay}
	a.Route(mux, "GET /api/v1/dlq", read, h.list)
	a.Route(mux, "GET /api/v1/dlq/{dlq}", read, h.queue)
	a.Route(mux, "GET /api/v1/dlq/{dlq}/records", read, h.records)
	a.Route(mux, "GET /api/v1/dlq/{dlq}/records/{partition}/{offset}", read, h.record)
	a.Route(mux, "GET /api/v1/dlq/{dlq}/reasons", read, h.reasons)
	a.Route(mux, "POST /api/v1/dlq/{dlq}/replay", replay, h.replay)
	a.Route(mux, "POST /api/v1/dlq/{dlq}/discard", replay, h.discard)
}

// QueueList answers GET /api/v1/dlq.
type QueueList struct {
	Queues []dlq.Queue `json:"queues"`
}

// QueueDetail answers GET /api/v1/dlq/{dlq}.
type QueueDetail struct {
	dlq.Queue
	Reasons []dlq.Reason `json:"reasons"`
}

// Record is the JSON form of a [dlq.Letter].
type Record struct {
	Partition         int32      `json:"partition"`
	Offset            int64      `json:"offset"`
	State             string     `json:"state"`
	Topic             string     `json:"topic"`
	Group             string     `json:"group"`
	OriginalPartition int32      `json:"original_partition"`
	OriginalOffset    int64      `json:"original_offset"`
	Error             string     `json:"error"`
	Attempts          int        `json:"attempts"`
	FirstFailure      time.Time  `json:"first_failure"`
	LastFailure       time.Time  `json:"last_failure"`
	DeadLettered      time.Time  `json:"dead_lettered"`
	Permanent         bool       `json:"permanent"`
	Replays           int        `json:"replays"`
	Record            api.Record `json:"record"`
}

// NewRecord returns the JSON form of l.
func NewRecord(l dlq.Letter) Record {
	return Record{Partition: l.Partition, Offset: l.Offset, State: l.State, Topic: l.Topic, Group: l.Group,
		OriginalPartition: l.OriginalPartition, OriginalOffset: l.OriginalOffset, Error: l.Error, Attempts: l.Attempts,
		FirstFailure: l.FirstFailure, LastFailure: l.LastFailure, DeadLettered: l.DeadLettered, Permanent: l.Permanent,
		Replays: l.Replays, Record: api.NewRecord(l.Record, false)}
}

// Letter returns the letter r describes.
func (r Record) Letter() (dlq.Letter, error) {
	rec, err := r.Record.Stream()
	if err != nil {
		return dlq.Letter{}, err
	}
	return dlq.Letter{Position: dlq.Position{Partition: r.Partition, Offset: r.Offset}, State: r.State, Record: rec,
		Topic: r.Topic, Group: r.Group, OriginalPartition: r.OriginalPartition, OriginalOffset: r.OriginalOffset,
		Error: r.Error, Attempts: r.Attempts, FirstFailure: r.FirstFailure, LastFailure: r.LastFailure,
		DeadLettered: r.DeadLettered, Permanent: r.Permanent, Replays: r.Replays}, nil
}

// RecordList answers GET /api/v1/dlq/{dlq}/records.
type RecordList struct {
	Records []Record `json:"records"`
}

// ReasonList answers GET /api/v1/dlq/{dlq}/reasons.
type ReasonList struct {
	Reasons []dlq.Reason `json:"reasons"`
}

// ActionRequest is the body of a replay or discard: exactly one of All,
// Records and Filter.
type ActionRequest struct {
	// All acts on every pending letter.
	All bool `json:"all,omitempty"`
	// Records acts on these letters.
	Records []dlq.Position `json:"records,omitempty"`
	// Filter acts on the pending letters it selects; it needs at least one
	// criterion.
	Filter *FilterRequest `json:"filter,omitempty"`
}

// FilterRequest is a [dlq.Filter] in a request body; times are RFC 3339.
type FilterRequest struct {
	Error string `json:"error,omitempty"`
	Key   string `json:"key,omitempty"`
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
}

// ActionResponse answers a replay or discard.
type ActionResponse struct {
	// Action is "replayed" or "discarded".
	Action string `json:"action"`
	// Count is how many letters it acted on.
	Count int `json:"count"`
	// RetryTopic, for a replay, is where the letters went.
	RetryTopic string `json:"retry_topic,omitempty"`
}

type handler struct {
	m *dlq.Manager
	a *api.Server
}

// dlqParam returns the {dlq} path value, checked.
func dlqParam(r *http.Request) (string, error) {
	name := r.PathValue("dlq")
	if err := stream.ValidateTopicName(name); err != nil {
		return "", api.Coded(api.Invalid(err.Error(), invalid.Field{Name: "dlq", Message: err.Error()}), "dlq_name_invalid", name)
	}
	return name, nil
}

// problem turns dlq.ErrNotFound into a 404, dlq_unknown: name is no
// dead-letter queue; other errors are the API's to map.
func problem(err error, name string) error {
	if errors.Is(err, dlq.ErrNotFound) {
		return api.Coded(api.NotFound(err.Error()), "dlq_unknown", name)
	}
	return err
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	qs, err := h.m.List(r.Context())
	if err != nil {
		return problem(err, "")
	}
	api.WriteJSON(w, http.StatusOK, QueueList{Queues: qs})
	return nil
}

func (h *handler) queue(w http.ResponseWriter, r *http.Request) error {
	name, err := dlqParam(r)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	q, err := h.m.Queue(r.Context(), name)
	if err != nil {
		return problem(err, name)
	}
	reasons, err := h.m.Reasons(r.Context(), name, dlq.Filter{})
	if err != nil {
		return problem(err, name)
	}
	api.WriteJSON(w, http.StatusOK, QueueDetail{Queue: q, Reasons: reasons})
	return nil
}

func (h *handler) records(w http.ResponseWriter, r *http.Request) error {
	name, err := dlqParam(r)
	if err != nil {
		return err
	}
	f, err := filterQuery(r, true)
	if err != nil {
		return err
	}
	letters, err := h.m.Records(r.Context(), name, f)
	if err != nil {
		return problem(err, name)
	}
	view := api.NewViewer(r.Context(), h.a.Masks())
	out := RecordList{Records: make([]Record, len(letters))}
	for i, l := range letters {
		if l.Record, err = view.As(l.Topic, l.Record); err != nil {
			return err
		}
		out.Records[i] = NewRecord(l)
	}
	api.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *handler) record(w http.ResponseWriter, r *http.Request) error {
	name, err := dlqParam(r)
	if err != nil {
		return err
	}
	var errs []invalid.Field
	p, perr := strconv.ParseInt(r.PathValue("partition"), 10, 32)
	if perr != nil || p < 0 {
		errs = append(errs, invalid.Field{Name: "partition", Message: fmt.Sprintf("%q is not a partition number; partitions are numbered from 0", r.PathValue("partition"))})
	}
	off, oerr := strconv.ParseInt(r.PathValue("offset"), 10, 64)
	if oerr != nil || off < 0 {
		errs = append(errs, invalid.Field{Name: "offset", Message: fmt.Sprintf("%q is not an offset; offsets are 0 or more", r.PathValue("offset"))})
	}
	if len(errs) > 0 {
		code := "partition_invalid"
		if errs[0].Name == "offset" {
			code = "offset_invalid"
		}
		return api.Coded(api.Invalid(errs[0].Name+": "+errs[0].Message, errs...), code, r.PathValue(errs[0].Name))
	}
	l, err := h.m.Get(r.Context(), name, dlq.Position{Partition: int32(p), Offset: off})
	if errors.Is(err, dlq.ErrNotFound) {
		// The queue's own 404 (dlq_unknown) or, when it is there, the
		// record's.
		if _, qerr := h.m.Queue(r.Context(), name); qerr == nil {
			return api.Coded(api.NotFound(err.Error()), "dlq_record_unknown", name, p, off)
		}
	}
	if err != nil {
		return problem(err, name)
	}
	if l.Record, err = api.NewViewer(r.Context(), h.a.Masks()).As(l.Topic, l.Record); err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, NewRecord(l))
	return nil
}

func (h *handler) reasons(w http.ResponseWriter, r *http.Request) error {
	name, err := dlqParam(r)
	if err != nil {
		return err
	}
	f, err := filterQuery(r, false)
	if err != nil {
		return err
	}
	reasons, err := h.m.Reasons(r.Context(), name, f)
	if err != nil {
		return problem(err, name)
	}
	api.WriteJSON(w, http.StatusOK, ReasonList{Reasons: reasons})
	return nil
}

func (h *handler) replay(w http.ResponseWriter, r *http.Request) error {
	return h.act(w, r, dlq.StateReplayed, h.m.Replay)
}

func (h *handler) discard(w http.ResponseWriter, r *http.Request) error {
	return h.act(w, r, dlq.StateDiscarded, h.m.Discard)
}

func (h *handler) act(w http.ResponseWriter, r *http.Request, action string, do func(ctx context.Context, name string, f dlq.Filter) (int, error)) error {
	name, err := dlqParam(r)
	if err != nil {
		return err
	}
	var req ActionRequest
	if err := h.a.Decode(w, r, 1<<20, &req); err != nil {
		return err
	}
	f, err := req.filter()
	if err != nil {
		return err
	}
	// An unknown queue is a 404 even when nothing would be selected.
	if _, err := h.m.Queue(r.Context(), name); err != nil {
		return problem(err, name)
	}
	n, err := do(r.Context(), name, f)
	if err != nil {
		return problem(err, name)
	}
	resp := ActionResponse{Action: action, Count: n}
	if action == dlq.StateReplayed {
		resp.RetryTopic = dlq.RetryTopic(name)
	}
	api.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// filter checks the request and returns the filter it asks for.
func (req ActionRequest) filter() (dlq.Filter, error) {
	chosen := 0
	if req.All {
		chosen++
	}
	if len(req.Records) > 0 {
		chosen++
	}
	if req.Filter != nil {
		chosen++
	}
	if chosen != 1 {
		msg := "give exactly one of all, records and filter"
		return dlq.Filter{}, api.Coded(api.Invalid(msg, invalid.Field{Name: "all", Message: msg}), "body_invalid", "all")
	}
	var f dlq.Filter
	var errs []invalid.Field
	for i, p := range req.Records {
		if p.Partition < 0 {
			errs = append(errs, invalid.Field{Name: fmt.Sprintf("records[%d].partition", i), Message: fmt.Sprintf("partition %d is negative", p.Partition)})
		}
		if p.Offset < 0 {
			errs = append(errs, invalid.Field{Name: fmt.Sprintf("records[%d].offset", i), Message: fmt.Sprintf("offset %d is negative", p.Offset)})
		}
	}
	f.Positions = req.Records
	if fr := req.Filter; fr != nil {
		f.Error, f.Key = fr.Error, fr.Key
		f.From = parseTime(fr.From, "filter.from", &errs)
		f.To = parseTime(fr.To, "filter.to", &errs)
		if len(errs) == 0 && f.Empty() {
			errs = append(errs, invalid.Field{Name: "filter", Message: "the filter has no criterion; give error, key, from or to, or use all"})
		}
	}
	if len(errs) > 0 {
		return dlq.Filter{}, api.Coded(api.Invalid(errs[0].Name+": "+errs[0].Message, errs...), "body_invalid", errs[0].Name)
	}
	return f, nil
}

func parseTime(s, field string, errs *[]invalid.Field) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		*errs = append(*errs, invalid.Field{Name: field, Message: fmt.Sprintf("%q is not an RFC 3339 time such as 2025-01-31T15:04:05Z", s)})
	}
	return t
}

// noQuery rejects query parameters on routes that take none.
func noQuery(r *http.Request) error {
	for k := range r.URL.Query() {
		msg := fmt.Sprintf("unknown query parameter %q", k)
		return api.Coded(api.Invalid(msg, invalid.Field{Name: k, Message: msg}), "query_unknown", k)
	}
	return nil
}

// filterQuery reads the filter parameters; limit is allowed when
// withLimit.
func filterQuery(r *http.Request, withLimit bool) (dlq.Filter, error) {
	q := r.URL.Query()
	var f dlq.Filter
	var errs []invalid.Field
	known := map[string]bool{"error": true, "key": true, "from": true, "to": true, "all": true}
	if withLimit {
		known["limit"] = true
		f.Limit = 100
	}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		vs := q[k]
		if !known[k] {
			errs = append(errs, invalid.Field{Name: k, Message: fmt.Sprintf("unknown query parameter %q", k)})
		} else if len(vs) > 1 {
			errs = append(errs, invalid.Field{Name: k, Message: "given more than once"})
		}
	}
	f.Error, f.Key = q.Get("error"), q.Get("key")
	f.From = parseTime(q.Get("from"), "from", &errs)
	f.To = parseTime(q.Get("to"), "to", &errs)
	if s := q.Get("all"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			errs = append(errs, invalid.Field{Name: "all", Message: fmt.Sprintf("%q is not true or false", s)})
		}
		f.All = b
	}
	if s := q.Get("limit"); s != "" && withLimit {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			errs = append(errs, invalid.Field{Name: "limit", Message: fmt.Sprintf("%q is not a number from 1 to 10000", s)})
		}
		f.Limit = n
	}
	if len(errs) > 0 {
		return dlq.Filter{}, api.Coded(api.Invalid(errs[0].Name+": "+errs[0].Message, errs...), "query_invalid", errs[0].Name)
	}
	return f, nil
}

// filterValues renders f as the query parameters filterQuery reads.
func filterValues(f dlq.Filter) url.Values {
	q := url.Values{}
	if f.Error != "" {
		q.Set("error", f.Error)
	}
	if f.Key != "" {
		q.Set("key", f.Key)
	}
	if !f.From.IsZero() {
		q.Set("from", f.From.Format(time.RFC3339Nano))
	}
	if !f.To.IsZero() {
		q.Set("to", f.To.Format(time.RFC3339Nano))
	}
	if f.All {
		q.Set("all", "true")
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}
