// Package sagaapi serves the saga orchestrator's instances on the server's
// HTTP API. Sagas are defined and run by the services that own them (package
// saga); the server shows their progress.
package sagaapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/stream"
)

// Register adds the saga routes to the API on mux, under the API's rules
// (principal, permission, problem answers):
//
//	GET /api/v1/sagas?state=&saga=&limit=&after=   instances, newest first, a page at a time
//	GET /api/v1/sagas/{id}                         one instance with its steps and timeline
//
// Both need the groups.read permission: a saga's progress is read like a
// consumer group's.
func Register(a *api.Server, mux *http.ServeMux, o *saga.Orchestrator) {
	h := &handler{o: o}
	perms := []auth.Permission{auth.PermGroupsRead}
	a.Route(mux, "GET /api/v1/sagas", perms, h.list)
	a.Route(mux, "GET /api/v1/sagas/{id}", perms, h.get)
}

type handler struct{ o *saga.Orchestrator }

// InstanceList is the answer of GET /api/v1/sagas.
type InstanceList struct {
	Sagas []InstanceJSON `json:"sagas"`
	// Next, when set, is the after parameter of the next page.
	Next string `json:"next,omitempty"`
}

// InstanceJSON is an instance as the API shows it. Steps and Timeline are
// given by GET /api/v1/sagas/{id} only.
type InstanceJSON struct {
	ID        string      `json:"id"`
	Saga      string      `json:"saga"`
	State     saga.State  `json:"state"`
	Step      int         `json:"step"`
	StepName  string      `json:"step_name,omitempty"`
	Error     string      `json:"error,omitempty"`
	Data      Payload     `json:"data"`
	Deadline  *time.Time  `json:"deadline,omitempty"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
	Steps     []StepJSON  `json:"steps,omitempty"`
	Timeline  []EventJSON `json:"timeline,omitempty"`
}

// StepJSON is one step of an instance.
type StepJSON struct {
	Index              int             `json:"index"`
	Name               string          `json:"name"`
	Status             saga.StepStatus `json:"status"`
	CommandID          string          `json:"command_id,omitempty"`
	CompensationID     string          `json:"compensation_id,omitempty"`
	CommandSentAt      *time.Time      `json:"command_sent_at,omitempty"`
	RepliedAt          *time.Time      `json:"replied_at,omitempty"`
	CompensationSentAt *time.Time      `json:"compensation_sent_at,omitempty"`
	CompensatedAt      *time.Time      `json:"compensated_at,omitempty"`
}

// EventJSON is one entry of an instance's timeline.
type EventJSON struct {
	At       time.Time      `json:"at"`
	Type     saga.EventType `json:"type"`
	Step     *int           `json:"step,omitempty"`
	RecordID string         `json:"record_id,omitempty"`
	Topic    string         `json:"topic,omitempty"`
	Detail   string         `json:"detail,omitempty"`
	Value    *Payload       `json:"value,omitempty"`
}

// Payload is saga data or a record value: inline JSON when it is JSON,
// else a string of text, else base64, as Encoding says.
type Payload struct {
	Encoding string          `json:"encoding"` // "json", "text" or "base64"
	Value    json.RawMessage `json:"value"`
}

func newPayload(b []byte) Payload {
	if len(b) > 0 && json.Valid(b) {
		return Payload{Encoding: "json", Value: json.RawMessage(b)}
	}
	if utf8.Valid(b) {
		v, _ := json.Marshal(string(b))
		return Payload{Encoding: "text", Value: v}
	}
	v, _ := json.Marshal(base64.StdEncoding.EncodeToString(b))
	return Payload{Encoding: "base64", Value: v}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func newInstanceJSON(in *saga.Instance) InstanceJSON {
	out := InstanceJSON{
		ID: in.ID, Saga: in.Saga, State: in.State, Step: in.Step, StepName: in.StepName, Error: in.Error,
		Data: newPayload(in.Data), Deadline: timePtr(in.Deadline), CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt,
	}
	for _, s := range in.Steps {
		out.Steps = append(out.Steps, StepJSON{
			Index: s.Index, Name: s.Name, Status: s.Status, CommandID: s.CommandID, CompensationID: s.CompensationID,
			CommandSentAt: timePtr(s.CommandSentAt), RepliedAt: timePtr(s.RepliedAt),
			CompensationSentAt: timePtr(s.CompensationSentAt), CompensatedAt: timePtr(s.CompensatedAt),
		})
	}
	for _, e := range in.History {
		ej := EventJSON{At: e.At, Type: e.Type, RecordID: e.RecordID, Topic: e.Topic, Detail: e.Detail}
		if e.Step >= 0 {
			ej.Step = &e.Step
		}
		if e.Value != nil {
			p := newPayload(e.Value)
			ej.Value = &p
		}
		out.Timeline = append(out.Timeline, ej)
	}
	return out
}

var listParams = []string{"state", "saga", "limit", "after"}

func (h *handler) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var errs []invalid.Field
	fail := func(field, format string, args ...any) {
		errs = append(errs, invalid.Field{Name: field, Message: fmt.Sprintf(format, args...)})
	}
	var keys []string
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(listParams, k) {
			fail(k, "unknown query parameter; use %q", listParams)
		}
	}
	opts := saga.ListOptions{State: saga.State(q.Get("state")), Saga: q.Get("saga"), After: q.Get("after")}
	if opts.State != "" && !slices.Contains(saga.States(), opts.State) {
		fail("state", "%q is not one of %q", opts.State, saga.States())
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			fail("limit", "%q is not a whole number from 1 to 1000", s)
		}
		opts.Limit = n
	}
	if len(errs) > 0 {
		return api.Coded(api.Invalid("bad query parameters", errs...), "query_invalid", errs[0].Name)
	}
	page, err := h.o.List(r.Context(), opts)
	if errors.Is(err, stream.ErrInvalid) {
		// State and limit are checked above: what List refuses is the cursor.
		return api.Coded(api.Invalid("bad query parameters",
			invalid.Field{Name: "after", Message: fmt.Sprintf("%q is not the next value of an earlier page", opts.After)}), "query_invalid", "after")
	}
	if err != nil {
		return err
	}
	out := InstanceList{Sagas: make([]InstanceJSON, len(page.Instances)), Next: page.Next}
	for i := range page.Instances {
		out.Sagas[i] = newInstanceJSON(&page.Instances[i])
	}
	api.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := saga.ValidateID(id); err != nil {
		return api.Coded(api.Invalid(err.Error(), invalid.Field{Name: "id", Message: err.Error()}), "saga_id_invalid", id)
	}
	if len(r.URL.Query()) > 0 {
		return api.Coded(api.Invalid("this route takes no query parameters"), "query_unknown", strings.Join(slices.Sorted(maps.Keys(r.URL.Query())), ", "))
	}
	in, err := h.o.Get(r.Context(), id)
	if errors.Is(err, saga.ErrNotFound) {
		return api.Coded(api.NotFound(fmt.Sprintf("no saga %s", id)), "saga_unknown", id)
	}
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, newInstanceJSON(in))
	return nil
}
