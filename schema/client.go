package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/arus-platform/arus/stream"
)

// Client talks to the schema registry of a running Arus server over its
// HTTP API. It is a [Source], so a service can validate what it produces
// against a server's registry. It is safe for concurrent use.
type Client struct {
	base   *url.URL
	apiKey string
	http   *http.Client
}

var _ Source = (*Client)(nil)

// NewClient returns a client of the server at baseURL (http://host:8080;
// a bare host:port means http). apiKey, when not empty, is sent as a
// bearer token.
func NewClient(baseURL, apiKey string) (*Client, error) {
	raw := strings.TrimSpace(baseURL)
	if raw != "" && !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, invalidf("server URL %q is not valid; use http://host:port or https://host:port", baseURL)
	}
	u.Path = ""
	return &Client{base: u, apiKey: apiKey, http: &http.Client{}}, nil
}

// ClientError is a problem the server answered with. It unwraps to the
// sentinel of its status: ErrNotFound (404), ErrIncompatible (409),
// ErrInvalidSchema or ErrInvalid (400, 413, 422).
type ClientError struct {
	Status  int
	Problem Problem
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
// 2xx answer into out. A server that cannot be reached gives an error
// wrapping [stream.ErrUnavailable] (or ctx's error, when ctx ended); an
// answer other than 2xx, a *ClientError.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	u := *c.base
	u.Path = "/api/v1/schemas" + path
	u.RawQuery = q.Encode()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("schema: encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("schema: %s %s: %w", method, path, err)
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("schema: %s %s: %w: %s: %w", method, path, stream.ErrUnavailable, c.base.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readClientError(resp)
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("schema: decode the answer to %s %s: %w", method, path, err)
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body) // read to the end so the connection is reused
	return nil
}

// readClientError reads a problem answer; an answer that is not one (from
// a proxy, say) becomes a problem that quotes it.
func readClientError(resp *http.Response) *ClientError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	e := &ClientError{Status: resp.StatusCode}
	if err := json.Unmarshal(b, &e.Problem); err != nil || e.Problem.Status == 0 {
		text := strings.TrimSpace(string(b))
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		detail := "the server answered " + resp.Status
		if text != "" {
			detail += ": " + text
		}
		e.Problem = Problem{Title: http.StatusText(resp.StatusCode), Status: resp.StatusCode, Detail: detail}
	}
	return e
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
	err := c.do(ctx, http.MethodPost, subjectPath(subject)+"/versions", nil, SchemaRequest{Schema: doc}, &out)
	return out.Version, out.Created, err
}

// Check is [Registry.Check] on the server.
func (c *Client) Check(ctx context.Context, subject string, doc []byte) (Check, error) {
	var out Check
	err := c.do(ctx, http.MethodPost, subjectPath(subject)+"/check", nil, SchemaRequest{Schema: doc}, &out)
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
	return c.do(ctx, http.MethodPut, subjectPath(subject)+"/mode", nil, ModeRequest{Mode: string(m)}, nil)
}

// DefaultMode is [Registry.DefaultMode] on the server.
func (c *Client) DefaultMode(ctx context.Context) (Mode, error) {
	var out ModeSetting
	err := c.do(ctx, http.MethodGet, "/mode", nil, nil, &out)
	return out.Mode, err
}

// SetDefaultMode is [Registry.SetDefaultMode] on the server.
func (c *Client) SetDefaultMode(ctx context.Context, m Mode) error {
	return c.do(ctx, http.MethodPut, "/mode", nil, ModeRequest{Mode: string(m)}, nil)
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
