package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/arus-platform/arus/dlq"
	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
)

// The dead-letter pages: every queue with its counts, and one queue's
// letters grouped by reason, with replay and discard of one letter, a
// filtered set or all, each confirmed first.

func (h *Handler) deadLetters(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	queues, err := h.cfg.DLQ.List(r.Context())
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "dlqs", view{Data: queues})
}

type dlqData struct {
	Queue   dlq.Queue
	Reasons []dlq.Reason
	Letters []dlq.Letter
	Error   string // the filter on the error text
	// Confirm is set on the review step of a replay or discard.
	Confirm *dlqConfirm
	Limit   int
}

type dlqConfirm struct {
	Action   string // replay or discard
	Count    int
	Position string // "partition/offset" for one letter, "" for the filter
}

const dlqPageLimit = 100

func (h *Handler) deadLetterQueue(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.dlqPage(w, r, http.StatusOK, r.URL.Query().Get("error"), nil)
}

func (h *Handler) dlqPage(w http.ResponseWriter, r *http.Request, status int, errText string, confirm *dlqConfirm) {
	name := r.PathValue("dlq")
	queues, err := h.cfg.DLQ.List(r.Context())
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d := dlqData{Error: errText, Confirm: confirm, Limit: dlqPageLimit}
	found := false
	for _, q := range queues {
		if q.Name == name {
			d.Queue, found = q, true
		}
	}
	if !found {
		h.renderStatus(w, r, http.StatusNotFound, "No such dead-letter queue", "There is no dead-letter queue named "+name+".")
		return
	}
	f := dlq.Filter{Error: errText}
	if d.Reasons, err = h.cfg.DLQ.Reasons(r.Context(), name, dlq.Filter{}); err != nil {
		h.serverError(w, r, err)
		return
	}
	f.Limit = dlqPageLimit
	if d.Letters, err = h.cfg.DLQ.Records(r.Context(), name, f); err != nil {
		h.serverError(w, r, err)
		return
	}
	masked := api.NewViewer(r.Context(), h.cfg.Masks)
	for i, l := range d.Letters {
		if d.Letters[i].Record, err = masked.As(l.Topic, l.Record); err != nil {
			h.serverError(w, r, err)
			return
		}
	}
	h.render(w, r, status, "dlq", view{Data: d})
}

// dlqAct replays or discards: without confirmed=yes it counts what the
// action would touch and asks; with it, it acts.
func (h *Handler) dlqAct(action string) func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
		name := r.PathValue("dlq")
		errText := r.PostFormValue("error")
		f := dlq.Filter{Error: errText}
		pos := r.PostFormValue("position")
		if pos != "" {
			ps, os, ok := strings.Cut(pos, "/")
			part, err1 := strconv.ParseInt(ps, 10, 32)
			off, err2 := strconv.ParseInt(os, 10, 64)
			if !ok || err1 != nil || err2 != nil || part < 0 || off < 0 {
				h.renderStatus(w, r, http.StatusUnprocessableEntity, "Bad letter", fmt.Sprintf("%q is not a letter's position (partition/offset).", pos))
				return
			}
			f.Positions = []dlq.Position{{Partition: int32(part), Offset: off}}
		}
		if r.PostFormValue("confirmed") != "yes" {
			letters, err := h.cfg.DLQ.Records(r.Context(), name, f)
			if errors.Is(err, dlq.ErrNotFound) {
				h.renderStatus(w, r, http.StatusNotFound, "No such dead-letter queue", "There is no dead-letter queue named "+name+".")
				return
			}
			if err != nil {
				h.serverError(w, r, err)
				return
			}
			h.dlqPage(w, r, http.StatusOK, errText, &dlqConfirm{Action: action, Count: len(letters), Position: pos})
			return
		}
		var n int
		var err error
		if action == "replay" {
			n, err = h.cfg.DLQ.Replay(r.Context(), name, f)
		} else {
			n, err = h.cfg.DLQ.Discard(r.Context(), name, f)
		}
		if errors.Is(err, dlq.ErrNotFound) {
			h.renderStatus(w, r, http.StatusNotFound, "Not found", "The queue or the letter no longer exists.")
			return
		}
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		if pos != "" && n == 0 {
			h.renderStatus(w, r, http.StatusNotFound, "No pending letter there",
				"There is no pending letter at "+pos+" in "+name+": it may have been replayed or discarded already.")
			return
		}
		h.log.InfoContext(r.Context(), "console: dead letters "+action+"ed", "dlq", name, "count", n, "filter", errText, "position", pos, "by", p.Name())
		http.Redirect(w, r, "/dlq/"+url.PathEscape(name)+"?ok=dlq-"+action, http.StatusSeeOther)
	}
}
