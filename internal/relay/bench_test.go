package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// BenchmarkIngest measures single-record ingest requests through the
// handler (no network), with key verification, the dataset's schema and
// the embedded broker's durable produce.
func BenchmarkIngest(b *testing.B) {
	for _, name := range []string{"nop-producer", "embedded"} {
		b.Run(name, func(b *testing.B) {
			var r *Relay
			if name == "embedded" {
				br := brokertest.Embedded.Open(b)
				r, _ = benchRelay(b, br)
			} else {
				r, _ = benchRelay(b, nopProducer{})
			}
			mux := http.NewServeMux()
			a, err := api.New(brokertest.Embedded.Open(b), api.Config{Auth: r.cfg.Auth, Logger: discardLogger()})
			if err != nil {
				b.Fatal(err)
			}
			Register(a, mux, r)
			key := benchKey(b, r)
			var n atomic.Int64
			// Many clients at once, as under load: the broker can then
			// make several requests durable with one sync.
			b.SetParallelism(32)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					body := fmt.Sprintf(`{"id": %d, "car_name": "Avanza", "stock": 4, "price": 250000000, "category": "mpv", "type": "manual"}`, i)
					req := httptest.NewRequest("POST", "/api/v1/datasets/cars/records", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+key)
					w := httptest.NewRecorder()
					mux.ServeHTTP(w, req)
					if w.Code != 202 {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

func benchRelay(b *testing.B, p stream.Producer) (*Relay, error) {
	r, _ := newRelay(b, store.Config{Dir: b.TempDir()}, p, nil)
	return r, nil
}

func benchKey(b *testing.B, r *Relay) string {
	ctx := context.Background()
	if _, err := r.CreateDataset(ctx, Dataset{Name: "cars", KeyFields: []string{"id"}, Schema: json.RawMessage(
		`{"type":"object","properties":{"price":{"type":"number","minimum":0},"stock":{"type":"integer"}}}`)}); err != nil {
		b.Fatal(err)
	}
	_, key, err := r.CreateApplication(ctx, NewApplication{Name: "shop", Datasets: []string{"cars"}})
	if err != nil {
		b.Fatal(err)
	}
	return key
}
