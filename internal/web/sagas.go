package web

import (
	"errors"
	"net/http"
	"slices"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/saga"
)

type sagasData struct {
	Page   saga.Page
	State  string
	States []saga.State
	After  string
}

func (h *Handler) sagas(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	q := r.URL.Query()
	d := sagasData{State: q.Get("state"), After: q.Get("after"),
		States: []saga.State{saga.StateRunning, saga.StateCompensating, saga.StateCompleted, saga.StateCompensated, saga.StateFailed}}
	if d.State != "" && !slices.Contains(d.States, saga.State(d.State)) {
		h.renderStatus(w, r, http.StatusBadRequest, "Bad filter", "State "+d.State+" is not one of running, compensating, completed, compensated or failed.")
		return
	}
	page, err := h.cfg.Sagas.List(r.Context(), saga.ListOptions{State: saga.State(d.State), After: d.After, Limit: 50})
	if err != nil {
		h.renderStatus(w, r, http.StatusBadRequest, "Bad page", "The page could not be read: "+err.Error())
		return
	}
	d.Page = page
	h.render(w, r, http.StatusOK, "sagas", view{Data: d})
}

func (h *Handler) sagaInstance(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id := r.PathValue("id")
	if saga.ValidateID(id) != nil {
		h.renderStatus(w, r, http.StatusNotFound, "No such saga", "There is no saga instance with id "+id+".")
		return
	}
	in, err := h.cfg.Sagas.Get(r.Context(), id)
	if errors.Is(err, saga.ErrNotFound) {
		h.renderStatus(w, r, http.StatusNotFound, "No such saga", "There is no saga instance with id "+id+".")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "saga", view{Data: in})
}
