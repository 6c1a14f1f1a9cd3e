package delivery

import (
	"fmt"
	"testing"

	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/internal/relay"
)

// TestTwoEngines: two processes share a route through its consumer group;
// when one stops mid-stream the other takes its partitions over, and the
// insert-only table ends with every record once.
func TestTwoEngines(t *testing.T) {
	e := newEnv(t)
	d := sqliteDest(t)
	d.exec(t, "events")
	dst := e.create(d, "log")
	e.route(relay.RouteInput{Name: "events", Destination: dst.ID, Table: "events", Mode: relay.ModeInsert,
		Mapping: []relay.ColumnMap{{Column: "rid", Field: "id"}, {Column: "v", Field: "v"}}})
	produce := func(from, to int) {
		var batch []map[string]any
		for i := from; i < to; i++ {
			batch = append(batch, map[string]any{"id": fmt.Sprintf("r%04d", i), "v": i})
		}
		e.produce("upsert", batch...)
	}
	_, stopA := e.engine(func(c *Config) { c.Member = "a"; c.MaxBatch = 10 })
	e.engine(func(c *Config) { c.Member = "b"; c.MaxBatch = 10 })
	produce(0, 300)
	eventually(t, "some rows", func() (bool, string) {
		n := count(t, d.db, `SELECT count(*) FROM events`)
		return n > 0, fmt.Sprint(n)
	})
	stopA()
	produce(300, 400)
	eventually(t, "400 rows", func() (bool, string) {
		n := count(t, d.db, `SELECT count(*) FROM events`)
		return n == 400, fmt.Sprint(n)
	})
	if n := count(t, d.db, `SELECT count(DISTINCT rid) FROM events`); n != 400 {
		t.Errorf("distinct records = %d, want 400", n)
	}
}

// TestBackends delivers a route over the Redis and Kafka backends too.
func TestBackends(t *testing.T) {
	for _, be := range []brokertest.Backend{brokertest.Redis, brokertest.Kafka} {
		t.Run(be.Name, func(t *testing.T) {
			e := newEnvWith(t, be.Open(t))
			d := sqliteDest(t)
			d.exec(t, "items")
			dst := e.create(d, "shop")
			e.route(relay.RouteInput{Name: "items", Destination: dst.ID, Table: "items", KeyColumns: []string{"id"}, Deletes: true,
				Mapping: []relay.ColumnMap{{Column: "id", Field: "id"}, {Column: "title", Field: "name"}}})
			e.engine(nil)
			e.produce("upsert", map[string]any{"id": 1, "name": "a"}, map[string]any{"id": 2, "name": "b"})
			e.produce("delete", map[string]any{"id": 1})
			eventually(t, "rows", func() (bool, string) {
				got := rows(t, d.db, `SELECT id, title FROM items ORDER BY id`)
				return fmt.Sprint(got) == "[2|b]", fmt.Sprint(got)
			})
		})
	}
}
