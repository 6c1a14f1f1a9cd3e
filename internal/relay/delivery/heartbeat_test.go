package delivery

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/testenv"
	"github.com/arus-platform/arus/stream"
)

// TestHeartbeat: a destination without routes is still pinged; its
// health, the up gauge and the state-change counter follow it.
func TestHeartbeat(t *testing.T) {
	e := newEnv(t)
	p := newProxy(t, mustHost(t, testenv.Postgres(t)))
	pg := postgresDest(t, p.addr)
	dst := e.create(pg, "warehouse")
	reg := prometheus.NewRegistry()
	eng, _ := e.engine(func(c *Config) { c.Registerer = reg })
	ctx := context.Background()
	health := func(want string) func() (bool, string) {
		return func() (bool, string) {
			d, err := e.relay.Destination(ctx, dst.ID)
			if err != nil {
				return false, err.Error()
			}
			return d.Health == want, d.Health + " " + d.LastError
		}
	}
	gauge := func(want float64) func() (bool, string) {
		return func() (bool, string) {
			got := value(eng.m.up.WithLabelValues("warehouse"))
			return got == want, fmt.Sprint(got)
		}
	}
	eventually(t, "up", health(relay.HealthUp))
	eventually(t, "gauge 1", gauge(1))

	p.cut()
	eventually(t, "down", health(relay.HealthDown))
	eventually(t, "gauge 0", gauge(0))
	d, _ := e.relay.Destination(ctx, dst.ID)
	if d.LastError == "" {
		t.Error("a down destination has no last error")
	}

	p.restore()
	eventually(t, "up again", health(relay.HealthUp))
	if got := value(eng.m.stateChanges.WithLabelValues("warehouse", relay.HealthDown)); got != 1 {
		t.Errorf("changes to down = %v, want 1", got)
	}
	if got := value(eng.m.stateChanges.WithLabelValues("warehouse", relay.HealthUp)); got != 2 {
		t.Errorf("changes to up = %v, want 2", got)
	}
}

// TestRouteChanges: disabling a route stops its worker and its records
// wait in the topic; enabling it again delivers them; a deleted route
// stops.
func TestRouteChanges(t *testing.T) {
	e := newEnv(t)
	d := sqliteDest(t)
	d.exec(t, "items")
	dst := e.create(d, "shop")
	in := relay.RouteInput{Name: "items", Dataset: e.ds.Name, Destination: dst.ID, Table: "items", KeyColumns: []string{"id"},
		Mapping: []relay.ColumnMap{{Column: "id", Field: "id"}, {Column: "title", Field: "name"}}}
	rt := e.route(in)
	eng, _ := e.engine(nil)
	ctx := context.Background()
	countIs := func(n int) func() (bool, string) {
		return func() (bool, string) {
			got := count(t, d.db, `SELECT count(*) FROM items`)
			return got == n, fmt.Sprint(got)
		}
	}
	running := func(want bool) func() (bool, string) {
		return func() (bool, string) {
			_, ok := eng.Status()[rt.ID]
			return ok == want, fmt.Sprint(eng.Status())
		}
	}
	e.produce("upsert", map[string]any{"id": 1, "name": "a"})
	eventually(t, "first row", countIs(1))

	off := false
	in.Enabled = &off
	if _, err := e.relay.UpdateRoute(ctx, rt.ID, in); err != nil {
		t.Fatal(err)
	}
	eventually(t, "worker stopped", running(false))
	e.produce("upsert", map[string]any{"id": 2, "name": "b"})

	on := true
	in.Enabled = &on
	in.Mapping = append(in.Mapping, relay.ColumnMap{Column: "note", Value: []byte(`"v2"`)})
	if _, err := e.relay.UpdateRoute(ctx, rt.ID, in); err != nil {
		t.Fatal(err)
	}
	eventually(t, "second row after enabling", countIs(2))
	if got := rows(t, d.db, `SELECT note FROM items WHERE id = 2`); fmt.Sprint(got) != "[v2]" {
		t.Errorf("note of row 2 = %v, want the changed mapping's constant v2", got)
	}

	if err := e.relay.DeleteRoute(ctx, rt.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "worker of the deleted route stopped", running(false))
	eventually(t, "group of the deleted route deleted", func() (bool, string) {
		_, err := e.broker.DescribeGroup(ctx, Group(rt.ID))
		return errors.Is(err, stream.ErrGroupNotFound), fmt.Sprint(err)
	})
}

// value reads a gauge or counter.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

// TestLag: a route's lag is read from its group after each poll.
func TestLag(t *testing.T) {
	e := newEnv(t)
	d := sqliteDest(t)
	d.exec(t, "items")
	dst := e.create(d, "shop")
	rt := e.route(relay.RouteInput{Name: "items", Destination: dst.ID, Table: "items", KeyColumns: []string{"id"},
		Mapping: []relay.ColumnMap{{Column: "id", Field: "id"}, {Column: "title", Field: "name"}}})
	eng, _ := e.engine(nil)
	e.produce("upsert", map[string]any{"id": 1, "name": "a"}, map[string]any{"id": 2, "name": "b"})
	eventually(t, "lag 0 after delivery", func() (bool, string) {
		st := eng.Status()[rt.ID]
		return st.Lag == 0 && count(t, d.db, `SELECT count(*) FROM items`) == 2, fmt.Sprintf("%+v", st)
	})
}
