package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/invalid"
)

// The relay's forms: applications and datasets are created on their list
// pages, datasets edited on their own page; destinations and routes have
// editors of their own (relaydest.go, relayroute.go). Every change goes
// through the relay's own methods, so the console obeys the same rules
// as the API and its errors name the same fields.

// formErrors turns the relay's errors into messages by form field. The
// relay names fields as a JSON body would ("datasets[1]",
// "mapping[2].field"); each message is also filed under the field's
// shorter names ("mapping[2]", "mapping") that have none yet, so a form
// can show it beside the input or the row. ok is false for errors that
// are no fault of the input.
func formErrors(err error) (errs map[string]string, ok bool) {
	errs = map[string]string{}
	add := func(field, msg string) {
		for name := field; ; {
			if _, dup := errs[name]; !dup {
				errs[name] = msg
			}
			i := strings.LastIndexAny(name, "[.")
			if i <= 0 {
				return
			}
			name = name[:i]
		}
	}
	var ve *invalid.Fields
	var te *relay.TestError
	var rl *relay.RateLimitError
	switch {
	case errors.As(err, &rl):
		add("", "Too many connection tests: "+strings.TrimPrefix(err.Error(), "relay: too many connection tests; ")+".")
	case errors.As(err, &ve):
		for _, f := range ve.List {
			add(f.Name, f.Message)
		}
	case errors.As(err, &te):
		add("(connection)", te.Err.Error())
	case errors.Is(err, relay.ErrNameTaken):
		add("name", "is taken; choose another name")
	case errors.Is(err, relay.ErrInUse), errors.Is(err, relay.ErrNotFound):
		add("", strings.TrimPrefix(err.Error(), "relay: "))
	default:
		return nil, false
	}
	return errs, true
}

// reachError says why a destination could not be reached (its connection
// test's error) or looked up, for a notice.
func reachError(err error) string {
	var te *relay.TestError
	if errors.As(err, &te) {
		return te.Err.Error()
	}
	return strings.TrimPrefix(err.Error(), "relay: ")
}

// problemList lists a validation error's problems as lines, for a summary
// at the top of a long form.
func problemList(err error) []string {
	var ve *invalid.Fields
	if !errors.As(err, &ve) {
		return nil
	}
	out := make([]string, len(ve.List))
	for i, f := range ve.List {
		out[i] = f.Name + ": " + f.Message
	}
	return out
}

// confirmData is a review step: what is about to happen, and a form that
// posts the same action again with confirmed=yes.
type confirmData struct {
	Title, Message string
	Action         string // the form's action
	Button         string
	Cancel         string // where Cancel leads
}

// confirmed reports whether the request is the second, confirming post of
// a review step; if it is not, it renders the review and returns false.
func (h *Handler) confirmed(w http.ResponseWriter, r *http.Request, d confirmData) bool {
	if r.PostFormValue("confirmed") == "yes" {
		return true
	}
	h.render(w, r, http.StatusOK, "confirm", view{Data: d})
	return false
}

// relayFail answers an error of a relay change: an input error goes back to
// the list page it came from as a notice, anything else is a server error.
func (h *Handler) relayFail(w http.ResponseWriter, r *http.Request, section string, err error) {
	errs, ok := formErrors(err)
	if !ok {
		h.serverError(w, r, err)
		return
	}
	msg := errs[""]
	if p := problemList(err); msg == "" && len(p) > 0 {
		msg = p[0]
	}
	status := http.StatusUnprocessableEntity
	switch {
	case errors.Is(err, relay.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, relay.ErrInUse), errors.Is(err, relay.ErrNameTaken):
		status = http.StatusConflict
	}
	h.relaySection(w, r, status, relayData{Section: section, Error: msg})
}

// Applications.

type appForm struct {
	Name      string
	Datasets  []string
	RateLimit string
	Burst     string
}

// Has reports whether the form has dataset d ticked.
func (f appForm) Has(d string) bool {
	for _, x := range f.Datasets {
		if x == d {
			return true
		}
	}
	return false
}

// newKey is an application's API key right after it was made: shown once.
type newKey struct {
	App, Key string
}

// number parses an optional numeric form field into *dst; a bad value is
// filed in errs under field.
func number[T int | float64](errs map[string]string, field, s string, dst *T) {
	if s == "" {
		return
	}
	var v T
	var err error
	switch p := any(&v).(type) {
	case *int:
		*p, err = strconv.Atoi(s)
	case *float64:
		*p, err = strconv.ParseFloat(s, 64)
	}
	if err != nil {
		errs[field] = "must be a number"
		return
	}
	*dst = v
}

func (h *Handler) createRelayApp(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f := appForm{
		Name:      strings.TrimSpace(r.PostFormValue("name")),
		Datasets:  r.PostForm["datasets"],
		RateLimit: strings.TrimSpace(r.PostFormValue("rate_limit")),
		Burst:     strings.TrimSpace(r.PostFormValue("burst")),
	}
	in := relay.NewApplication{Name: f.Name, Datasets: f.Datasets}
	errs := map[string]string{}
	number(errs, "rate_limit", f.RateLimit, &in.RateLimit)
	number(errs, "burst", f.Burst, &in.Burst)
	if len(errs) == 0 {
		a, key, err := h.cfg.Relay.CreateApplication(r.Context(), in)
		if err == nil {
			h.relaySection(w, r, http.StatusCreated, relayData{Section: "applications", NewKey: &newKey{App: a.Name, Key: key}})
			return
		}
		var ok bool
		if errs, ok = formErrors(err); !ok {
			h.serverError(w, r, err)
			return
		}
	}
	h.relaySection(w, r, http.StatusUnprocessableEntity, relayData{Section: "applications", AppForm: f, Errors: errs})
}

func (h *Handler) relayApp(w http.ResponseWriter, r *http.Request) (relay.Application, bool) {
	a, err := h.cfg.Relay.Application(r.Context(), r.PathValue("id"))
	if err != nil {
		h.relayFail(w, r, "applications", err)
		return relay.Application{}, false
	}
	return a, true
}

func (h *Handler) rotateRelayApp(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	a, ok := h.relayApp(w, r)
	if !ok || !h.confirmed(w, r, confirmData{
		Title:   "Rotate the key of " + a.Name,
		Message: "The application's current API key stops working at once; the new key is shown once. Give it to the application before it sends again.",
		Action:  r.URL.Path, Button: "Rotate key", Cancel: "/relay/applications",
	}) {
		return
	}
	a, key, err := h.cfg.Relay.RotateApplicationKey(r.Context(), a.ID)
	if err != nil {
		h.relayFail(w, r, "applications", err)
		return
	}
	h.relaySection(w, r, http.StatusOK, relayData{Section: "applications", NewKey: &newKey{App: a.Name, Key: key}})
}

func (h *Handler) deleteRelayApp(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	a, ok := h.relayApp(w, r)
	if !ok || !h.confirmed(w, r, confirmData{
		Title:   "Delete application " + a.Name,
		Message: "Its API key is revoked: every ingest request with it is refused from now on. Records it already sent stay and are delivered.",
		Action:  r.URL.Path, Button: "Delete application", Cancel: "/relay/applications",
	}) {
		return
	}
	if err := h.cfg.Relay.DeleteApplication(r.Context(), a.ID); err != nil {
		h.relayFail(w, r, "applications", err)
		return
	}
	http.Redirect(w, r, "/relay/applications?ok=relay-deleted", http.StatusSeeOther)
}

func (h *Handler) relayAppLimits(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	a, ok := h.relayApp(w, r)
	if !ok {
		return
	}
	in := relay.ApplicationLimits{}
	errs := map[string]string{}
	number(errs, "rate_limit", strings.TrimSpace(r.PostFormValue("rate_limit")), &in.RateLimit)
	number(errs, "burst", strings.TrimSpace(r.PostFormValue("burst")), &in.Burst)
	var err error
	if len(errs) == 0 {
		_, err = h.cfg.Relay.UpdateApplicationLimits(r.Context(), a.ID, in)
	} else {
		ve := &invalid.Fields{Kind: relay.ErrInvalid}
		for f, m := range errs {
			ve.List = append(ve.List, invalid.Field{Name: f, Message: m})
		}
		err = ve
	}
	if err != nil {
		h.relayFail(w, r, "applications", err)
		return
	}
	http.Redirect(w, r, "/relay/applications?ok=relay-saved", http.StatusSeeOther)
}

// Datasets.

type datasetForm struct {
	Name, Topic, KeyFields, Schema string
}

func (f datasetForm) dataset() relay.Dataset {
	d := relay.Dataset{Name: f.Name, Topic: f.Topic, KeyFields: splitList(f.KeyFields)}
	if f.Schema != "" {
		d.Schema = []byte(f.Schema)
	}
	return d
}

// splitList splits "a, b c" into its items.
func splitList(s string) []string {
	return strings.Fields(strings.ReplaceAll(s, ",", " "))
}

func datasetFormFrom(r *http.Request) datasetForm {
	return datasetForm{
		Name:      strings.TrimSpace(r.PostFormValue("name")),
		Topic:     strings.TrimSpace(r.PostFormValue("topic")),
		KeyFields: strings.TrimSpace(r.PostFormValue("key_fields")),
		Schema:    strings.TrimSpace(r.PostFormValue("schema")),
	}
}

func (h *Handler) createRelayDataset(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f := datasetFormFrom(r)
	d, err := h.cfg.Relay.CreateDataset(r.Context(), f.dataset())
	if err == nil {
		http.Redirect(w, r, "/relay/datasets/"+url.PathEscape(d.Name)+"?ok=relay-created", http.StatusSeeOther)
		return
	}
	errs, ok := formErrors(err)
	if !ok {
		h.serverError(w, r, err)
		return
	}
	h.relaySection(w, r, http.StatusUnprocessableEntity, relayData{Section: "datasets", DatasetForm: f, Errors: errs})
}

type datasetPage struct {
	Dataset relay.Dataset
	Form    datasetForm
	Errors  map[string]string
	// Routes and Applications that use the dataset.
	Routes       []relay.Route
	Applications []relay.Application
}

func (h *Handler) relayDatasetPage(w http.ResponseWriter, r *http.Request, status int, d datasetPage) {
	ctx := r.Context()
	routes, err := h.cfg.Relay.Routes(ctx)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	for _, rt := range routes {
		if rt.Dataset == d.Dataset.Name {
			d.Routes = append(d.Routes, rt)
		}
	}
	apps, err := h.cfg.Relay.Applications(ctx)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	for _, a := range apps {
		for _, ds := range a.Datasets {
			if ds == d.Dataset.Name {
				d.Applications = append(d.Applications, a)
			}
		}
	}
	h.render(w, r, status, "relay_dataset", view{Data: d})
}

func (h *Handler) relayDataset(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ds, err := h.cfg.Relay.Dataset(r.Context(), r.PathValue("name"))
	if err != nil {
		h.relayFail(w, r, "datasets", err)
		return
	}
	h.relayDatasetPage(w, r, http.StatusOK, datasetPage{Dataset: ds, Form: datasetForm{
		Name: ds.Name, Topic: ds.Topic, KeyFields: strings.Join(ds.KeyFields, ", "), Schema: string(ds.Schema)}})
}

func (h *Handler) updateRelayDataset(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ds, err := h.cfg.Relay.Dataset(r.Context(), r.PathValue("name"))
	if err != nil {
		h.relayFail(w, r, "datasets", err)
		return
	}
	f := datasetFormFrom(r)
	f.Name, f.Topic = ds.Name, ds.Topic
	if _, err = h.cfg.Relay.UpdateDataset(r.Context(), ds.Name, f.dataset()); err == nil {
		http.Redirect(w, r, "/relay/datasets/"+url.PathEscape(ds.Name)+"?ok=relay-saved", http.StatusSeeOther)
		return
	}
	errs, ok := formErrors(err)
	if !ok {
		h.serverError(w, r, err)
		return
	}
	h.relayDatasetPage(w, r, http.StatusUnprocessableEntity, datasetPage{Dataset: ds, Form: f, Errors: errs})
}

func (h *Handler) deleteRelayDataset(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	name := r.PathValue("name")
	if !h.confirmed(w, r, confirmData{
		Title:   "Delete dataset " + name,
		Message: "Its records stay in their topic, but no application can send it and no route can deliver it any more.",
		Action:  r.URL.Path, Button: "Delete dataset", Cancel: "/relay/datasets/" + url.PathEscape(name),
	}) {
		return
	}
	if err := h.cfg.Relay.DeleteDataset(r.Context(), name); err != nil {
		h.relayFail(w, r, "datasets", err)
		return
	}
	http.Redirect(w, r, "/relay/datasets?ok=relay-deleted", http.StatusSeeOther)
}
