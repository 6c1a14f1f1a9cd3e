package delivery

import (
	"fmt"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/relay"
)

// BenchmarkDeliverSQLite measures end-to-end delivery from the embedded
// log into a SQLite table (upserts, batches of 500): b.N records are
// produced, then the engine runs until all are in the table.
//
//	go test -run '^$' -bench DeliverSQLite ./internal/relay/delivery/
func BenchmarkDeliverSQLite(b *testing.B) {
	tt := testing.TB(b)
	e := newEnv(tt)
	d := sqliteDest(tt)
	d.exec(tt, "items")
	dst := e.create(d, "shop")
	e.route(relay.RouteInput{Name: "items", Destination: dst.ID, Table: "items", KeyColumns: []string{"id"},
		Mapping: []relay.ColumnMap{{Column: "id", Field: "id"}, {Column: "title", Field: "name"}, {Column: "price", Field: "price"}}})
	const chunk = 1000
	for lo := 0; lo < b.N; lo += chunk {
		var rows []map[string]any
		for i := lo; i < min(lo+chunk, b.N); i++ {
			rows = append(rows, map[string]any{"id": i, "name": fmt.Sprint("item ", i), "price": 1.25})
		}
		e.produce("upsert", rows...)
	}
	b.ResetTimer()
	start := time.Now()
	_, stop := e.engine(func(c *Config) { c.MaxBatch = 500 })
	for count(tt, d.db, `SELECT count(*) FROM items`) < b.N {
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
	stop()
}
