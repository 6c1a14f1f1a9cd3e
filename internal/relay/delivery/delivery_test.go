package delivery

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/sink"
	"github.com/arus-platform/arus/stream"
)

func TestDeliverUpsertAndDelete(t *testing.T) {
	eachDest(t, func(t *testing.T, d dest) {
		e := newEnv(t)
		d.exec(t, "items")
		dst := e.create(d, "shopdb")
		rt := e.route(relay.RouteInput{Name: "items-to-shop", Destination: dst.ID, Table: "items", Mode: relay.ModeUpsert,
			KeyColumns: []string{"id"}, Deletes: true, Filter: `kind != "hidden"`,
			Mapping: []relay.ColumnMap{{Column: "id", Field: "id"}, {Column: "title", Field: "name"}, {Column: "price", Field: "price.amount"}}})
		eng, _ := e.engine(nil)

		e.produce("upsert",
			map[string]any{"id": 1, "name": "pen", "price": map[string]any{"amount": 1.5}, "extra": "dropped"},
			map[string]any{"id": 2, "name": "ink", "price": map[string]any{"amount": 3}},
			map[string]any{"id": 3, "name": "cap"},
			map[string]any{"id": 4, "name": "secret", "kind": "hidden"},
		)
		e.produce("upsert", map[string]any{"id": 2, "name": "ink (blue)", "price": map[string]any{"amount": 3.25}})
		e.produce("delete", map[string]any{"id": 3})

		want := []string{"1|pen|1.50|NULL", "2|ink (blue)|3.25|NULL"}
		if d.kind == relay.KindSQLite {
			want = []string{"1|pen|1.5|NULL", "2|ink (blue)|3.25|NULL"}
		}
		eventually(t, "rows delivered", func() (bool, string) {
			got := rows(t, d.db, `SELECT id, title, price, note FROM items ORDER BY id`)
			return slices.Equal(got, want), fmt.Sprint(got)
		})
		st := eng.Status()[rt.ID]
		if st.Guarantee != sink.ExactlyOnce || st.State != StateRunning {
			t.Errorf("status = %+v, want exactly-once and running", st)
		}
	})
}

// TestRedeliveryInsertsOnce replays a route's whole topic into an
// insert-only table with an auto-increment key: the destination's
// bookkeeping skips what was written, so no row appears twice.
func TestRedeliveryInsertsOnce(t *testing.T) {
	eachDest(t, func(t *testing.T, d dest) {
		e := newEnv(t)
		d.exec(t, "events")
		dst := e.create(d, "log")
		rt := e.route(relay.RouteInput{Name: "events", Destination: dst.ID, Table: "events", Mode: relay.ModeInsert,
			Mapping: []relay.ColumnMap{{Column: "rid", Field: "id"}, {Column: "v", Field: "v"}}})
		var batch []map[string]any
		for i := range 50 {
			batch = append(batch, map[string]any{"id": fmt.Sprintf("r%02d", i), "v": i})
		}
		e.produce("upsert", batch...)
		_, stop := e.engine(nil)
		eventually(t, "first 50 rows", func() (bool, string) {
			n := count(t, d.db, `SELECT count(*) FROM events`)
			return n == 50, fmt.Sprint(n)
		})
		stop()

		// Replay everything, as a lost group offset or a crash would.
		ctx := context.Background()
		if _, err := e.broker.ResetOffsets(ctx, Group(rt.ID), e.ds.Topic, stream.Reset{To: stream.ResetEarliest}); err != nil {
			t.Fatalf("ResetOffsets: %v", err)
		}
		e.produce("upsert", map[string]any{"id": "r50", "v": 50})
		e.engine(nil)
		eventually(t, "51 rows", func() (bool, string) {
			n := count(t, d.db, `SELECT count(*) FROM events`)
			return n == 51, fmt.Sprint(n)
		})
		if n := count(t, d.db, `SELECT count(DISTINCT rid) FROM events`); n != 51 {
			t.Errorf("distinct rids = %d, want 51", n)
		}
		if n := count(t, d.db, `SELECT count(*) FROM events`); n != 51 {
			t.Errorf("rows after replay = %d, want 51 (none doubled)", n)
		}
	})
}

// TestAtLeastOnceFallback: where the destination account may not create
// the bookkeeping table, the route still delivers and says it runs
// at-least-once.
func TestAtLeastOnceFallback(t *testing.T) {
	e := newEnv(t)
	d := mysqlDestWith(t, "SELECT, INSERT, UPDATE, DELETE")
	d.exec(t, "items")
	dst := e.create(d, "limited")
	rt := e.route(relay.RouteInput{Name: "items", Destination: dst.ID, Table: "items", KeyColumns: []string{"id"},
		Mapping: []relay.ColumnMap{{Column: "id", Field: "id"}, {Column: "title", Field: "name"}}})
	eng, _ := e.engine(nil)
	e.produce("upsert", map[string]any{"id": 1, "name": "a"})
	eventually(t, "row delivered", func() (bool, string) {
		n := count(t, d.db, `SELECT count(*) FROM items`)
		return n == 1, fmt.Sprint(n)
	})
	if g := eng.Status()[rt.ID].Guarantee; g != sink.AtLeastOnce {
		t.Errorf("guarantee = %v, want at-least-once", g)
	}
}
