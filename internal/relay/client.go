package relay

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/relay/deliverylog"
)

// Client manages the relay of a running Arus server through its admin API
// (/api/v1/relay), with the API key of a principal holding relay.read and,
// to change things, relay.write. It is safe for concurrent use.
//
// Errors the server answers are *api.ResponseError, with the problem's
// detail and field errors; they also match the relay's sentinels:
// ErrNotFound (404), ErrInvalid (400, 422), ErrNameTaken or ErrInUse (409).
type Client struct {
	call *api.Caller
}

// NewClient returns a client of the server at baseURL (http://host:8080;
// a bare host:port means http). apiKey, when not empty, is sent as a
// bearer token.
func NewClient(baseURL, apiKey string) (*Client, error) {
	call, err := api.NewCaller(baseURL, apiKey, nil)
	if err != nil {
		return nil, err
	}
	return &Client{call: call}, nil
}

// clientError is a problem answer that also matches the relay sentinel of
// its status.
type clientError struct {
	*api.ResponseError
	sentinel error
}

func (e *clientError) Unwrap() []error { return []error{e.sentinel, e.ResponseError} }

const adminPath = "/api/v1/relay"

func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	err := c.call.Do(ctx, method, adminPath+path, q, in, out)
	var re *api.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	var s error
	switch re.Status {
	case http.StatusNotFound:
		s = ErrNotFound
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		s = ErrInvalid
	case http.StatusConflict:
		s = ErrNameTaken
		if strings.Contains(re.Problem.Detail, ErrInUse.Error()) {
			s = ErrInUse
		}
	default:
		return err
	}
	return &clientError{re, s}
}

func itemPath(kind, id string, rest ...string) string {
	if id == "" {
		// An empty id would name the collection; keep it a missing item.
		id = "-"
	}
	return "/" + kind + "/" + url.PathEscape(id) + strings.Join(rest, "")
}

// ApplicationWithKey is an application as created or given a new key: the
// key is shown this once and cannot be read again.
type ApplicationWithKey struct {
	Application
	APIKey string `json:"api_key"`
}

// Applications lists the applications, by name.
func (c *Client) Applications(ctx context.Context) ([]Application, error) {
	var out list[Application]
	err := c.do(ctx, http.MethodGet, "/applications", nil, nil, &out)
	return out.Items, err
}

// CreateApplication creates an application and returns it with its API
// key.
func (c *Client) CreateApplication(ctx context.Context, in NewApplication) (ApplicationWithKey, error) {
	var out ApplicationWithKey
	err := c.do(ctx, http.MethodPost, "/applications", nil, in, &out)
	return out, err
}

// Application returns the application with the id.
func (c *Client) Application(ctx context.Context, id string) (Application, error) {
	var out Application
	err := c.do(ctx, http.MethodGet, itemPath("applications", id), nil, nil, &out)
	return out, err
}

// UpdateApplicationLimits sets an application's rate limit and burst.
func (c *Client) UpdateApplicationLimits(ctx context.Context, id string, l ApplicationLimits) (Application, error) {
	var out Application
	err := c.do(ctx, http.MethodPut, itemPath("applications", id, "/limits"), nil, l, &out)
	return out, err
}

// RotateApplicationKey gives an application a new API key and revokes the
// old one.
func (c *Client) RotateApplicationKey(ctx context.Context, id string) (ApplicationWithKey, error) {
	var out ApplicationWithKey
	err := c.do(ctx, http.MethodPost, itemPath("applications", id, "/rotate-key"), nil, nil, &out)
	return out, err
}

// DeleteApplication deletes an application and revokes its key.
func (c *Client) DeleteApplication(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, itemPath("applications", id), nil, nil, nil)
}

// DatasetInput creates or replaces a dataset; on update the name comes
// from the path.
type DatasetInput struct {
	Name      string          `json:"name"`
	Topic     string          `json:"topic,omitempty"`
	KeyFields []string        `json:"key_fields"`
	Schema    json.RawMessage `json:"schema,omitempty"`
	// AcceptUndeliverable: see Dataset.
	AcceptUndeliverable bool `json:"accept_undeliverable,omitempty"`
}

// Datasets lists the datasets, by name.
func (c *Client) Datasets(ctx context.Context) ([]Dataset, error) {
	var out list[Dataset]
	err := c.do(ctx, http.MethodGet, "/datasets", nil, nil, &out)
	return out.Items, err
}

// CreateDataset creates a dataset.
func (c *Client) CreateDataset(ctx context.Context, in DatasetInput) (Dataset, error) {
	var out Dataset
	err := c.do(ctx, http.MethodPost, "/datasets", nil, in, &out)
	return out, err
}

// Dataset returns the dataset with the name.
func (c *Client) Dataset(ctx context.Context, name string) (Dataset, error) {
	var out Dataset
	err := c.do(ctx, http.MethodGet, itemPath("datasets", name), nil, nil, &out)
	return out, err
}

// UpdateDataset replaces a dataset's topic, key fields and schema.
func (c *Client) UpdateDataset(ctx context.Context, name string, in DatasetInput) (Dataset, error) {
	var out Dataset
	err := c.do(ctx, http.MethodPut, itemPath("datasets", name), nil, in, &out)
	return out, err
}

// DeleteDataset deletes a dataset no route or application uses.
func (c *Client) DeleteDataset(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, itemPath("datasets", name), nil, nil, nil)
}

// Destinations lists the destinations, by name.
func (c *Client) Destinations(ctx context.Context) ([]Destination, error) {
	var out list[Destination]
	err := c.do(ctx, http.MethodGet, "/destinations", nil, nil, &out)
	return out.Items, err
}

// CreateDestination tests the connection and, when it works, saves the
// destination with its password encrypted.
func (c *Client) CreateDestination(ctx context.Context, in DestinationInput) (Destination, error) {
	var out Destination
	err := c.do(ctx, http.MethodPost, "/destinations", nil, in, &out)
	return out, err
}

// Destination returns the destination with the id.
func (c *Client) Destination(ctx context.Context, id string) (Destination, error) {
	var out Destination
	err := c.do(ctx, http.MethodGet, itemPath("destinations", id), nil, nil, &out)
	return out, err
}

// UpdateDestination replaces a destination; an empty password keeps the
// stored one.
func (c *Client) UpdateDestination(ctx context.Context, id string, in DestinationInput) (Destination, error) {
	var out Destination
	err := c.do(ctx, http.MethodPut, itemPath("destinations", id), nil, in, &out)
	return out, err
}

// DeleteDestination deletes a destination no route uses.
func (c *Client) DeleteDestination(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, itemPath("destinations", id), nil, nil, nil)
}

// DestinationEvents returns the destination's changes of health, newest
// first.
func (c *Client) DestinationEvents(ctx context.Context, id string) ([]HealthEvent, error) {
	var out list[HealthEvent]
	err := c.do(ctx, http.MethodGet, itemPath("destinations", id, "/events"), nil, nil, &out)
	return out.Items, err
}

// TestDestination tests a connection without saving anything.
func (c *Client) TestDestination(ctx context.Context, in DestinationInput) (TestResult, error) {
	var out TestResult
	err := c.do(ctx, http.MethodPost, "/destinations/test", nil, in, &out)
	return out, err
}

// TestSavedDestination tests the saved destination with the id, or, when
// in is not nil, in with an empty password meaning the stored one.
func (c *Client) TestSavedDestination(ctx context.Context, id string, in *DestinationInput) (TestResult, error) {
	var out TestResult
	var body any
	if in != nil {
		body = in
	}
	err := c.do(ctx, http.MethodPost, itemPath("destinations", id, "/test"), nil, body, &out)
	return out, err
}

// Catalog returns the tables of a destination, as its database reports
// them.
func (c *Client) Catalog(ctx context.Context, id string) ([]CatalogTable, error) {
	var out Catalog
	err := c.do(ctx, http.MethodGet, itemPath("destinations", id, "/catalog"), nil, nil, &out)
	return out.Tables, err
}

// Routes lists the routes, by name.
func (c *Client) Routes(ctx context.Context) ([]Route, error) {
	var out list[Route]
	err := c.do(ctx, http.MethodGet, "/routes", nil, nil, &out)
	return out.Items, err
}

// CreateRoute creates a route; its delivery starts within seconds when it
// is enabled.
func (c *Client) CreateRoute(ctx context.Context, in RouteInput) (Route, error) {
	var out Route
	err := c.do(ctx, http.MethodPost, "/routes", nil, in, &out)
	return out, err
}

// Route returns the route with the id.
func (c *Client) Route(ctx context.Context, id string) (Route, error) {
	var out Route
	err := c.do(ctx, http.MethodGet, itemPath("routes", id), nil, nil, &out)
	return out, err
}

// UpdateRoute replaces a route.
func (c *Client) UpdateRoute(ctx context.Context, id string, in RouteInput) (Route, error) {
	var out Route
	err := c.do(ctx, http.MethodPut, itemPath("routes", id), nil, in, &out)
	return out, err
}

// DeleteRoute deletes a route.
func (c *Client) DeleteRoute(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, itemPath("routes", id), nil, nil, nil)
}

// PreviewRoute returns the row the route in would make of a sample record;
// op is upsert (or empty) or delete. Nothing is saved or written.
func (c *Client) PreviewRoute(ctx context.Context, in RouteInput, op string, record json.RawMessage) (Preview, error) {
	var out Preview
	err := c.do(ctx, http.MethodPost, "/routes/preview", nil, previewInput{Route: &in, Op: op, Record: record}, &out)
	return out, err
}

// PreviewSavedRoute is PreviewRoute with the saved route of the id.
func (c *Client) PreviewSavedRoute(ctx context.Context, id, op string, record json.RawMessage) (Preview, error) {
	var out Preview
	err := c.do(ctx, http.MethodPost, itemPath("routes", id, "/preview"), nil, previewInput{Op: op, Record: record}, &out)
	return out, err
}

// RouteStatus is a route as the delivery engine of the answering process
// runs it.
type RouteStatus struct {
	RouteID       string `json:"route_id"`
	Route         string `json:"route"`
	DestinationID string `json:"destination_id"`
	Group         string `json:"group"`
	// Guarantee is exactly-once, at-least-once (the destination account
	// may not keep the route's positions) or unknown (not started).
	Guarantee string    `json:"guarantee"`
	State     string    `json:"state"`
	LastError string    `json:"last_error,omitempty"`
	Since     time.Time `json:"since"`
	// Lag is the records of the dataset's topic the route has yet to
	// deliver.
	Lag int64 `json:"lag"`
}

// Status returns every route's guarantee, state and lag in the process
// that answers.
func (c *Client) Status(ctx context.Context) ([]RouteStatus, error) {
	var out struct {
		Routes []RouteStatus `json:"routes"`
	}
	err := c.do(ctx, http.MethodGet, "/status", nil, nil, &out)
	return out.Routes, err
}

// Deliveries returns a page of the delivery log, newest first.
func (c *Client) Deliveries(ctx context.Context, q deliverylog.Query) (deliverylog.Page, error) {
	v := url.Values{}
	for name, s := range map[string]string{
		"application": q.Application, "dataset": q.Dataset, "destination": q.DestinationID, "route": q.RouteID,
		"record": q.RecordID, "status": string(q.Status), "after": q.After,
	} {
		if s != "" {
			v.Set(name, s)
		}
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.Format(time.RFC3339Nano))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out deliverylog.Page
	err := c.do(ctx, http.MethodGet, "/deliveries", v, nil, &out)
	return out, err
}
