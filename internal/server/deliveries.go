package server

import (
	"errors"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/delivery"
	"github.com/arus-platform/arus/internal/relay/deliverylog"
	"github.com/arus-platform/arus/internal/relay/sink"
	"github.com/arus-platform/arus/invalid"
)

// registerDeliveries adds the delivery engine's state and the delivery log
// to the API:
//
//	GET /api/v1/relay/status      every route's guarantee, state and lag in this process
//	GET /api/v1/relay/deliveries  the delivery log, filtered, newest first
func (s *Server) registerDeliveries(mux *http.ServeMux) {
	read := []auth.Permission{auth.PermRelayRead}
	s.streams.Route(mux, "GET /api/v1/relay/status", read, func(w http.ResponseWriter, r *http.Request) error {
		api.WriteJSON(w, http.StatusOK, map[string]any{"routes": s.routeStatuses()})
		return nil
	})
	s.streams.Route(mux, "GET /api/v1/relay/deliveries", read, func(w http.ResponseWriter, r *http.Request) error {
		q, err := deliveryQuery(r)
		if err != nil {
			return err
		}
		page, err := s.deliveryLog.Query(r.Context(), q)
		if errors.Is(err, deliverylog.ErrInvalidQuery) {
			// The log checks the status and the cursor (after).
			param := "after"
			if q.Status != "" && !q.Status.Valid() {
				param = "status"
			}
			return api.Coded(api.Invalid(err.Error()), "query_invalid", param)
		}
		if err != nil {
			return err
		}
		if err := page.HideRows(api.NewViewer(r.Context(), s.masks).Masked); err != nil {
			return err
		}
		api.WriteJSON(w, http.StatusOK, page)
		return nil
	})
}

func (s *Server) routeStatuses() []relay.RouteStatus {
	var out []relay.RouteStatus
	for _, st := range s.delivery.Status() {
		g := "exactly-once"
		if st.Guarantee == sink.AtLeastOnce {
			g = "at-least-once"
		} else if st.Guarantee == 0 {
			g = "unknown"
		}
		out = append(out, relay.RouteStatus{RouteID: st.RouteID, Route: st.Route, DestinationID: st.DestinationID, Group: st.Group,
			Guarantee: g, State: st.State, LastError: st.LastError, Since: st.Since, Lag: st.Lag})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Route < out[j].Route })
	return out
}

// deliveryQuery reads the delivery log's filters from a query string.
func deliveryQuery(r *http.Request) (deliverylog.Query, error) {
	v := r.URL.Query()
	q := deliverylog.Query{
		Application: v.Get("application"), Dataset: v.Get("dataset"), DestinationID: v.Get("destination"),
		RouteID: v.Get("route"), RecordID: v.Get("record"), Status: deliverylog.Status(v.Get("status")), After: v.Get("after"),
	}
	var errs []invalid.Field
	for name, dst := range map[string]*time.Time{"since": &q.Since, "until": &q.Until} {
		if s := v.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				errs = append(errs, invalid.Field{Name: name, Message: "not an RFC 3339 time, e.g. 2026-01-31T09:00:00Z"})
			}
			*dst = t
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			errs = append(errs, invalid.Field{Name: "limit", Message: "a whole number from 1 to 1000"})
		}
		q.Limit = n
	}
	if len(errs) > 0 {
		return q, api.Coded(api.Invalid(errs[0].Name+": "+errs[0].Message, errs...), "query_invalid", errs[0].Name)
	}
	return q, nil
}

// routeStatusMap gives the console the engine's route states, or nil when
// the relay does not run here.
func (s *Server) routeStatusMap() func() map[string]delivery.RouteStatus {
	if s.delivery == nil {
		return nil
	}
	return s.delivery.Status
}
