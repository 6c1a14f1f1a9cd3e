package relaytest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Car is a record of the dataset.
type Car struct {
	ID       int    `json:"id"`
	Name     string `json:"car_name"`
	Stock    int    `json:"stock"`
	Price    int64  `json:"price"`
	Category string `json:"category"`
	Type     string `json:"type"`
}

// field renders the named field as the tables and the delivery log show
// it.
func (c Car) field(name string) string {
	switch name {
	case "id":
		return strconv.Itoa(c.ID)
	case "car_name":
		return c.Name
	case "stock":
		return strconv.Itoa(c.Stock)
	case "price":
		return strconv.FormatInt(c.Price, 10)
	case "category":
		return c.Category
	case "type":
		return c.Type
	}
	panic("relaytest: no field " + name)
}

// row renders the row route r writes for c: its columns joined by '|'.
func (r route) row(c Car) string {
	parts := make([]string, len(r.fields))
	for i, f := range r.fields {
		parts[i] = c.field(f)
	}
	return strings.Join(parts, "|")
}

// State is what the tables must hold: the last upsert of every id not
// deleted since (the upsert routes), and every upsert once (the
// insert-only route).
type State struct {
	Final   map[int]Car
	Upserts []Car
}

// Rows returns the rows the named route's table must hold, sorted.
func (st *State) Rows(name string) []string {
	r := routeNamed(name)
	var out []string
	if r.upsert {
		for _, c := range st.Final {
			out = append(out, r.row(c))
		}
	} else {
		for _, c := range st.Upserts {
			out = append(out, r.row(c))
		}
	}
	slices.Sort(out)
	return out
}

// Workload ingests records of the dataset from concurrent clients, as
// batches of 1 to 20 upserts and deletes. Each client owns the ids
// congruent to its number and sends its batches one after the other, so
// the last change of every id is known. Every batch carries an
// Idempotency-Key of its own and is posted again, with the same key and
// body, until it is answered 202, as a careful client does across
// failures of the server.
type Workload struct {
	// Clients post concurrently; Records are sent in all, on IDs ids.
	Clients, Records, IDs int

	appKey string
	prefix string
	final  []map[int]Car
	ups    [][]Car

	acked   atomic.Int64
	retries atomic.Int64
	mu      sync.Mutex
	ids     map[string]bool // the record ids of 202 answers
}

// Workload returns the scenario's workload of records (8 clients, 3,000
// ids), ingested with the application Configure created.
func (s *Scenario) Workload(records int) *Workload {
	return &Workload{Clients: 8, Records: records, IDs: 3000, appKey: s.appKey, prefix: s.Tag, ids: map[string]bool{}}
}

// Run posts the workload and returns once every batch was answered 202.
// It returns an error when a batch is refused for good (an answer that
// retrying cannot change: 4xx other than 429) or ctx ends first;
// transport errors, 429 and 5xx are retried with backoff. Call it once;
// Acked and Retries may be read meanwhile from other goroutines.
func (w *Workload) Run(ctx context.Context, api API) error {
	w.final = make([]map[int]Car, w.Clients)
	w.ups = make([][]Car, w.Clients)
	errs := make(chan error, w.Clients)
	var wg sync.WaitGroup
	for c := range w.Clients {
		w.final[c] = map[int]Car{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.client(ctx, api, c); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (w *Workload) client(ctx context.Context, api API, c int) error {
	rng := rand.New(rand.NewPCG(uint64(c), 7))
	share := w.Records / w.Clients
	if c < w.Records%w.Clients {
		share++
	}
	for sent, batchNo := 0, 0; sent < share; batchNo++ {
		n := min(1+rng.IntN(20), share-sent)
		batch := make([]string, 0, n)
		for i := range n {
			id := c + w.Clients*rng.IntN(w.IDs/w.Clients)
			if _, ok := w.final[c][id]; ok && rng.IntN(6) == 0 {
				batch = append(batch, fmt.Sprintf(`{"op":"delete","data":{"id":%d}}`, id))
				delete(w.final[c], id)
				continue
			}
			x := Car{ID: id, Name: fmt.Sprintf("car-%d-%d", id, sent+i), Stock: rng.IntN(100), Price: int64(100_000_000 + rng.IntN(900)*1_000_000),
				Category: []string{"mpv", "suv", "sedan"}[rng.IntN(3)], Type: []string{"manual", "automatic"}[rng.IntN(2)]}
			b, _ := json.Marshal(x)
			batch = append(batch, string(b))
			w.final[c][id] = x
			w.ups[c] = append(w.ups[c], x)
		}
		key := fmt.Sprintf("%s-c%d-b%d", w.prefix, c, batchNo)
		if err := w.post(ctx, api, key, "["+strings.Join(batch, ",")+"]"); err != nil {
			return err
		}
		sent += n
		w.acked.Add(int64(n))
	}
	return nil
}

// post sends one batch until it is answered 202.
func (w *Workload) post(ctx context.Context, api API, key, body string) error {
	backoff := 20 * time.Millisecond
	for {
		status, b, err := api.Call(ctx, "POST", "/api/v1/datasets/cars/records", w.appKey, body, "Idempotency-Key", key)
		if err == nil && status == http.StatusAccepted {
			var res struct {
				IDs []string `json:"ids"`
			}
			if err := json.Unmarshal(b, &res); err != nil {
				return fmt.Errorf("relaytest: batch %s: answer %s: %w", key, b, err)
			}
			w.mu.Lock()
			for _, id := range res.IDs {
				w.ids[id] = true
			}
			w.mu.Unlock()
			return nil
		}
		if err == nil && status < 500 && status != http.StatusTooManyRequests {
			return fmt.Errorf("relaytest: batch %s refused: %d %s", key, status, b)
		}
		w.retries.Add(1)
		select {
		case <-ctx.Done():
			return fmt.Errorf("relaytest: batch %s never accepted (last: %d %s %v): %w", key, status, b, err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// Acked returns how many records were acknowledged (202) so far.
func (w *Workload) Acked() int { return int(w.acked.Load()) }

// Retries returns how many posts were retried.
func (w *Workload) Retries() int { return int(w.retries.Load()) }

// AckedIDs returns the record ids of every 202 answer.
func (w *Workload) AckedIDs() map[string]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.ids)
}

// Expected is what the tables must hold after Run returned nil, as the
// clients know it.
func (w *Workload) Expected() *State {
	st := &State{Final: map[int]Car{}}
	for c := range w.final {
		for id, x := range w.final[c] {
			st.Final[id] = x
		}
		st.Upserts = append(st.Upserts, w.ups[c]...)
	}
	return st
}
