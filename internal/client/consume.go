package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/stream"
)

// drainTimeout bounds how long Consume waits, after ctx is done, for the
// server to commit what was acknowledged and end the stream.
const drainTimeout = 10 * time.Second

// Consume joins cfg.Group on the server and calls h for the batches the
// server streams. It uses the API's client-ack mode: after each batch it
// tells the server how many records h processed (all of them when h returns
// nil, N for a *stream.PartialError, none otherwise), and the server
// commits exactly those, so delivery stays at-least-once end to end.
//
// Batches are handled one at a time, in the order the server sends them.
// When ctx is done Consume lets a running handler finish, asks the server to
// stop, waits until it has committed and ended the stream, and returns nil.
// It returns an error wrapping stream.ErrUnavailable when the connection to
// the server breaks.
func (c *Client) Consume(ctx context.Context, cfg stream.ConsumerConfig, h stream.Handler) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	q := url.Values{
		"topic":         cfg.Topics,
		"member":        {cfg.Member},
		"max_batch":     {strconv.Itoa(cfg.MaxBatch)},
		"retry_backoff": {cfg.RetryBackoff.String()},
		"ack":           {api.AckClient},
	}
	if cfg.StartAt == stream.StartLatest {
		q.Set("start", "latest")
	}
	// The request outlives ctx by the drain: it is cut only when the server
	// does not end the stream in time.
	reqCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	acks := &ackWriter{}
	pr, pw := io.Pipe()
	defer pr.Close() // unblocks an ack write the transport no longer reads
	acks.w = pw
	req, err := c.newRequest(reqCtx, http.MethodPost, groupPath(cfg.Group, "/consume"), q, pr)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Accept", "application/x-ndjson")

	stopped := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		acks.stop()
		close(stopped)
		time.AfterFunc(drainTimeout, abort)
	})
	defer stop()

	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return c.transportError(reqCtx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return responseError(resp)
	}

	dec := json.NewDecoder(bufio.NewReaderSize(resp.Body, 256<<10))
	for {
		var line struct {
			api.ConsumeBatch
			Error *api.Problem `json:"error"`
		}
		if err := dec.Decode(&line); err != nil {
			select {
			case <-stopped:
				return nil // the server committed and ended the stream, or the drain timed out
			default:
			}
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("%w: the server ended the consume stream of group %q", stream.ErrUnavailable, cfg.Group)
			}
			if ctx.Err() != nil {
				return nil
			}
			return c.transportError(reqCtx, err)
		}
		if line.Error != nil {
			return &Error{Status: line.Error.Status, Problem: *line.Error}
		}
		batch := make([]*stream.Record, 0, len(line.Records))
		for _, jr := range line.Records {
			r, err := jr.Stream()
			if err != nil {
				return fmt.Errorf("client: consume: %w", err)
			}
			batch = append(batch, r)
		}
		if !acks.begin() {
			continue // stopping: the server will deliver the batch again
		}
		n := stream.Processed(h(ctx, batch), len(batch))
		acks.end(api.Ack{Batch: line.Batch, Processed: n})
	}
}

// ackWriter writes acknowledgements to the request body and closes it to
// stop the stream, never while a handler is running: a batch being handled
// when ctx ends is acknowledged before the stream stops.
type ackWriter struct {
	mu       sync.Mutex
	w        *io.PipeWriter
	handling bool
	stopping bool
}

// begin marks a handler as running; it reports false when stopping.
func (a *ackWriter) begin() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopping {
		return false
	}
	a.handling = true
	return true
}

// end acknowledges a handled batch.
func (a *ackWriter) end(ack api.Ack) {
	b, _ := json.Marshal(ack)
	b = append(b, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	a.handling = false
	_, _ = a.w.Write(b) // fails only once the request is gone; the batch is then redelivered
	if a.stopping {
		_ = a.w.Close()
	}
}

// stop closes the body now, or after the running handler's ack.
func (a *ackWriter) stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopping = true
	if !a.handling {
		_ = a.w.Close()
	}
}
