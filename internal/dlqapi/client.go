package dlqapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/arus-platform/arus/dlq"
	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/client"
	"github.com/arus-platform/arus/stream"
)

// Client manages dead-letter queues through a running server's
// /api/v1/dlq routes, with the same methods as a [dlq.Manager]. Errors carry
// the server's problem details ([*client.Error]); a 404 also wraps
// [dlq.ErrNotFound].
type Client struct {
	call *api.Caller
}

// NewClient returns a client of the server at baseURL (http://host:8080; a
// bare host:port means http). apiKey, when not empty, is sent as a bearer
// token.
func NewClient(baseURL, apiKey string) (*Client, error) {
	call, err := api.NewCaller(baseURL, apiKey, nil)
	if err != nil {
		return nil, err
	}
	return &Client{call: call}, nil
}

func queuePath(name string, rest ...string) string {
	return "/api/v1/dlq/" + url.PathEscape(name) + strings.Join(rest, "")
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	err := c.call.Do(ctx, method, path, q, in, out)
	var e *client.Error
	if errors.As(err, &e) && e.Status == http.StatusNotFound {
		return notFoundError{e}
	}
	return err
}

// List returns every dead-letter queue with its counts.
func (c *Client) List(ctx context.Context) ([]dlq.Queue, error) {
	var out QueueList
	err := c.do(ctx, http.MethodGet, "/api/v1/dlq", nil, nil, &out)
	return out.Queues, err
}

// Queue describes one dead-letter queue.
func (c *Client) Queue(ctx context.Context, name string) (dlq.Queue, error) {
	var out QueueDetail
	err := c.do(ctx, http.MethodGet, queuePath(name), nil, nil, &out)
	return out.Queue, err
}

// Records returns the letters f selects. f.Positions is not sent: use Get.
// A zero f.Limit means the server's default of 100.
func (c *Client) Records(ctx context.Context, name string, f dlq.Filter) ([]dlq.Letter, error) {
	var out RecordList
	if err := c.do(ctx, http.MethodGet, queuePath(name, "/records"), filterValues(f), nil, &out); err != nil {
		return nil, err
	}
	letters := make([]dlq.Letter, len(out.Records))
	for i, r := range out.Records {
		l, err := r.Letter()
		if err != nil {
			return nil, fmt.Errorf("dlq: %w", err)
		}
		letters[i] = l
	}
	return letters, nil
}

// Get returns one letter by its position.
func (c *Client) Get(ctx context.Context, name string, p dlq.Position) (dlq.Letter, error) {
	var out Record
	path := queuePath(name, "/records/", strconv.Itoa(int(p.Partition)), "/", strconv.FormatInt(p.Offset, 10))
	if err := c.do(ctx, http.MethodGet, path, nil, nil, &out); err != nil {
		return dlq.Letter{}, err
	}
	return out.Letter()
}

// Reasons groups the letters f selects by error.
func (c *Client) Reasons(ctx context.Context, name string, f dlq.Filter) ([]dlq.Reason, error) {
	f.Limit = 0
	var out ReasonList
	err := c.do(ctx, http.MethodGet, queuePath(name, "/reasons"), filterValues(f), nil, &out)
	return out.Reasons, err
}

// Replay replays the pending letters f selects; an empty f replays all.
func (c *Client) Replay(ctx context.Context, name string, f dlq.Filter) (int, error) {
	return c.act(ctx, name, "/replay", f)
}

// Discard discards the pending letters f selects; an empty f discards all.
func (c *Client) Discard(ctx context.Context, name string, f dlq.Filter) (int, error) {
	return c.act(ctx, name, "/discard", f)
}

func (c *Client) act(ctx context.Context, name, path string, f dlq.Filter) (int, error) {
	var req ActionRequest
	switch {
	case len(f.Positions) > 0 && (f.Error != "" || f.Key != "" || !f.From.IsZero() || !f.To.IsZero()):
		return 0, stream.Invalidf("dlq: give records or a filter, not both")
	case len(f.Positions) > 0:
		req.Records = f.Positions
	case f.Empty():
		req.All = true
	default:
		req.Filter = &FilterRequest{Error: f.Error, Key: f.Key}
		if !f.From.IsZero() {
			req.Filter.From = f.From.Format(time.RFC3339Nano)
		}
		if !f.To.IsZero() {
			req.Filter.To = f.To.Format(time.RFC3339Nano)
		}
	}
	var out ActionResponse
	if err := c.do(ctx, http.MethodPost, queuePath(name, path), nil, req, &out); err != nil {
		return 0, err
	}
	return out.Count, nil
}

// notFoundError is a 404 answer: it reads as the server's problem and
// matches dlq.ErrNotFound.
type notFoundError struct{ e *client.Error }

func (n notFoundError) Error() string   { return n.e.Error() }
func (n notFoundError) Unwrap() []error { return []error{dlq.ErrNotFound, n.e} }
