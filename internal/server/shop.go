package server

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/arus-platform/arus/internal/secret"
	"github.com/arus-platform/arus/internal/web"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/gate"
)

// shopConfig configures the storefront when this process sells tickets:
// the ticketing service, the payment service when it runs here, a key
// (shop-order.key in the data directory) signing the secret order links,
// and the gate's signed passes for the e-tickets' QR codes when the gate
// runs here.
func (s *Server) shopConfig() (*web.ShopConfig, error) {
	if s.ticketing == nil {
		return nil, nil
	}
	key, err := secret.LoadOrCreateKeyFile(filepath.Join(s.cfg.Data, "shop-order.key"))
	if err != nil {
		return nil, fmt.Errorf("shop order key: %w", err)
	}
	cfg := &web.ShopConfig{Ticketing: s.ticketing, Payment: s.payment, Customers: s.customers, OrderKey: key}
	if g := s.gate; g != nil {
		cfg.Pass = func(ctx context.Context, e ticketing.Event, t ticketing.Ticket) (string, error) {
			// The pass the gate issued for the ticket: the event's window,
			// from a day before it starts (doors open early).
			return g.SignPass(ctx, gate.Pass{Kind: gate.KindTicket, EventID: e.ID, PassID: t.ID, AreaID: t.AreaID,
				NotBefore: e.Starts.Add(-24 * time.Hour), NotAfter: e.Ends})
		}
		cfg.Gates = func(ctx context.Context, eventID, areaID string) ([]string, error) {
			gates, err := g.Gates(ctx, eventID)
			if err != nil {
				return nil, err
			}
			var names []string
			for _, gt := range gates {
				if gt.Direction != gate.DirectionExit && (len(gt.Areas) == 0 || slices.Contains(gt.Areas, areaID)) {
					names = append(names, cmp.Or(gt.Name, gt.GateID))
				}
			}
			return names, nil
		}
	}
	return cfg, nil
}
