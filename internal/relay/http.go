package relay

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/relay/sink"
	"github.com/arus-platform/arus/invalid"
)

// adminBodyLimit bounds an admin request body.
const adminBodyLimit = 1 << 20

// Register adds the relay's routes to mux, served by a under the API's
// rules: ingest at POST /api/v1/datasets/{dataset}/records (an API key
// with relay.ingest on the dataset), the admin API under /api/v1/relay
// (relay.read to read, relay.write to change). docs/relay.md describes
// each route.
func Register(a *api.Server, mux *http.ServeMux, r *Relay) {
	h := &handler{api: a, r: r}
	// Ingest checks relay.ingest on the dataset itself: the API's own
	// check knows topics, not datasets.
	a.Route(mux, "POST /api/v1/datasets/{dataset}/records", nil, r.handleIngest)

	read := []auth.Permission{auth.PermRelayRead}
	write := []auth.Permission{auth.PermRelayWrite}
	const p = "/api/v1/relay"
	a.Route(mux, "GET "+p+"/applications", read, h.listApplications)
	a.Route(mux, "POST "+p+"/applications", write, h.createApplication)
	a.Route(mux, "GET "+p+"/applications/{id}", read, h.getApplication)
	a.Route(mux, "PUT "+p+"/applications/{id}/limits", write, h.updateLimits)
	a.Route(mux, "DELETE "+p+"/applications/{id}", write, h.deleteApplication)
	a.Route(mux, "POST "+p+"/applications/{id}/rotate-key", write, h.rotateKey)

	a.Route(mux, "GET "+p+"/datasets", read, h.listDatasets)
	a.Route(mux, "POST "+p+"/datasets", write, h.createDataset)
	a.Route(mux, "GET "+p+"/datasets/{name}", read, h.getDataset)
	a.Route(mux, "PUT "+p+"/datasets/{name}", write, h.updateDataset)
	a.Route(mux, "DELETE "+p+"/datasets/{name}", write, h.deleteDataset)

	a.Route(mux, "GET "+p+"/destinations", read, h.listDestinations)
	a.Route(mux, "POST "+p+"/destinations", write, h.createDestination)
	a.Route(mux, "GET "+p+"/destinations/{id}", read, h.getDestination)
	a.Route(mux, "PUT "+p+"/destinations/{id}", write, h.updateDestination)
	a.Route(mux, "DELETE "+p+"/destinations/{id}", write, h.deleteDestination)
	// A connection test reaches any host it is given, so it needs the
	// right to change destinations, not only to read them.
	a.Route(mux, "POST "+p+"/destinations/test", write, h.testDestination)
	a.Route(mux, "POST "+p+"/destinations/{id}/test", write, h.testSavedDestination)
	a.Route(mux, "GET "+p+"/destinations/{id}/catalog", read, h.catalog)
	a.Route(mux, "GET "+p+"/destinations/{id}/events", read, h.destinationEvents)

	a.Route(mux, "GET "+p+"/routes", read, h.listRoutes)
	a.Route(mux, "POST "+p+"/routes", write, h.createRoute)
	// Previewing changes nothing, so reading is enough.
	a.Route(mux, "POST "+p+"/routes/preview", read, h.previewNew)
	a.Route(mux, "GET "+p+"/routes/{id}", read, h.getRoute)
	a.Route(mux, "PUT "+p+"/routes/{id}", write, h.updateRoute)
	a.Route(mux, "DELETE "+p+"/routes/{id}", write, h.deleteRoute)
	a.Route(mux, "POST "+p+"/routes/{id}/preview", read, h.previewRoute)
}

type handler struct {
	api *api.Server
	r   *Relay
}

// problemOf turns the relay's errors into problems; others are the
// server's fault (500).
func problemOf(err error) error {
	var ve *invalid.Fields
	var te *TestError
	var rl *RateLimitError
	switch {
	case errors.As(err, &rl):
		return api.Coded(problem(http.StatusTooManyRequests, ProblemRateLimited, "Too many requests",
			fmt.Sprintf("too many connection tests; retry in %d s", rl.seconds())), "connection_tests_limited", rl.seconds())
	case errors.As(err, &ve):
		return invalidFields(ve.List)
	case errors.As(err, &te):
		return api.Coded(api.Invalid("the connection test failed: "+te.Err.Error()+"; the destination was not saved",
			invalid.Field{Name: "(connection)", Message: te.Err.Error()}), "connection_test_failed", te.Err.Error())
	case errors.Is(err, ErrNameTaken):
		return api.Coded(api.Conflict(err.Error()), "name_taken")
	case errors.Is(err, ErrInUse):
		return api.Coded(api.Conflict(err.Error()), "in_use")
	case errors.Is(err, ErrNotFound):
		// With the code of the object's kind (application_unknown …)
		// where the error names one.
		return api.Refused(api.NotFound(err.Error()), err)
	}
	return err
}

type list[T any] struct {
	Items []T `json:"items"`
}

func (h *handler) listApplications(w http.ResponseWriter, req *http.Request) error {
	apps, err := h.r.Applications(req.Context())
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, list[Application]{apps})
	return nil
}

func (h *handler) createApplication(w http.ResponseWriter, req *http.Request) error {
	var in NewApplication
	if err := h.api.Decode(w, req, adminBodyLimit, &in); err != nil {
		return err
	}
	a, key, err := h.r.CreateApplication(req.Context(), in)
	if err != nil {
		return problemOf(err)
	}
	api.WriteJSON(w, http.StatusCreated, ApplicationWithKey{a, key})
	return nil
}

func (h *handler) getApplication(w http.ResponseWriter, req *http.Request) error {
	a, err := h.r.Application(req.Context(), req.PathValue("id"))
	if err != nil {
		return problemOf(err)
	}
	api.WriteJSON(w, http.StatusOK, a)
	return nil
}

func (h *handler) updateLimits(w http.ResponseWriter, req *http.Request) error {
	var in ApplicationLimits
	if err := h.api.Decode(w, req, adminBodyLimit, &in); err != nil {
		return err
	}
	a, err := h.r.UpdateApplicationLimits(req.Context(), req.PathValue("id"), in)
	if err != nil {
		return problemOf(err)
	}
	api.WriteJSON(w, http.StatusOK, a)
	return nil
}

func (h *handler) deleteApplication(w http.ResponseWriter, req *http.Request) error {
	if err := h.r.DeleteApplication(req.Context(), req.PathValue("id")); err != nil {
		return problemOf(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) rotateKey(w http.ResponseWriter, req *http.Request) error {
	a, key, err := h.r.RotateApplicationKey(req.Context(), req.PathValue("id"))
	if err != nil {
		return problemOf(err)
	}
	api.WriteJSON(w, http.StatusOK, ApplicationWithKey{a, key})
	return nil
}

func (h *handler) listDatasets(w http.ResponseWriter, req *http.Request) error {
	ds, err := h.r.Datasets(req.Context())
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, list[Dataset]{ds})
	return nil
}

func (h *handler) createDataset(w http.ResponseWriter, req *http.Request) error {
	var in DatasetInput
	if err := h.api.Decode(w, req, adminBodyLimit, &in); err != nil {
		return err
	}
	d, err := h.r.CreateDataset(req.Context(), in.dataset())
	if err != nil {
		return problemOf(err)
	}
	api.WriteJSON(w, http.StatusCreated, d)
	return nil
}

func (in DatasetInput) dataset() Dataset {
	return Dataset{Name: in.Name, Topic: in.Topic, KeyFields: in.KeyFields, Schema: in.Schema, AcceptUndeliverable: in.AcceptUndeliverable}
}

func (h *handler) getDataset(w http.ResponseWriter, req *http.Request) error {
	d, err := h.r.Dataset(req.Context(), req.PathValue("name"))
	if err != nil {
		return problemOf(err)
	}
	api.WriteJSON(w, http.StatusOK, d)
	return nil
}

func (h *handler) updateDataset(w http.ResponseWriter, req *http.Request) error {
	var in DatasetInput
	if err := h.api.Decode(w, req, adminBodyLimit, &in); err != nil {
		return err
	}
	d, err := h.r.UpdateDataset(req.Context(), req.PathValue("name"), in.dataset())
	if err != nil {
		return problemOf(err)
	}
	api.WriteJSON(w, http.StatusOK, d)
	return nil
}

func (h *handler) deleteDataset(w http.ResponseWriter, req *http.Request) error {
	if err := h.r.DeleteDataset(req.Context(), req.PathValue("name")); err != nil {
		return problemOf(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) listDestinations(w http.ResponseWriter, req *http.Request) error {
	ds, err := h.r.Destinations(req.Context())
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, list[Destination]{ds})
	return nil
}

func (h *handler) createDestination(w http.ResponseWriter, req *http.Request) error {
	var in DestinationInput
	if err := h.api.Decode(w, req, adminBodyLimit, &in); err != nil {
		return err
	}
	d, err := h.r.CreateDestination(req.Context(), in)
	if err != nil {
		return destProblem(w, err)
	}
	api.WriteJSON(w, http.StatusCreated, d)
	return nil
}

func (h *handler) getDestination(w http.ResponseWriter, req *http.Request) error {
	d, err := h.r.Destination(req.Context(), req.PathValue("id"))
	if err != nil {
		return problemOf(err)
	}
	api.WriteJSON(w, http.StatusOK, d)
	return nil
}

func (h *handler) updateDestination(w http.ResponseWriter, req *http.Request) error {
	var in DestinationInput
	if err := h.api.Decode(w, req, adminBodyLimit, &in); err != nil {
		return err
	}
	d, err := h.r.UpdateDestination(req.Context(), req.PathValue("id"), in)
	if err != nil {
		return destProblem(w, err)
	}
	api.WriteJSON(w, http.StatusOK, d)
	return nil
}

func (h *handler) deleteDestination(w http.ResponseWriter, req *http.Request) error {
	if err := h.r.DeleteDestination(req.Context(), req.PathValue("id")); err != nil {
		return problemOf(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) listRoutes(w http.ResponseWriter, req *http.Request) error {
	rs, err := h.r.Routes(req.Context())
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, list[Route]{rs})
	return nil
}

func (h *handler) createRoute(w http.ResponseWriter, req *http.Request) error {
	var in RouteInput
	if err := h.api.Decode(w, req, adminBodyLimit, &in); err != nil {
		return err
	}
	rt, err := h.r.CreateRoute(req.Context(), in)
	if err != nil {
		return problemOf(err)
	}
	api.WriteJSON(w, http.StatusCreated, rt)
	return nil
}

func (h *handler) getRoute(w http.ResponseWriter, req *http.Request) error {
	rt, err := h.r.Route(req.Context(), req.PathValue("id"))
	if err != nil {
		return problemOf(err)
	}
	api.WriteJSON(w, http.StatusOK, rt)
	return nil
}

func (h *handler) updateRoute(w http.ResponseWriter, req *http.Request) error {
	var in RouteInput
	if err := h.api.Decode(w, req, adminBodyLimit, &in); err != nil {
		return err
	}
	rt, err := h.r.UpdateRoute(req.Context(), req.PathValue("id"), in)
	if err != nil {
		return problemOf(err)
	}
	api.WriteJSON(w, http.StatusOK, rt)
	return nil
}

func (h *handler) deleteRoute(w http.ResponseWriter, req *http.Request) error {
	if err := h.r.DeleteRoute(req.Context(), req.PathValue("id")); err != nil {
		return problemOf(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// previewInput is a sample record for a route: op is upsert (default) or
// delete; Route is the route to try, for a route not saved yet.
type previewInput struct {
	Route  *RouteInput     `json:"route,omitempty"`
	Op     string          `json:"op"`
	Record json.RawMessage `json:"record"`
}

func (h *handler) preview(w http.ResponseWriter, rt *Route, in previewInput) error {
	if len(in.Record) == 0 {
		return api.Coded(api.Invalid("record is required: a sample record of the dataset", invalid.Field{Name: "record", Message: "is required"}), "body_invalid", "record")
	}
	p, err := PreviewRoute(rt, in.Op, in.Record)
	if err != nil {
		return problemOf(err)
	}
	api.WriteJSON(w, http.StatusOK, p)
	return nil
}

func (h *handler) previewNew(w http.ResponseWriter, req *http.Request) error {
	var in previewInput
	if err := h.api.Decode(w, req, adminBodyLimit, &in); err != nil {
		return err
	}
	if in.Route == nil {
		return api.Coded(api.Invalid("route is required: the route to try", invalid.Field{Name: "route", Message: "is required"}), "body_invalid", "route")
	}
	rt, err := in.Route.route()
	if err != nil {
		var ve *invalid.Fields
		if errors.As(err, &ve) {
			for i := range ve.List {
				ve.List[i].Name = "route." + ve.List[i].Name
			}
		}
		return problemOf(err)
	}
	return h.preview(w, &rt, in)
}

func (h *handler) previewRoute(w http.ResponseWriter, req *http.Request) error {
	rt, err := h.r.Route(req.Context(), req.PathValue("id"))
	if err != nil {
		return problemOf(err)
	}
	var in previewInput
	if err := h.api.Decode(w, req, adminBodyLimit, &in); err != nil {
		return err
	}
	return h.preview(w, &rt, in)
}

// destProblem is problemOf for the routes that reach a destination: a
// refused connection test also says when to retry.
func destProblem(w http.ResponseWriter, err error) error {
	var rl *RateLimitError
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", strconv.Itoa(rl.seconds()))
	}
	return problemOf(err)
}

// TestResult is the answer of a connection test: a database that cannot
// be reached is a result, not a failed request. ElapsedMS is given for a
// test that succeeded only: how long a failure took would tell a refused
// port from a silent one.
type TestResult struct {
	OK        bool   `json:"ok"`
	Error     string `json:"error,omitempty"`
	ElapsedMS int64  `json:"elapsed_ms,omitempty"`
}

func testResult(start time.Time, err error) (TestResult, error) {
	res := TestResult{OK: err == nil}
	if err == nil {
		res.ElapsedMS = max(1, time.Since(start).Milliseconds())
	}
	var te *TestError
	if errors.As(err, &te) {
		res.Error = te.Err.Error()
		err = nil
	}
	return res, err
}

func (h *handler) testDestination(w http.ResponseWriter, req *http.Request) error {
	var in DestinationInput
	if err := h.api.Decode(w, req, adminBodyLimit, &in); err != nil {
		return err
	}
	res, err := testResult(time.Now(), h.r.TestDestination(req.Context(), in))
	if err != nil {
		return destProblem(w, err)
	}
	api.WriteJSON(w, http.StatusOK, res)
	return nil
}

func (h *handler) testSavedDestination(w http.ResponseWriter, req *http.Request) error {
	// Without a body the saved settings are tested; with one, the settings
	// an update with it would save.
	var in *DestinationInput
	if req.ContentLength != 0 {
		in = new(DestinationInput)
		if err := h.api.Decode(w, req, adminBodyLimit, in); err != nil {
			return err
		}
	}
	res, err := testResult(time.Now(), h.r.TestSavedDestination(req.Context(), req.PathValue("id"), in))
	if err != nil {
		return destProblem(w, err)
	}
	api.WriteJSON(w, http.StatusOK, res)
	return nil
}

// CatalogTable is a table of a destination's catalogue as the API shows
// it.
type CatalogTable struct {
	Schema  string          `json:"schema,omitempty"`
	Name    string          `json:"name"`
	Key     []string        `json:"key"`
	Columns []CatalogColumn `json:"columns"`
}

// CatalogColumn is a column of a CatalogTable.
type CatalogColumn struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Nullable   bool   `json:"nullable"`
	HasDefault bool   `json:"has_default"`
	Generated  bool   `json:"generated"`
}

// Catalog is the answer of GET /api/v1/relay/destinations/{id}/catalog.
type Catalog struct {
	Tables []CatalogTable `json:"tables"`
}

// CatalogOf turns a sink's catalogue into the API's shape.
func CatalogOf(tables []sink.TableInfo) Catalog {
	c := Catalog{Tables: make([]CatalogTable, len(tables))}
	for i, t := range tables {
		ct := CatalogTable{Schema: t.Schema, Name: t.Name, Key: t.Key, Columns: make([]CatalogColumn, len(t.Columns))}
		if ct.Key == nil {
			ct.Key = []string{}
		}
		for j, col := range t.Columns {
			ct.Columns[j] = CatalogColumn{Name: col.Name, Type: col.Type, Nullable: col.Nullable, HasDefault: col.HasDefault, Generated: col.Generated}
		}
		c.Tables[i] = ct
	}
	return c
}

func (h *handler) catalog(w http.ResponseWriter, req *http.Request) error {
	tables, err := h.r.Catalog(req.Context(), req.PathValue("id"))
	var te *TestError
	if errors.As(err, &te) {
		return api.Coded(api.BadGateway("the destination's catalogue could not be read: "+te.Err.Error()), "catalog_unreadable", te.Err.Error())
	}
	if err != nil {
		return problemOf(err)
	}
	api.WriteJSON(w, http.StatusOK, CatalogOf(tables))
	return nil
}

func (h *handler) destinationEvents(w http.ResponseWriter, req *http.Request) error {
	id := req.PathValue("id")
	if _, err := h.r.Destination(req.Context(), id); err != nil {
		return problemOf(err)
	}
	evs, err := h.r.DestinationEvents(req.Context(), id, eventsKept)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, list[HealthEvent]{evs})
	return nil
}
