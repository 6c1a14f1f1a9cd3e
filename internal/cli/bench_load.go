package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

type loadResult struct {
	elapsed   time.Duration
	ok, fail  int64
	latencies []time.Duration
	statuses  map[int]int64
	firstErr  string
	// refused, when set, is why the run stopped early: the server refused
	// requests and had accepted none.
	refused string
	// lastOK is when the last accepted request was answered.
	lastOK time.Time
}

// refusal reports whether status means the server will refuse every
// request like this one: the key, the dataset or the body is wrong.
// Overload (429, 503) and server errors are not refusals.
func refusal(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// runLoad sends requests from conc clients for dur, then waits for the
// requests in flight and counts them too; ctx ends everything at once. It
// stops early when a refusal comes before any request was accepted.
func runLoad(ctx context.Context, client *http.Client, url, key string, conc, per int, dur time.Duration) *loadResult {
	sending, stop := context.WithTimeout(ctx, dur)
	defer stop()
	var (
		mu      sync.Mutex
		res     = &loadResult{statuses: map[int]int64{}}
		nextID  atomic.Int64
		wg      sync.WaitGroup
		started = time.Now()
	)
	for c := 0; c < conc; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var body bytes.Buffer
			for sending.Err() == nil {
				body.Reset()
				writeCars(&body, per, &nextID)
				// The request runs to its end even when sending stops:
				// the server may store it, so it is counted.
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body.Bytes()))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				resp, err := client.Do(req)
				status := 0
				if err == nil {
					status = resp.StatusCode
					msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
					resp.Body.Close()
					if status != http.StatusAccepted {
						err = fmt.Errorf("%d %s: %s", status, http.StatusText(status), problemDetail(msg))
					}
				}
				done := time.Now()
				mu.Lock()
				res.statuses[status]++
				if err != nil {
					res.fail++
					if res.firstErr == "" {
						res.firstErr = err.Error()
					}
					if refusal(status) && res.ok == 0 && res.refused == "" {
						res.refused = err.Error()
						stop()
					}
				} else {
					res.ok++
					if done.After(res.lastOK) {
						res.lastOK = done
					}
				}
				mu.Unlock()
				if err == nil {
					lat = append(lat, done.Sub(t0))
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(started)
	slices.Sort(res.latencies)
	return res
}

// problemDetail is the detail of a problem-details answer, or the answer
// itself.
func problemDetail(msg []byte) string {
	var p struct{ Detail string }
	if json.Unmarshal(msg, &p) == nil && p.Detail != "" {
		return p.Detail
	}
	return string(bytes.TrimSpace(msg))
}

var (
	carNames   = []string{"Avanza", "Xenia", "Pajero", "Fortuner", "Jazz", "Brio", "Ertiga", "Innova"}
	categories = []string{"mpv", "suv", "hatchback", "sedan"}
	types      = []string{"manual", "automatic"}
)

// writeCars writes n generated records of the cars dataset as a JSON
// array (or one object when n is 1).
func writeCars(b *bytes.Buffer, n int, next *atomic.Int64) {
	if n > 1 {
		b.WriteByte('[')
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		id := next.Add(1)
		fmt.Fprintf(b, `{"id":%d,"car_name":%q,"stock":%d,"price":%d,"category":%q,"type":%q}`,
			id, carNames[rand.IntN(len(carNames))], rand.IntN(50), 150_000_000+rand.IntN(500)*1_000_000,
			categories[rand.IntN(len(categories))], types[rand.IntN(len(types))])
	}
	if n > 1 {
		b.WriteByte(']')
	}
}

// errNotThere is a 404 answer.
var errNotThere = errors.New("not found")

// getJSON GETs path with key into v; an answer other than 200 is an
// error with the server's detail.
func getJSON(ctx context.Context, client *http.Client, base, key, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("bench: GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("bench: GET %s: %s: %w", path, problemDetail(b), errNotThere)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bench: GET %s: %d %s: %s", path, resp.StatusCode, http.StatusText(resp.StatusCode), problemDetail(b))
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("bench: GET %s: %w", path, err)
	}
	return nil
}

// delivery is what --wait-delivered watches: the dataset's topic, its
// partition count and the consumer groups of its enabled routes.
type delivery struct {
	topic      string
	partitions int
	groups     []string
}

// routeGroups finds the dataset's topic and the groups of its routes.
func routeGroups(ctx context.Context, client *http.Client, base, key, dataset string) (delivery, error) {
	var d delivery
	var ds struct{ Topic string }
	if err := getJSON(ctx, client, base, key, "/api/v1/relay/datasets/"+dataset, &ds); err != nil {
		return d, err
	}
	var topic struct{ Partitions int }
	if err := getJSON(ctx, client, base, key, "/api/v1/topics/"+ds.Topic, &topic); err != nil {
		return d, err
	}
	d.topic, d.partitions = ds.Topic, topic.Partitions
	var routes struct {
		Items []struct {
			ID      string `json:"id"`
			Dataset string `json:"dataset"`
			Enabled bool   `json:"enabled"`
		} `json:"items"`
	}
	if err := getJSON(ctx, client, base, key, "/api/v1/relay/routes", &routes); err != nil {
		return d, err
	}
	for _, r := range routes.Items {
		if r.Dataset == dataset && r.Enabled {
			d.groups = append(d.groups, "relay.route."+r.ID)
		}
	}
	if len(d.groups) == 0 {
		return d, fmt.Errorf("%w %s", errNoRoutes, dataset)
	}
	return d, nil
}

// caughtUp reports whether group has committed every record of the
// topic: a position on each partition, none lagging.
func (d delivery) caughtUp(ctx context.Context, client *http.Client, base, key, group string) (bool, error) {
	var g struct {
		Offsets []struct {
			Topic string `json:"topic"`
			Lag   int64  `json:"lag"`
		} `json:"offsets"`
	}
	if err := getJSON(ctx, client, base, key, "/api/v1/groups/"+group, &g); err != nil {
		if errors.Is(err, errNotThere) {
			return false, nil // a route's group is made when its delivery starts
		}
		return false, err
	}
	n := 0
	for _, o := range g.Offsets {
		if o.Topic != d.topic {
			continue
		}
		if o.Lag != 0 {
			return false, nil
		}
		n++
	}
	return n == d.partitions, nil
}

// wait polls the groups until every one has caught up, and returns how
// long after since that was seen.
func (d delivery) wait(ctx context.Context, client *http.Client, base, key string, since time.Time, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	left := slices.Clone(d.groups)
	for {
		for len(left) > 0 {
			ok, err := d.caughtUp(ctx, client, base, key, left[0])
			if err != nil && ctx.Err() == nil {
				return 0, err
			}
			if !ok {
				break
			}
			left = left[1:]
		}
		if len(left) == 0 {
			return time.Since(since), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("bench: the routes had not delivered everything after %s: group %s has not caught up", timeout, left[0])
		case <-tick.C:
		}
	}
}
