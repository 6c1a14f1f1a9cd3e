package sink

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
)

// BenchmarkUpsert500 writes batches of 500 upserts (of 6 columns, over
// 20,000 keys, so both inserts and updates) with the route's positions,
// one transaction per batch, as the relay does.
//
//	go test -run '^$' -bench Upsert500 -benchtime 200x ./internal/relay/sink/
func BenchmarkUpsert500(b *testing.B) {
	for _, h := range []harness{postgresHarness, mysqlHarness, sqliteHarness} {
		b.Run(h.dialect, func(b *testing.B) {
			s, _ := h.setup(b, "items")
			ctx := b.Context()
			if _, _, err := s.Prepare(ctx, "bench", items, []string{"name", "price", "active", "data", "at"}); err != nil {
				b.Fatal(err)
			}
			const size = 500
			batch := make([]Change, size)
			b.ResetTimer()
			for i := range b.N {
				for j := range batch {
					n := int64(i*size + j)
					batch[j] = Change{Op: Upsert, Pos: Position{Partition: 0, Offset: n}, Row: map[string]any{
						"id": n % 20000, "name": fmt.Sprint("name ", n), "price": "12.50", "active": n%2 == 0,
						"data": map[string]any{"n": n}, "at": "2026-01-02T03:04:05Z",
					}}
				}
				if err := s.Write(ctx, "bench", items, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkInsert500 writes batches of 500 inserts into an insert-only
// route: besides the rows and the positions, the transaction keeps each
// record's id (and checks that it was not written before), which is what
// keeps a record stored twice in its topic from becoming two rows.
//
//	go test -run '^$' -bench Insert500 -benchtime 200x ./internal/relay/sink/
func BenchmarkInsert500(b *testing.B) {
	log := Target{Table: Table{Name: "items"}, Mode: Insert}
	for _, h := range []harness{postgresHarness, mysqlHarness, sqliteHarness} {
		b.Run(h.dialect, func(b *testing.B) {
			s, _ := h.setup(b, "items")
			ctx := b.Context()
			if _, _, err := s.Prepare(ctx, "bench", log, []string{"id", "name", "price", "active", "data", "at"}); err != nil {
				b.Fatal(err)
			}
			const size = 500
			batch := make([]Change, size)
			b.ResetTimer()
			for i := range b.N {
				for j := range batch {
					n := int64(i*size + j)
					batch[j] = Change{Op: Upsert, Pos: Position{Partition: 0, Offset: n}, RecordID: uuid.Must(uuid.NewV7()).String(),
						Row: map[string]any{"id": n, "name": fmt.Sprint("name ", n), "price": "12.50", "active": n%2 == 0,
							"data": map[string]any{"n": n}, "at": "2026-01-02T03:04:05Z"}}
				}
				if err := s.Write(ctx, "bench", log, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
