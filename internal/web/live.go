package web

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/arus-platform/arus/internal/auth"
)

// Live figures: a page renders every value on the server first, marks the
// elements that change with data-live="key", and names its event source
// with data-live-source on a container. static/app.js then opens an
// EventSource there and replaces each element's text with the value of its
// key from every "values" event; a key "pill:<key>" sets the state of a
// status pill (ok, warn, info). Without JavaScript the page shows the
// values as rendered.

// liveEvery is how often a live page's figures are sent again, unless
// Config.LiveEvery says otherwise.
const liveEvery = 5 * time.Second

// wantsEvents reports whether the request asks for a server-sent event
// stream rather than the page: EventSource sends Accept: text/event-stream.
func wantsEvents(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/event-stream" {
			return true
		}
	}
	return false
}

// streamValues sends values() as a "values" event every Config.LiveEvery until
// the client goes away or the session that opened the stream ends (signed
// out, expired, its user disabled: see auth.Store.SessionContext). An error
// from values ends the stream; the browser reconnects on its own, and a
// reconnection without a session is sent to the login page.
func (h *Handler) streamValues(w http.ResponseWriter, r *http.Request, values func(ctx context.Context) (map[string]string, error)) {
	h.streamEvents(w, r, h.cfg.LiveEvery, "values", func(ctx context.Context) (any, bool, error) {
		v, err := values(ctx)
		return v, true, err
	})
}

// streamEvents sends next()'s value as a JSON event named name every
// interval, when next says there is one to send, on the terms of
// streamValues.
func (h *Handler) streamEvents(w http.ResponseWriter, r *http.Request, every time.Duration, name string, next func(ctx context.Context) (any, bool, error)) {
	if p := auth.FromContext(r.Context()); p != nil && p.Session != nil {
		ctx, cancel := h.auth.SessionContext(r.Context(), *p.Session)
		defer cancel()
		r = r.WithContext(ctx)
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Vary", "Accept")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(r.Context(), max(every, time.Second))
		v, send, err := next(ctx)
		cancel()
		if err != nil {
			if r.Context().Err() == nil {
				h.log.WarnContext(r.Context(), "console: live events", "path", r.URL.Path, "err", err)
			}
			return
		}
		if send {
			b, _ := json.Marshal(v)
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}
