package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/delivery"
	"github.com/arus-platform/arus/internal/relay/deliverylog"
)

// The relay pages show what the relay is configured to do and how its
// destinations are: applications, datasets, destinations with their
// health, routes with their mappings and state, and the delivery log.
// The forms that change them are in relayforms.go.

// filterTime is how the delivery log's time filter is written: the value
// of an <input type="datetime-local">, read as UTC.
const filterTime = "2006-01-02T15:04"

type relayData struct {
	Section      string
	Applications []relay.Application
	Datasets     []relay.Dataset
	Destinations []relay.Destination
	Routes       []relay.Route
	// Names of destinations by id, for the routes table.
	DestNames map[string]string
	// Status is the delivery engine's view of each route, by id.
	Status map[string]delivery.RouteStatus
	// The delivery log's page and its filters.
	Deliveries deliverylog.Page
	Filter     deliverylog.Query
	// Since and Until are the time filter as given; NextURL the next page.
	Since, Until, NextURL string
	// Error is a notice for the whole page; Errors are by form field.
	Error  string
	Errors map[string]string
	// The creation forms on the list pages, as last submitted.
	AppForm     appForm
	DatasetForm datasetForm
	NewKey      *newKey
}

func (h *Handler) relayPage(section string) func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
		if section == "destinations" && wantsEvents(r) {
			h.streamValues(w, r, h.destinationsLive)
			return
		}
		h.relaySection(w, r, http.StatusOK, relayData{Section: section})
	}
}

// destinationsLive are the destinations page's live figures: each
// destination's health and last error, keyed by id.
func (h *Handler) destinationsLive(ctx context.Context) (map[string]string, error) {
	dests, err := h.cfg.Relay.Destinations(ctx)
	if err != nil {
		return nil, err
	}
	v := make(map[string]string, 3*len(dests))
	for _, d := range dests {
		v["health:"+d.ID], v["pill:health:"+d.ID] = d.Health, healthPill(d.Health)
		v["error:"+d.ID] = truncate(d.LastError, 120)
	}
	return v, nil
}

// healthPill is the pill class of a destination's health.
func healthPill(health string) string {
	switch health {
	case relay.HealthUp:
		return "ok"
	case relay.HealthDown:
		return "bad"
	}
	return "info"
}

// relaySection renders a relay list page with d's form state and notices.
func (h *Handler) relaySection(w http.ResponseWriter, r *http.Request, status int, d relayData) {
	ctx := r.Context()
	d.DestNames = map[string]string{}
	var err error
	switch d.Section {
	case "applications":
		if d.Applications, err = h.cfg.Relay.Applications(ctx); err == nil {
			d.Datasets, err = h.cfg.Relay.Datasets(ctx)
		}
	case "datasets":
		d.Datasets, err = h.cfg.Relay.Datasets(ctx)
	case "destinations":
		d.Destinations, err = h.cfg.Relay.Destinations(ctx)
	case "routes":
		if d.Routes, err = h.cfg.Relay.Routes(ctx); err == nil {
			var dests []relay.Destination
			dests, err = h.cfg.Relay.Destinations(ctx)
			for _, x := range dests {
				d.DestNames[x.ID] = x.Name
			}
		}
		if h.cfg.RouteStatus != nil {
			d.Status = h.cfg.RouteStatus()
		}
	case "deliveries":
		q := r.URL.Query()
		d.Filter = deliverylog.Query{Dataset: q.Get("dataset"), RouteID: q.Get("route"), DestinationID: q.Get("destination"),
			Application: q.Get("application"), RecordID: q.Get("record"), Status: deliverylog.Status(q.Get("status")), After: q.Get("after"), Limit: 100}
		d.Since, d.Until = q.Get("since"), q.Get("until")
		for _, t := range []struct {
			name, v string
			dst     *time.Time
		}{{"since", d.Since, &d.Filter.Since}, {"until", d.Until, &d.Filter.Until}} {
			if t.v == "" {
				continue
			}
			tm, perr := time.ParseInLocation(filterTime, t.v, time.UTC)
			if perr != nil {
				d.Error = t.name + ": give a time as 2006-01-02T15:04 (UTC)"
				continue
			}
			*t.dst = tm
		}
		if d.Destinations, err = h.cfg.Relay.Destinations(ctx); err != nil {
			break
		}
		next := url.Values{}
		for k, v := range map[string]string{"dataset": d.Filter.Dataset, "route": d.Filter.RouteID, "destination": d.Filter.DestinationID,
			"application": d.Filter.Application, "record": d.Filter.RecordID, "status": string(d.Filter.Status), "since": d.Since, "until": d.Until} {
			if v != "" {
				next.Set(k, v)
			}
		}
		if h.cfg.Deliveries != nil && d.Error == "" {
			d.Deliveries, err = h.cfg.Deliveries.Query(ctx, d.Filter)
			if errors.Is(err, deliverylog.ErrInvalidQuery) {
				d.Error, err = err.Error(), nil
			}
			if err == nil {
				err = d.Deliveries.HideRows(api.NewViewer(ctx, h.cfg.Masks).Masked)
			}
			if d.Deliveries.Next != "" {
				next.Set("after", d.Deliveries.Next)
				d.NextURL = "/relay/deliveries?" + next.Encode()
			}
		}
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, status, "relay", view{Data: d})
}
