package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/payment"
)

// ShopConfig configures the storefront: the public pages under /shop/
// where buyers find events, buy tickets, pay and get their e-tickets.
type ShopConfig struct {
	// Ticketing sells the tickets. Required.
	Ticketing *ticketing.Service
	// Payment takes the money; nil leaves orders waiting for a payment
	// made elsewhere (the shop then shows no payment step).
	Payment *payment.Service
	// Customers signs buyers up; nil offers no sign-up page.
	Customers *auth.Customers
	// OrderKey (at least 32 bytes) signs the secret order links.
	OrderKey []byte
	// Pass returns the payload of a ticket's QR code: the gate's signed
	// pass. nil shows the ticket's own code.
	Pass func(ctx context.Context, e ticketing.Event, t ticketing.Ticket) (string, error)
	// Gates returns the names of the gates that let a ticket of the area
	// in, for the e-ticket's hint; nil gives no names.
	Gates func(ctx context.Context, eventID, areaID string) ([]string, error)
	// PostLimit is how many POSTs one client address may make per minute
	// on the shop's forms. Default 30.
	PostLimit int
}

func (c *ShopConfig) validate() error {
	if c.Ticketing == nil {
		return errors.New("web: shop: no ticketing service")
	}
	if len(c.OrderKey) < 32 {
		return fmt.Errorf("web: shop: the order key has %d bytes; use at least 32", len(c.OrderKey))
	}
	if c.PostLimit < 0 {
		return errors.New("web: shop: negative PostLimit")
	}
	if c.PostLimit == 0 {
		c.PostLimit = 30
	}
	return nil
}

// shop serves the storefront.
type shop struct {
	h      *Handler
	cfg    ShopConfig
	pages  map[string]*template.Template
	limits *postLimits
}

func newShop(h *Handler, cfg ShopConfig) (*shop, error) {
	pages, err := parseShopPages()
	if err != nil {
		return nil, err
	}
	return &shop{h: h, cfg: cfg, pages: pages, limits: newPostLimits(cfg.PostLimit)}, nil
}

// registerShop adds the storefront's routes. Every page is public: an
// order is reached only through its secret link, or by the signed-in
// customer who bought it.
func (h *Handler) registerShop(handle func(string, http.Handler)) {
	s := h.shop
	get := func(pattern string, f http.HandlerFunc) { handle("GET "+pattern, f) }
	post := func(pattern string, f http.HandlerFunc) { handle("POST "+pattern, s.form(f)) }
	get("/shop/{$}", s.events)
	get("/shop/events/{event}", s.event)
	get("/shop/events/{event}/checkout", s.checkoutForm)
	post("/shop/events/{event}/checkout", s.checkout)
	get("/shop/events/{event}/queue", s.queue)
	post("/shop/events/{event}/queue", s.joinQueue)
	get("/shop/orders/{token}", s.order)
	get("/shop/orders/{token}/provider", s.providerPage)
	post("/shop/orders/{token}/provider", s.providerPay)
	get("/shop/orders/{token}/tickets", s.tickets)
	post("/shop/orders/{token}/refund", s.refund)
	get("/shop/lang", s.setLang)
	get("/shop/login", s.loginForm)
	post("/shop/login", s.login)
	post("/shop/logout", s.logout)
	get("/shop/my", s.myOrders)
	if s.cfg.Customers != nil {
		get("/shop/signup", s.signupForm)
		post("/shop/signup", s.signup)
	}
	handle("/shop/", http.HandlerFunc(s.notFound))
}

// shopView is what every storefront template receives.
type shopView struct {
	Lang  string
	Path  string
	CSRF  string
	Title string
	// User is the signed-in customer, if any.
	User *auth.User
	Data any
}

// T translates a message key into the page's language.
func (v shopView) T(key string, args ...any) string { return translate(v.Lang, key, args...) }

// Other is the language the switch offers.
func (v shopView) Other() string { return otherLang(v.Lang) }

// Money writes whole rupiah as "Rp 150.000".
func (v shopView) Money(n int64) string { return formatIDR(n) }

// When writes a time in the event's time zone, in the page's language.
func (v shopView) When(t time.Time, tz string) string { return formatWhen(v.Lang, t, tz) }

// Clock writes the time of day in the event's time zone: "18:20 WIB".
func (v shopView) Clock(t time.Time, tz string) string { return t.In(zone(tz)).Format("15:04 MST") }

var shopFuncs = template.FuncMap{
	// seq is 1, 2, ... n.
	"seq": func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i + 1
		}
		return out
	},
}

func parseShopPages() (map[string]*template.Template, error) {
	names, err := templateFS.ReadDir("templates")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, e := range names {
		name := strings.TrimSuffix(e.Name(), ".html")
		if !strings.HasPrefix(name, "shop_") || name == "shop_layout" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).Funcs(shopFuncs).ParseFS(templateFS, "templates/shop_layout.html", "templates/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", e.Name(), err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes a storefront page in the request's language.
func (s *shop) render(w http.ResponseWriter, r *http.Request, status int, page, title string, data any) {
	t, ok := s.pages[page]
	if !ok {
		s.h.serverError(w, r, fmt.Errorf("web: no shop page %q", page))
		return
	}
	v := shopView{Lang: s.lang(r), Path: r.URL.RequestURI(), CSRF: s.h.loginCSRF(w, r), User: s.user(r), Data: data}
	v.Title = v.T(title)
	s.h.writePage(w, r, status, t, "shop_layout", page, v.Lang, v)
}

type shopMessage struct {
	Heading, Text string
}

// message renders a page of one heading and one line.
func (s *shop) message(w http.ResponseWriter, r *http.Request, status int, heading, text string) {
	lang := s.lang(r)
	s.render(w, r, status, "shop_message", heading, shopMessage{Heading: translate(lang, heading), Text: translate(lang, text)})
}

func (s *shop) notFound(w http.ResponseWriter, r *http.Request) {
	s.message(w, r, http.StatusNotFound, "notfound.title", "notfound.text")
}

func (s *shop) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.h.log.ErrorContext(r.Context(), "shop: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	s.message(w, r, http.StatusInternalServerError, "error.title", "error.text")
}

// form wraps a POST handler: a bounded body, the per-address rate limit,
// and the form's CSRF token (double-submit, as on the sign-in form).
func (s *shop) form(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if wait, ok := s.limits.allow(s.h.auth.ClientIP(r), time.Now()); !ok {
			w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds()+0.999)))
			s.message(w, r, http.StatusTooManyRequests, "limit.title", "limit.text")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			s.message(w, r, http.StatusBadRequest, "badform.title", "badform.text")
			return
		}
		if !checkLoginCSRF(r) {
			s.message(w, r, http.StatusForbidden, "expired.title", "expired.text")
			return
		}
		next(w, r)
	}
}

// user is the signed-in customer (any signed-in user), or nil.
func (s *shop) user(r *http.Request) *auth.User {
	c, err := r.Cookie(auth.SessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	_, u, err := s.h.auth.Session(r.Context(), c.Value)
	if err != nil {
		return nil
	}
	return &u
}

// orderToken is the secret part of an order's link: an HMAC of its id
// under the shop's key. The link is the only way to an order for a guest.
func (s *shop) orderToken(orderID string) string {
	m := hmac.New(sha256.New, s.cfg.OrderKey)
	m.Write([]byte("arus.shop.order\x00" + orderID))
	return orderID + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// orderLink is the path of an order's page.
func (s *shop) orderLink(orderID string) string { return "/shop/orders/" + s.orderToken(orderID) }

// orderOf returns the order a link names. ok is false when the link is
// not one the shop made or names no order: the caller answers 404,
// whatever was wrong.
func (s *shop) orderOf(r *http.Request) (o ticketing.Order, token string, ok bool, err error) {
	token = r.PathValue("token")
	id, _, found := strings.Cut(token, ".")
	if !found || id == "" || !hmac.Equal([]byte(token), []byte(s.orderToken(id))) {
		return o, "", false, nil
	}
	o, err = s.cfg.Ticketing.Order(r.Context(), ticketing.Everything, id)
	if errors.Is(err, ticketing.ErrNotFound) {
		return o, "", false, nil
	}
	return o, token, err == nil, err
}
