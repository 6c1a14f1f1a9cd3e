// Package client is a [stream.Broker] over the HTTP API of a running Arus
// server (internal/api), so that code written against stream.Broker, the
// CLI's commands among it, works the same against a server as against an
// engine opened in-process.
//
// Errors carry the server's problem details and unwrap to the stream
// sentinel the server saw (stream.ErrTopicNotFound, stream.ErrInvalid, …).
// A request that cannot reach the server fails with stream.ErrUnavailable.
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/stream"
)

// Client talks to one Arus server. It is safe for concurrent use.
type Client struct {
	call   *api.Caller
	http   *http.Client
	closed atomic.Bool
}

var _ stream.Broker = (*Client)(nil)

// New returns a client of the server at baseURL (http://host:8080; a bare
// host:port means http). apiKey, when not empty, is sent as a bearer token.
func New(baseURL, apiKey string) (*Client, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	transport.ResponseHeaderTimeout = 0
	hc := &http.Client{Transport: transport}
	call, err := api.NewCaller(baseURL, apiKey, hc)
	if err != nil {
		return nil, err
	}
	return &Client{call: call, http: hc}, nil
}

// Error is a problem the server answered with. It unwraps to the stream
// sentinel of its problem type.
type Error = api.ResponseError

// newRequest builds a request with the client's credentials.
func (c *Client) newRequest(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Request, error) {
	if c.closed.Load() {
		return nil, stream.ErrClosed
	}
	return c.call.NewRequest(ctx, method, path, q, body)
}

// do sends a request with in as its JSON body (when not nil) and decodes a
// 2xx answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	if c.closed.Load() {
		return stream.ErrClosed
	}
	err := c.call.Do(ctx, method, path, q, in, out)
	var re *Error
	if err != nil && !errors.As(err, &re) && ctx.Err() == nil && c.closed.Load() {
		return stream.ErrClosed
	}
	return err
}

// transportError wraps a failure to talk to the server.
func (c *Client) transportError(ctx context.Context, err error) error {
	if ctx.Err() == nil && c.closed.Load() {
		return stream.ErrClosed
	}
	return c.call.TransportError(ctx, err)
}

// responseError reads a non-2xx answer.
func responseError(resp *http.Response) error {
	return api.ReadResponseError(resp)
}

// Ping asks the server whether it and its broker are ready.
func (c *Client) Ping(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/readyz", nil, nil, nil)
}

// Close releases the client's idle connections; later calls fail with
// stream.ErrClosed.
func (c *Client) Close() error {
	c.closed.Store(true)
	c.http.CloseIdleConnections()
	return nil
}

func topicPath(topic string, rest ...string) string {
	return "/api/v1/topics/" + url.PathEscape(topic) + strings.Join(rest, "")
}

func groupPath(group string, rest ...string) string {
	return "/api/v1/groups/" + url.PathEscape(group) + strings.Join(rest, "")
}

// CreateTopic creates a topic.
func (c *Client) CreateTopic(ctx context.Context, t stream.Topic) error {
	if err := t.Validate(); err != nil {
		return err
	}
	req := api.CreateTopicRequest{Name: t.Name, Partitions: &t.Partitions,
		RetentionMS: t.RetentionTime.Milliseconds(), RetentionBytes: t.RetentionBytes}
	return c.do(ctx, http.MethodPost, "/api/v1/topics", nil, req, nil)
}

// DeleteTopic deletes a topic and its records.
func (c *Client) DeleteTopic(ctx context.Context, name string) error {
	if err := stream.ValidateTopicName(name); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, topicPath(name), nil, nil, nil)
}

// ListTopics returns every topic, sorted by name.
func (c *Client) ListTopics(ctx context.Context) ([]stream.TopicInfo, error) {
	var out api.TopicList
	if err := c.do(ctx, http.MethodGet, "/api/v1/topics", nil, nil, &out); err != nil {
		return nil, err
	}
	topics := make([]stream.TopicInfo, len(out.Topics))
	for i, t := range out.Topics {
		topics[i] = t.Stream()
	}
	return topics, nil
}

// DescribeTopic describes one topic.
func (c *Client) DescribeTopic(ctx context.Context, name string) (stream.TopicInfo, error) {
	if err := stream.ValidateTopicName(name); err != nil {
		return stream.TopicInfo{}, err
	}
	var out api.Topic
	if err := c.do(ctx, http.MethodGet, topicPath(name), nil, nil, &out); err != nil {
		return stream.TopicInfo{}, err
	}
	return out.Stream(), nil
}

// ListGroups returns every consumer group, sorted by name.
func (c *Client) ListGroups(ctx context.Context) ([]stream.GroupInfo, error) {
	var out api.GroupList
	if err := c.do(ctx, http.MethodGet, "/api/v1/groups", nil, nil, &out); err != nil {
		return nil, err
	}
	groups := make([]stream.GroupInfo, len(out.Groups))
	for i, g := range out.Groups {
		groups[i] = g.Stream()
	}
	return groups, nil
}

// DescribeGroup describes one group with its lag.
func (c *Client) DescribeGroup(ctx context.Context, group string) (stream.GroupInfo, error) {
	if err := stream.ValidateGroupName(group); err != nil {
		return stream.GroupInfo{}, err
	}
	var out api.Group
	if err := c.do(ctx, http.MethodGet, groupPath(group), nil, nil, &out); err != nil {
		return stream.GroupInfo{}, err
	}
	return out.Stream(), nil
}

// ResetOffsets moves a group's committed offsets on one topic.
func (c *Client) ResetOffsets(ctx context.Context, group, topic string, to stream.Reset) ([]stream.GroupOffset, error) {
	if err := stream.ValidateGroupName(group); err != nil {
		return nil, err
	}
	if err := to.Validate(); err != nil {
		return nil, err
	}
	req := api.ResetRequest{Topic: topic, Partitions: to.Partitions}
	switch to.To {
	case stream.ResetEarliest:
		req.To = "earliest"
	case stream.ResetLatest:
		req.To = "latest"
	case stream.ResetTime:
		req.To = "time"
		req.Time = to.Time.Format(time.RFC3339Nano)
	case stream.ResetOffset:
		req.To = "offset"
		req.Offset = &to.Offset
	}
	var out api.ResetResponse
	if err := c.do(ctx, http.MethodPost, groupPath(group, "/reset"), nil, req, &out); err != nil {
		return nil, err
	}
	return api.GroupOffsetsStream(out.Offsets), nil
}

// DeleteGroup forgets a group and its offsets.
func (c *Client) DeleteGroup(ctx context.Context, group string) error {
	if err := stream.ValidateGroupName(group); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, groupPath(group), nil, nil, nil)
}

// Read returns up to max records of a partition from offset.
func (c *Client) Read(ctx context.Context, topic string, partition int32, offset int64, max int) ([]*stream.Record, error) {
	if err := stream.ValidateTopicName(topic); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, stream.Invalidf("offset %d is negative; offsets are 0 or more", offset)
	}
	if max <= 0 {
		return nil, stream.Invalidf("read limit %d: read at least 1 record", max)
	}
	q := url.Values{"offset": {strconv.FormatInt(offset, 10)}, "limit": {strconv.Itoa(max)}}
	var out api.RecordsPage
	if err := c.do(ctx, http.MethodGet, partitionPath(topic, partition, "/records"), q, nil, &out); err != nil {
		return nil, err
	}
	records := make([]*stream.Record, len(out.Records))
	for i, r := range out.Records {
		rec, err := r.Stream()
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		records[i] = rec
	}
	return records, nil
}

// OffsetForTime returns the offset of a partition's first record at or
// after t, or its end offset.
func (c *Client) OffsetForTime(ctx context.Context, topic string, partition int32, t time.Time) (int64, error) {
	if err := stream.ValidateTopicName(topic); err != nil {
		return 0, err
	}
	q := url.Values{"time": {t.Format(time.RFC3339Nano)}}
	var out api.PartitionOffset
	if err := c.do(ctx, http.MethodGet, partitionPath(topic, partition, "/offset"), q, nil, &out); err != nil {
		return 0, err
	}
	return out.Offset, nil
}

func partitionPath(topic string, partition int32, rest string) string {
	return topicPath(topic, "/partitions/", strconv.FormatInt(int64(partition), 10), rest)
}
