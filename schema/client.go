package schema

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/arus-platform/arus/internal/api"
)

// Client talks to the schema registry of a running Arus server over its
// HTTP API. It is a [Source], so a service can validate what it produces
// against a server's registry. It is safe for concurrent use.
type Client struct {
	call *api.Caller
}

var _ Source = (*Client)(nil)

// NewClient returns a client of the server at baseURL (http://host:8080;
// a bare host:port means http). apiKey, when not empty, is sent as a
// bearer token.
func NewClient(baseURL, apiKey string) (*Client, error) {
	call, err := api.NewCaller(baseURL, apiKey, nil)
	if err != nil {
		return nil, invalidf("server URL %q is not valid; use http://host:port or https://host:port", baseURL)
	}
	return &Client{call: call}, nil
}

// ClientError is a problem the server answered with. It unwraps to the
// sentinel of its status: ErrNotFound (404), ErrIncompatible (409),
// ErrInvalidSchema or ErrInvalid (400, 413, 422).
type ClientError struct {
	Status  int
	Problem api.Problem
}

func (e *ClientError) Error() string {
	msg := e.Problem.Detail
	if msg == "" {
		msg = e.Problem.Title
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return msg
}

// Reasons returns the messages of the problem's field errors: for a 409,
// one per incompatibility.
func (e *ClientError) Reasons() []string {
	out := make([]string, len(e.Problem.Errors))
	for i, fe := range e.Problem.Errors {
		out[i] = fe.Message
	}
	return out
}

func (e *ClientError) Unwrap() error {
	switch e.Status {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		if e.Problem.Type == ProblemIncompatible {
			return ErrIncompatible
		}
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		for _, fe := range e.Problem.Errors {
			if fe.Field == "schema" || strings.HasPrefix(fe.Field, "schema.") {
				return ErrInvalidSchema
			}
		}
		return ErrInvalid
	}
	return nil
}

// do sends a request with in as its JSON body (when not nil) and decodes a
// 2xx answer into out.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	err := c.call.Do(ctx, method, "/api/v1/schemas"+path, q, in, out)
	var re *api.ResponseError
	if errors.As(err, &re) {
		return &ClientError{Status: re.Status, Problem: re.Problem}
	}
	if err != nil {
		return fmt.Errorf("schema: %s %s: %w", method, path, err)
	}
	return nil
}

func subjectPath(subject string) string { return "/subjects/" + url.PathEscape(subject) }

func versionPath(subject string, version int) string {
	v := "latest"
	if version != Latest {
		v = strconv.Itoa(version)
	}
	return subjectPath(subject) + "/versions/" + v
}

func deletedQuery(deleted bool) url.Values {
	if !deleted {
		return nil
	}
	return url.Values{"deleted": {"true"}}
}

// Subjects is [Registry.Subjects] on the server.
func (c *Client) Subjects(ctx context.Context, deleted bool) ([]Subject, error) {
	var out SubjectList
	err := c.do(ctx, http.MethodGet, "/subjects", deletedQuery(deleted), nil, &out)
	return out.Subjects, err
}

// Versions is [Registry.Versions] on the server.
func (c *Client) Versions(ctx context.Context, subject string, deleted bool) ([]Version, error) {
	var out VersionList
	err := c.do(ctx, http.MethodGet, subjectPath(subject)+"/versions", deletedQuery(deleted), nil, &out)
	return out.Versions, err
}

// Version is [Registry.Version] on the server.
func (c *Client) Version(ctx context.Context, subject string, version int) (Version, error) {
	var out Version
	err := c.do(ctx, http.MethodGet, versionPath(subject, version), nil, nil, &out)
	return out, err
}

// ByID is [Registry.ByID] on the server.
func (c *Client) ByID(ctx context.Context, id int64) (Version, error) {
	var out Version
	err := c.do(ctx, http.MethodGet, "/ids/"+strconv.FormatInt(id, 10), nil, nil, &out)
	return out, err
}

// Register is [Registry.Register] on the server; the version it returns
// has no document.
func (c *Client) Register(ctx context.Context, subject string, doc []byte) (Version, bool, error) {
	var out Registered
	err := c.do(ctx, http.MethodPost, subjectPath(subject)+"/versions", nil, schemaRequest{Schema: doc}, &out)
	return out.Version, out.Created, err
}

// Check is [Registry.Check] on the server.
func (c *Client) Check(ctx context.Context, subject string, doc []byte) (Check, error) {
	var out Check
	err := c.do(ctx, http.MethodPost, subjectPath(subject)+"/check", nil, schemaRequest{Schema: doc}, &out)
	return out, err
}

// Mode is [Registry.Mode] on the server.
func (c *Client) Mode(ctx context.Context, subject string) (Mode, bool, error) {
	var out ModeSetting
	err := c.do(ctx, http.MethodGet, subjectPath(subject)+"/mode", nil, nil, &out)
	return out.Mode, !out.Default, err
}

// SetMode is [Registry.SetMode] on the server.
func (c *Client) SetMode(ctx context.Context, subject string, m Mode) error {
	if m == "" {
		return c.do(ctx, http.MethodDelete, subjectPath(subject)+"/mode", nil, nil, nil)
	}
	return c.do(ctx, http.MethodPut, subjectPath(subject)+"/mode", nil, modeRequest{Mode: string(m)}, nil)
}

// DefaultMode is [Registry.DefaultMode] on the server.
func (c *Client) DefaultMode(ctx context.Context) (Mode, error) {
	var out ModeSetting
	err := c.do(ctx, http.MethodGet, "/mode", nil, nil, &out)
	return out.Mode, err
}

// SetDefaultMode is [Registry.SetDefaultMode] on the server.
func (c *Client) SetDefaultMode(ctx context.Context, m Mode) error {
	return c.do(ctx, http.MethodPut, "/mode", nil, modeRequest{Mode: string(m)}, nil)
}

// DeleteVersion is [Registry.DeleteVersion] on the server.
func (c *Client) DeleteVersion(ctx context.Context, subject string, version int) (Version, error) {
	var out Version
	err := c.do(ctx, http.MethodDelete, versionPath(subject, version), nil, nil, &out)
	return out, err
}

// DeleteSubject is [Registry.DeleteSubject] on the server.
func (c *Client) DeleteSubject(ctx context.Context, subject string) ([]int, error) {
	var out SubjectDeleted
	err := c.do(ctx, http.MethodDelete, subjectPath(subject), nil, nil, &out)
	return out.Versions, err
}
