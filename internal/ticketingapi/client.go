package ticketingapi

import (
	"context"
	"net/url"
	"strconv"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/ticketing"
)

// Client calls the ticketing API of a running server, for the CLI.
type Client struct{ c *api.Caller }

// NewClient returns a client of the server at baseURL with an API key.
func NewClient(baseURL, apiKey string) (*Client, error) {
	c, err := api.NewCaller(baseURL, apiKey, nil)
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

func values(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

// Events lists events, optionally of one status.
func (c *Client) Events(ctx context.Context, status string) ([]ticketing.Event, error) {
	var out struct {
		Events []ticketing.Event `json:"events"`
	}
	err := c.c.Do(ctx, "GET", Prefix+"/events", values("status", status), nil, &out)
	return out.Events, err
}

// ApproveEvent approves an event waiting for approval.
func (c *Client) ApproveEvent(ctx context.Context, id string) (ticketing.Event, error) {
	var e ticketing.Event
	err := c.c.Do(ctx, "POST", Prefix+"/events/"+url.PathEscape(id)+"/approve", nil, nil, &e)
	return e, err
}

// CancelEvent cancels an event, refunding its paid orders.
func (c *Client) CancelEvent(ctx context.Context, id, reason string) (ticketing.Event, error) {
	var e ticketing.Event
	err := c.c.Do(ctx, "POST", Prefix+"/events/"+url.PathEscape(id)+"/cancel", nil, reasonBody{Reason: reason}, &e)
	return e, err
}

// Orders lists orders.
func (c *Client) Orders(ctx context.Context, event, status string, limit int) ([]ticketing.Order, error) {
	var out struct {
		Orders []ticketing.Order `json:"orders"`
	}
	q := values("event_id", event, "status", status)
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	err := c.c.Do(ctx, "GET", Prefix+"/orders", q, nil, &out)
	return out.Orders, err
}

// Order returns an order by id or number.
func (c *Client) Order(ctx context.Context, id string) (ticketing.Order, error) {
	var o ticketing.Order
	err := c.c.Do(ctx, "GET", Prefix+"/orders/"+url.PathEscape(id), nil, nil, &o)
	return o, err
}

// Refunds lists refunds.
func (c *Client) Refunds(ctx context.Context, status string, limit int) ([]ticketing.Refund, error) {
	var out struct {
		Refunds []ticketing.Refund `json:"refunds"`
	}
	q := values("status", status)
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	err := c.c.Do(ctx, "GET", Prefix+"/refunds", q, nil, &out)
	return out.Refunds, err
}

// ApproveRefund approves a requested refund.
func (c *Client) ApproveRefund(ctx context.Context, id string) (ticketing.Refund, error) {
	var r ticketing.Refund
	err := c.c.Do(ctx, "POST", Prefix+"/refunds/"+url.PathEscape(id)+"/approve", nil, nil, &r)
	return r, err
}

// RejectRefund rejects a requested refund.
func (c *Client) RejectRefund(ctx context.Context, id, reason string) (ticketing.Refund, error) {
	var r ticketing.Refund
	err := c.c.Do(ctx, "POST", Prefix+"/refunds/"+url.PathEscape(id)+"/reject", nil, reasonBody{Reason: reason}, &r)
	return r, err
}

// Audit replays an event's areas and compares them with the read model.
func (c *Client) Audit(ctx context.Context, event string) (Audit, error) {
	var a Audit
	err := c.c.Do(ctx, "GET", Prefix+"/events/"+url.PathEscape(event)+"/audit", nil, nil, &a)
	return a, err
}
