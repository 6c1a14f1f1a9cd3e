package web

import (
	"errors"
	"net/http"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/delivery"
	"github.com/arus-platform/arus/internal/relay/deliverylog"
)

// The relay pages show what the relay is configured to do and how its
// destinations are: applications, datasets, destinations with their
// health, and routes with their mappings. Changes go through the API
// (docs/relay.md) for now.

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
	Error      string
}

func (h *Handler) relayPage(section string) func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
		ctx := r.Context()
		d := relayData{Section: section, DestNames: map[string]string{}}
		var err error
		switch section {
		case "applications":
			d.Applications, err = h.cfg.Relay.Applications(ctx)
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
				Application: q.Get("application"), Status: deliverylog.Status(q.Get("status")), After: q.Get("after"), Limit: 100}
			if h.cfg.Deliveries != nil {
				d.Deliveries, err = h.cfg.Deliveries.Query(ctx, d.Filter)
				if errors.Is(err, deliverylog.ErrInvalidQuery) {
					d.Error, err = err.Error(), nil
				}
			}
		}
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		h.render(w, r, http.StatusOK, "relay", view{Data: d})
	}
}
