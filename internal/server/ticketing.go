package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/customerapi"
	"github.com/arus-platform/arus/internal/notifyapi"
	"github.com/arus-platform/arus/internal/paymentapi"
	"github.com/arus-platform/arus/internal/secret"
	"github.com/arus-platform/arus/internal/ticketingapi"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/messages"
	"github.com/arus-platform/arus/ticketing/notify"
	"github.com/arus-platform/arus/ticketing/payment"
)

// openTicketing opens the e-ticketing services this process runs:
// customer sign-up (with auth, always), payment and notify, each with its
// own store, and adds their routes.
func (s *Server) openTicketing(ctx context.Context, mux *http.ServeMux, reg prometheus.Registerer) error {
	if err := s.openCustomers(ctx, mux); err != nil {
		return err
	}
	if s.cfg.runs("payment") {
		if err := s.openPayment(ctx, mux, reg); err != nil {
			return err
		}
	}
	if s.cfg.runs("notify") {
		if err := s.openNotify(ctx, mux, reg); err != nil {
			return err
		}
	}
	return nil
}

// openCustomers adds customer sign-up, and creates the topic it publishes
// on when missing (so it works with --strict). Its confirmation links point
// at this server's public URL.
func (s *Server) openCustomers(ctx context.Context, mux *http.ServeMux) error {
	partitions := s.cfg.Stream.DefaultPartitions
	if partitions == 0 {
		partitions = 4
	}
	err := s.broker.CreateTopic(ctx, stream.Topic{Name: messages.TopicCustomers, Partitions: partitions})
	if err != nil && !errors.Is(err, stream.ErrTopicExists) {
		return fmt.Errorf("create topic %s: %w", messages.TopicCustomers, err)
	}
	key, err := secret.LoadOrCreateKeyFile(filepath.Join(s.cfg.Data, "customer-confirm.key"))
	if err != nil {
		return fmt.Errorf("customer confirmation key: %w", err)
	}
	cs, err := auth.NewCustomers(s.auth, auth.CustomersConfig{Key: key, Producer: s.broker,
		ConfirmURL: func(token string) string {
			return s.publicURL() + customerapi.ConfirmPath + "?token=" + url.QueryEscape(token)
		}})
	if err != nil {
		return err
	}
	customerapi.Register(s.streams, mux, cs)
	s.customers = cs
	return nil
}

// openPayment opens the payment service. The simulated provider's secret
// comes from the configuration or a key file in the data directory; its
// callbacks go to this server's own callback route.
func (s *Server) openPayment(ctx context.Context, mux *http.ServeMux, reg prometheus.Registerer) error {
	key := []byte(s.cfg.PaymentSecret)
	if len(key) == 0 {
		var err error
		if key, err = secret.LoadOrCreateKeyFile(filepath.Join(s.cfg.Data, "payment-provider.key")); err != nil {
			return fmt.Errorf("payment provider secret: %w", err)
		}
	}
	db, err := store.Open(ctx, store.Config{DSN: s.cfg.DB, Dir: s.cfg.Data, Component: "payment"})
	if err != nil {
		return err
	}
	s.closers = append(s.closers, db.Close)
	svc, err := payment.Open(ctx, payment.Config{DB: db, Broker: s.broker, Secret: key, Partitions: s.cfg.Stream.DefaultPartitions,
		CallbackURL: s.selfURL("/api/v1/payment/provider/callback"), Logger: s.log, Registerer: reg})
	if err != nil {
		return err
	}
	s.ready["payment store"] = svc.Ping
	s.payment = svc
	paymentapi.Register(s.streams, mux, svc, func(r *http.Request) (payment.Scope, error) {
		sc, err := s.merchantScope(r)
		return payment.Scope(sc), err
	})
	s.runners = append(s.runners, svc.Run)
	return nil
}

// openNotify opens the notification service: by SMTP when configured,
// else into its mailbox.
func (s *Server) openNotify(ctx context.Context, mux *http.ServeMux, reg prometheus.Registerer) error {
	db, err := store.Open(ctx, store.Config{DSN: s.cfg.DB, Dir: s.cfg.Data, Component: "notify"})
	if err != nil {
		return err
	}
	s.closers = append(s.closers, db.Close)
	svc, err := notify.Open(ctx, notify.Config{DB: db, Broker: s.broker, SMTP: s.cfg.SMTP,
		Partitions: s.cfg.Stream.DefaultPartitions, Logger: s.log, Registerer: reg,
		// With the gate running, e-tickets carry its signed passes.
		AwaitAccess: s.cfg.runs("gate")})
	if err != nil {
		return err
	}
	s.ready["notify store"] = svc.Ping
	notifyapi.Register(s.streams, mux, svc)
	s.runners = append(s.runners, svc.Run)
	return nil
}

// merchantScope is which merchants' data the request's principal covers
// on the ticketing, payment and gate APIs (ticketingapi.ScopeOf), with
// the memberships the ticketing service keeps when it runs here.
func (s *Server) merchantScope(r *http.Request) (ticketing.Scope, error) {
	var members ticketingapi.Memberships
	if s.ticketing != nil {
		members = s.ticketing
	}
	return ticketingapi.ScopeOf(r, members, s.auth)
}

// selfURL returns a function giving the URL of path on this server's own
// listener, for the server to call itself.
func (s *Server) selfURL(path string) func() string {
	return func() string {
		scheme := "http"
		if s.cfg.TLSCert != "" {
			scheme = "https"
		}
		return scheme + "://" + s.ln.Addr().String() + path
	}
}

// runServices runs the e-ticketing services until ctx ends.
func (s *Server) runServices(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, run := range s.runners {
		g.Go(func() error { return run(gctx) })
	}
	if err := g.Wait(); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
