package web

import (
	"net/http"
	"strings"

	"github.com/arus-platform/arus/internal/audit"
	"github.com/arus-platform/arus/internal/auth"
)

type auditData struct {
	Page   audit.Page
	Actor  string
	Before string
}

func (h *Handler) auditLog(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	q := r.URL.Query()
	d := auditData{Actor: strings.TrimSpace(q.Get("actor")), Before: q.Get("before")}
	page, err := h.cfg.Audit.List(r.Context(), audit.Query{Actor: d.Actor, Before: d.Before, Limit: 100})
	if err != nil {
		h.renderStatus(w, r, http.StatusBadRequest, "Bad page", err.Error())
		return
	}
	d.Page = page
	h.render(w, r, http.StatusOK, "audit", view{Data: d})
}
