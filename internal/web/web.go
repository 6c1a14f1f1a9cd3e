// Package web is the Arus console: server-rendered pages (html/template)
// with their assets embedded in the binary, so it works with no internet
// and no JavaScript for every core flow.
//
// Every page is reached through the routes in routes.go; each page has its
// own file with its handlers. Sessions, CSRF tokens and permissions come
// from package auth: a page checks one permission through [Handler.require],
// and every POST form carries the session's CSRF token.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/dlq"
	"github.com/arus-platform/arus/internal/audit"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/mask"
	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/delivery"
	"github.com/arus-platform/arus/internal/relay/deliverylog"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/schema"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/gate"
	"github.com/arus-platform/arus/ticketing/payment"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Component is the state of one part of the system, shown on the system
// page and summarised in the top bar.
type Component struct {
	Name   string // "backbone", "auth store", ...
	Kind   string // "embedded", "kafka", "postgres", ...
	Where  string // address or path, without secrets
	Up     bool
	Detail string // the last error when down
}

// Config configures the console.
type Config struct {
	Auth *auth.Store
	// Broker backs the topics and consumer-group pages; nil hides them.
	Broker stream.Broker
	// DLQ backs the dead-letter pages; nil hides them.
	DLQ *dlq.Manager
	// Sagas backs the saga pages; nil hides them.
	Sagas *saga.Orchestrator
	// Schemas backs the schema pages; nil hides them.
	Schemas *schema.Registry
	// Masks holds the topics' masking policies, applied to the records the
	// console shows to users without records.unmask; nil masks nothing.
	Masks *mask.Store
	// Audit backs the audit-log page; nil hides it.
	Audit *audit.Log
	// Relay backs the relay pages; nil hides them.
	Relay *relay.Relay
	// Deliveries is the relay's delivery log and RouteStatus the delivery
	// engine's view of each route; either may be nil.
	Deliveries  *deliverylog.Log
	RouteStatus func() map[string]delivery.RouteStatus
	// Metrics is the process's metrics registry; the overview charts the
	// error rate and p99 latency of the handlers that run in the process
	// from it (see handlerSources). nil leaves those charts empty.
	Metrics prometheus.Gatherer
	// Scanner serves the gate scanner at /scan/ (docs/gate.md), for a
	// process that runs the gate service.
	Scanner bool
	// Logger receives errors. Default slog.Default().
	Logger *slog.Logger
	// Instance is the name shown in the top bar. Default "arus".
	Instance string
	// Engine names the backbone: embedded, kafka or redis.
	Engine  string
	Version string
	// Status reports the components' health; nil shows none.
	Status func(ctx context.Context) []Component
	// SecureCookies forces the Secure attribute on cookies, for a console
	// served over plain HTTP behind a TLS-terminating proxy. Cookies are
	// always Secure on a TLS connection.
	SecureCookies bool
	// MaxFormBytes bounds a form body. Default 1 MiB.
	MaxFormBytes int64
	// Ticketing backs the ticketing pages (dashboard, merchants, events,
	// staff, schedules, orders, refunds, payment methods); nil hides them.
	// Payments backs the cashier's counter and Gate the gates and devices
	// page; either may be nil, which hides its page.
	Ticketing *ticketing.Service
	Payments  *payment.Service
	Gate      *gate.Service
	// Shop serves the storefront under /shop/; nil leaves it out.
	Shop *ShopConfig
	// LiveEvery is how often pages with live figures (overview, consumer
	// groups) get new values over server-sent events. Default 5 s.
	LiveEvery time.Duration
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.Auth == nil {
		return errors.New("web: no auth store")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Instance == "" {
		c.Instance = "arus"
	}
	if c.MaxFormBytes == 0 {
		c.MaxFormBytes = 1 << 20
	}
	if c.LiveEvery < 0 {
		return errors.New("web: negative LiveEvery")
	}
	if c.LiveEvery == 0 {
		c.LiveEvery = liveEvery
	}
	if c.Shop != nil {
		if err := c.Shop.validate(); err != nil {
			return err
		}
	}
	if c.Status == nil {
		c.Status = func(context.Context) []Component { return nil }
	}
	return nil
}

// Handler serves the console.
type Handler struct {
	cfg     Config
	auth    *auth.Store
	log     *slog.Logger
	pages   map[string]*template.Template
	started time.Time
	mux     *http.ServeMux
	samples sampler
	rates   topicRates
	scans   scanSlots
	tails   scanSlots // live tails of the message browser, per user
	shop    *shop
}

// New parses the templates and returns the console handler.
func New(cfg Config) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, auth: cfg.Auth, log: cfg.Logger, pages: pages, started: time.Now()}
	if cfg.Shop != nil {
		if h.shop, err = newShop(h, *cfg.Shop); err != nil {
			return nil, err
		}
	}
	h.mux = http.NewServeMux()
	h.Register(h.mux)
	return h, nil
}

// ServeHTTP serves the console on its own; arus serve registers its pages
// on the shared mux with Register instead.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// secureHeaders adds the console's security headers: a strict content
// security policy (no inline script or style, nothing from elsewhere), no
// framing, no sniffing.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServer(http.FS(sub))
	return http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
}

// systemInfo is shown on the system page.
type systemInfo struct {
	Version    string
	GoVersion  string
	Engine     string
	Instance   string
	Started    time.Time
	Goroutines int
	Components []Component
}

func (h *Handler) systemInfo(ctx context.Context) systemInfo {
	return systemInfo{
		Version:    h.cfg.Version,
		GoVersion:  runtime.Version(),
		Engine:     h.cfg.Engine,
		Instance:   h.cfg.Instance,
		Started:    h.started,
		Goroutines: runtime.NumGoroutine(),
		Components: h.cfg.Status(ctx),
	}
}

func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	h.log.ErrorContext(r.Context(), "console: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	h.renderStatus(w, r, http.StatusInternalServerError, "Something went wrong",
		fmt.Sprintf("The server could not complete this request. The error is in its log (%s).", time.Now().UTC().Format(time.RFC3339)))
}
