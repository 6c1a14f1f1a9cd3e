package delivery

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/dlq"
	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/internal/relay"
)

// TestReplayDeadLetters: once the cause is fixed, dead letters replayed
// with the dlq tool reach the table through the route's retry topic.
func TestReplayDeadLetters(t *testing.T) {
	e := newEnv(t)
	d := sqliteDest(t)
	d.exec(t, "items")
	if _, err := d.db.Exec(`CREATE TRIGGER no_free BEFORE INSERT ON items WHEN NEW.price = 0
		BEGIN SELECT RAISE(ABORT, 'free items are not allowed'); END`); err != nil {
		t.Fatal(err)
	}
	dst := e.create(d, "shop")
	rt := e.route(relay.RouteInput{Name: "items", Destination: dst.ID, Table: "items", KeyColumns: []string{"id"},
		Mapping: []relay.ColumnMap{{Column: "id", Field: "id"}, {Column: "title", Field: "name"}, {Column: "price", Field: "price"}}})
	e.engine(nil)
	e.produce("upsert",
		map[string]any{"id": 1, "name": "a", "price": 1},
		map[string]any{"id": 2, "name": "b", "price": 0},
		map[string]any{"id": 3, "name": "c", "price": 3},
	)
	ids := func(want ...string) func() (bool, string) {
		return func() (bool, string) {
			got := rows(t, d.db, `SELECT id FROM items ORDER BY id`)
			return slices.Equal(got, want), fmt.Sprint(got)
		}
	}
	eventually(t, "good rows", ids("1", "3"))
	name := consume.DLQTopic(e.ds.Topic, Group(rt.ID))
	m, err := dlq.New(e.broker, dlq.Config{Logger: brokertest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eventually(t, "dead letter", func() (bool, string) {
		q, err := m.Queue(ctx, name)
		return err == nil && q.Pending == 1, fmt.Sprintf("%+v %v", q, err)
	})

	if _, err := d.db.Exec(`DROP TRIGGER no_free`); err != nil {
		t.Fatal(err)
	}
	n, err := m.Replay(ctx, name, dlq.Filter{})
	if err != nil || n != 1 {
		t.Fatalf("Replay = %d, %v; want 1", n, err)
	}
	eventually(t, "replayed row", ids("1", "2", "3"))
}
