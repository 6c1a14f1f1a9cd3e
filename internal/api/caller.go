package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/arus-platform/arus/stream"
)

// Caller sends requests to the API of a running Arus server and turns its
// problem answers into errors: the one HTTP core of the Go clients of the
// API (streams, schemas, dead letters, the relay). It is safe for
// concurrent use.
type Caller struct {
	base   *url.URL
	apiKey string
	http   *http.Client
}

// NewCaller returns a caller of the server at baseURL (http://host:8080; a
// bare host:port means http). apiKey, when not empty, is sent as a bearer
// token. hc nil means a client of its own with the default transport. A
// URL that is not an http or https address of a host is stream.ErrInvalid.
func NewCaller(baseURL, apiKey string, hc *http.Client) (*Caller, error) {
	raw := strings.TrimSpace(baseURL)
	if raw != "" && !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, stream.Invalidf("server URL %q is not valid; use http://host:port or https://host:port", baseURL)
	}
	u.Path = ""
	if hc == nil {
		hc = &http.Client{}
	}
	return &Caller{base: u, apiKey: apiKey, http: hc}, nil
}

// Host is the server's host:port, for messages.
func (c *Caller) Host() string { return c.base.Host }

// NewRequest builds a request for an API path (escaped, as url.PathEscape
// leaves a name in it) with query q, carrying the caller's credentials and
// asking for JSON.
func (c *Caller) NewRequest(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Request, error) {
	u := *c.base
	// path comes escaped (a group name may hold '/'): keep it so.
	unescaped, err := url.PathUnescape(path)
	if err != nil {
		return nil, fmt.Errorf("api: path %q: %w", path, err)
	}
	u.Path, u.RawPath = unescaped, path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// Send sends req. A request that does not reach the server fails with
// ctx's error when ctx ended, else with stream.ErrUnavailable; an answer
// other than 2xx is read and closed, and returned as a *ResponseError.
func (c *Caller) Send(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.TransportError(req.Context(), err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, ReadResponseError(resp)
	}
	return resp, nil
}

// Do sends a request with in as its JSON body (when not nil) and decodes
// a 2xx answer into out (when not nil); errors are as Send's.
func (c *Caller) Do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("api: encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := c.NewRequest(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("api: decode the answer to %s %s: %w", method, path, err)
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body) // read to the end so the connection is reused
	return nil
}

// TransportError wraps a failure to talk to the server: ctx's error when
// ctx ended, else stream.ErrUnavailable naming the server.
func (c *Caller) TransportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
		var oe *net.OpError
		if errors.As(err, &oe) {
			err = oe
		}
	}
	return fmt.Errorf("%w: %s: %w", stream.ErrUnavailable, c.base.Host, err)
}

// ResponseError is a problem a server answered with. It unwraps to the
// stream sentinel of its problem type, and to stream.ErrInvalid as well
// for a 400 or 422 answer.
type ResponseError struct {
	Status  int
	Problem Problem
}

// Error is the problem's detail followed by its field errors.
func (e *ResponseError) Error() string {
	msg := e.Problem.Detail
	if msg == "" {
		msg = e.Problem.Title
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	for i, fe := range e.Problem.Errors {
		if i == 0 && strings.HasPrefix(msg, fe.Name+": ") {
			continue
		}
		msg += fmt.Sprintf("; %s: %s", fe.Name, fe.Message)
	}
	return msg
}

// Unwrap returns the stream sentinel matching the problem type, and
// stream.ErrInvalid as well for a 400 or 422 answer.
func (e *ResponseError) Unwrap() []error {
	s := e.sentinel()
	if s != stream.ErrInvalid && (e.Status == http.StatusBadRequest || e.Status == http.StatusUnprocessableEntity) {
		return []error{s, stream.ErrInvalid}
	}
	if s == nil {
		return nil
	}
	return []error{s}
}

func (e *ResponseError) sentinel() error {
	switch e.Problem.Type {
	case TypeInvalid, TypeMalformed, TypeTooLarge:
		return stream.ErrInvalid
	case TypeTopicNotFound:
		return stream.ErrTopicNotFound
	case TypeGroupNotFound:
		return stream.ErrGroupNotFound
	case TypeTopicExists:
		return stream.ErrTopicExists
	case TypeGroupActive:
		return stream.ErrGroupActive
	case TypeRecordTooLarge:
		return stream.ErrRecordTooLarge
	case TypeOffsetOutOfRange:
		return stream.ErrOffsetOutOfRange
	case TypeUnavailable:
		return stream.ErrUnavailable
	}
	switch e.Status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return stream.ErrUnavailable
	}
	return nil
}

// ReadResponseError reads a non-2xx answer: its problem, or, when the body
// is not one, a problem saying what the server answered.
func ReadResponseError(resp *http.Response) *ResponseError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	e := &ResponseError{Status: resp.StatusCode}
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
