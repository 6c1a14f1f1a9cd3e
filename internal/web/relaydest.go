package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/sink"
)

// The destination editor: create or change a destination, testing the
// connection on demand and always before saving (the relay refuses to save
// one that fails), and look at its health, its routes and its tables.

// reachTimeout bounds a connection test or catalogue read from the
// console, so a destination that drops packets does not hang the page.
const reachTimeout = 10 * time.Second

type destForm struct {
	Name, Kind, Host, Port, Database, User, DSN, Options string
	// Password is echoed only into the form it came from, so a test does
	// not make the operator type it again before saving.
	Password string
	// Create asks for a missing SQLite file to be created.
	Create bool
	// NoPassword says the account has none (trust authentication, an
	// empty MariaDB password).
	NoPassword bool
}

func destFormOf(d relay.Destination) destForm {
	f := destForm{Name: d.Name, Kind: d.Kind, Host: d.Host, Database: d.Database, User: d.User, DSN: d.DSN}
	if d.Port != 0 {
		f.Port = strconv.Itoa(d.Port)
	}
	keys := make([]string, 0, len(d.Options))
	for k := range d.Options {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + d.Options[k] + "\n")
	}
	f.Options = b.String()
	return f
}

func destFormFrom(r *http.Request) destForm {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	return destForm{Name: v("name"), Kind: v("kind"), Host: v("host"), Port: v("port"), Database: v("database"),
		User: v("user"), DSN: v("dsn"), Options: v("options"), Password: r.PostFormValue("password"), Create: v("create") == "1",
		NoPassword: v("no_password") == "1"}
}

// input turns the form into the relay's input; errors of the form's own
// syntax (a port that is not a number, an option line without '=') are
// filed in errs.
func (f destForm) input(errs map[string]string) relay.DestinationInput {
	in := relay.DestinationInput{Name: f.Name, Kind: f.Kind, Host: f.Host, Database: f.Database, User: f.User,
		DSN: f.DSN, Password: f.Password, Create: f.Create, NoPassword: f.NoPassword}
	if f.Port != "" {
		p, err := strconv.Atoi(f.Port)
		if err != nil {
			errs["port"] = "must be a number from 1 to 65535"
		}
		in.Port = p
	}
	for i, line := range strings.Split(f.Options, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			errs["options"] = "line " + strconv.Itoa(i+1) + ": write each option as name=value"
			continue
		}
		if in.Options == nil {
			in.Options = map[string]string{}
		}
		in.Options[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return in
}

type destPage struct {
	// Dest is the saved destination; nil on the new-destination page.
	Dest   *relay.Destination
	Form   destForm
	Kinds  []string
	Errors map[string]string
	// Tested is set after a connection test, TestError when it failed;
	// Elapsed is shown for a test that passed only (see relay.TestResult).
	Tested    bool
	TestError string
	Elapsed   time.Duration
	// Tables is the catalogue, read on request (?tables=1).
	ShowTables   bool
	Tables       []sink.TableInfo
	CatalogError string
	Routes       []relay.Route
	// Events are the destination's latest changes of health.
	Events []relay.HealthEvent
}

var destKinds = []string{relay.KindPostgres, relay.KindMySQL, relay.KindSQLServer, relay.KindSQLite}

func (h *Handler) destPage(w http.ResponseWriter, r *http.Request, status int, d destPage) {
	d.Kinds = destKinds
	if d.Dest != nil {
		routes, err := h.cfg.Relay.Routes(r.Context())
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		for _, rt := range routes {
			if rt.Destination == d.Dest.ID {
				d.Routes = append(d.Routes, rt)
			}
		}
		if d.Events, err = h.cfg.Relay.DestinationEvents(r.Context(), d.Dest.ID, 20); err != nil {
			h.serverError(w, r, err)
			return
		}
	}
	h.render(w, r, status, "relay_destination", view{Data: d})
}

func (h *Handler) newRelayDest(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.destPage(w, r, http.StatusOK, destPage{Form: destForm{Kind: relay.KindPostgres}})
}

func (h *Handler) relayDest(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	dest, err := h.cfg.Relay.Destination(r.Context(), r.PathValue("id"))
	if err != nil {
		h.relayFail(w, r, "destinations", err)
		return
	}
	d := destPage{Dest: &dest, Form: destFormOf(dest), ShowTables: r.URL.Query().Get("tables") == "1"}
	if d.ShowTables {
		ctx, cancel := context.WithTimeout(r.Context(), reachTimeout)
		defer cancel()
		d.Tables, err = h.cfg.Relay.Catalog(ctx, dest.ID)
		if err != nil {
			d.CatalogError = reachError(err)
		}
	}
	h.destPage(w, r, http.StatusOK, d)
}

// saveRelayDest serves the editor's two buttons: "test" tests the form's
// settings, "save" saves them (the relay tests them first).
func (h *Handler) saveRelayDest(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	id := r.PathValue("id")
	d := destPage{Form: destFormFrom(r)}
	if id != "" {
		dest, err := h.cfg.Relay.Destination(ctx, id)
		if err != nil {
			h.relayFail(w, r, "destinations", err)
			return
		}
		d.Dest = &dest
	}
	errs := map[string]string{}
	in := d.Form.input(errs)
	if len(errs) > 0 {
		d.Errors = errs
		h.destPage(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	rctx, cancel := context.WithTimeout(ctx, reachTimeout)
	defer cancel()
	var err error
	var saved relay.Destination
	test := r.PostFormValue("action") == "test"
	start := time.Now()
	switch {
	case test && id == "":
		err = h.cfg.Relay.TestDestination(rctx, in)
	case test:
		err = h.cfg.Relay.TestSavedDestination(rctx, id, &in)
	case id == "":
		saved, err = h.cfg.Relay.CreateDestination(rctx, in)
	default:
		saved, err = h.cfg.Relay.UpdateDestination(rctx, id, in)
	}
	d.Elapsed = time.Since(start).Round(time.Millisecond)
	if err == nil && !test {
		http.Redirect(w, r, "/relay/destinations/"+url.PathEscape(saved.ID)+"?ok=relay-saved", http.StatusSeeOther)
		return
	}
	errs, ok := formErrors(err)
	if err != nil && !ok {
		h.serverError(w, r, err)
		return
	}
	// A failed connection test is the test's result, not a field's error.
	d.Tested = test || errs["(connection)"] != ""
	d.TestError = errs["(connection)"]
	delete(errs, "(connection)")
	d.Errors = errs
	status := http.StatusOK
	if err != nil && !(test && len(errs) == 0) {
		status = http.StatusUnprocessableEntity
	}
	h.destPage(w, r, status, d)
}

func (h *Handler) deleteRelayDest(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	dest, err := h.cfg.Relay.Destination(r.Context(), r.PathValue("id"))
	if err != nil {
		h.relayFail(w, r, "destinations", err)
		return
	}
	if !h.confirmed(w, r, confirmData{
		Title:   "Delete destination " + dest.Name,
		Message: "Arus forgets how to reach this database and its stored password. Its tables are not touched.",
		Action:  r.URL.Path, Button: "Delete destination", Cancel: "/relay/destinations/" + url.PathEscape(dest.ID),
	}) {
		return
	}
	if err := h.cfg.Relay.DeleteDestination(r.Context(), dest.ID); err != nil {
		h.relayFail(w, r, "destinations", err)
		return
	}
	http.Redirect(w, r, "/relay/destinations?ok=relay-deleted", http.StatusSeeOther)
}
