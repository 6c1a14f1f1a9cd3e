package delivery

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/testenv"
)

// proxy forwards TCP connections to target until it is cut; it can then
// be put back on the same address.
type proxy struct {
	t      *testing.T
	addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, addr: ln.Addr().String(), target: target}
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close(); c.Close() }()
			go func() { _, _ = io.Copy(c, u); u.Close(); c.Close() }()
		}
	}()
}

// cut closes the listener and every connection: the database is down.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// restore listens on the same address again.
func (p *proxy) restore() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// TestDestinationDown cuts a PostgreSQL destination off: only its route
// pauses, a SQLite destination of the same dataset keeps receiving, the
// destination is marked down, and it catches up once it is back.
func TestDestinationDown(t *testing.T) {
	e := newEnv(t)
	p := newProxy(t, mustHost(t, testenv.Postgres(t)))
	pg := postgresDest(t, p.addr)
	lite := sqliteDest(t)
	pg.exec(t, "items")
	lite.exec(t, "items")
	mapping := []relay.ColumnMap{{Column: "id", Field: "id"}, {Column: "title", Field: "name"}}
	pgDest := e.create(pg, "pg")
	liteDest := e.create(lite, "lite")
	pgRoute := e.route(relay.RouteInput{Name: "to-pg", Destination: pgDest.ID, Table: "items", KeyColumns: []string{"id"}, Mapping: mapping})
	e.route(relay.RouteInput{Name: "to-lite", Destination: liteDest.ID, Table: "items", KeyColumns: []string{"id"}, Mapping: mapping})
	eng, _ := e.engine(nil)
	ctx := context.Background()

	produce := func(from, to int) {
		var rows []map[string]any
		for i := from; i <= to; i++ {
			rows = append(rows, map[string]any{"id": i, "name": fmt.Sprint("item ", i)})
		}
		e.produce("upsert", rows...)
	}
	countIs := func(d dest, n int) func() (bool, string) {
		return func() (bool, string) {
			got := count(t, d.db, `SELECT count(*) FROM items`)
			return got == n, fmt.Sprint(got)
		}
	}
	health := func(id, want string) func() (bool, string) {
		return func() (bool, string) {
			d, err := e.relay.Destination(ctx, id)
			if err != nil {
				return false, err.Error()
			}
			return d.Health == want, d.Health + " " + d.LastError
		}
	}

	produce(1, 5)
	eventually(t, "pg has 5", countIs(pg, 5))
	eventually(t, "lite has 5", countIs(lite, 5))
	eventually(t, "pg up", health(pgDest.ID, relay.HealthUp))

	p.cut()
	produce(6, 10)
	eventually(t, "lite has 10 while pg is down", countIs(lite, 10))
	eventually(t, "pg marked down", health(pgDest.ID, relay.HealthDown))
	if n := count(t, pg.db, `SELECT count(*) FROM items`); n != 5 {
		t.Errorf("pg rows while cut off = %d, want 5", n)
	}
	eventually(t, "pg route paused", func() (bool, string) {
		st := eng.Status()[pgRoute.ID]
		return st.State == StatePaused || st.State == StateFailed, fmt.Sprintf("%+v", st)
	})
	produce(11, 12)
	eventually(t, "lite has 12 while pg is down", countIs(lite, 12))

	p.restore()
	eventually(t, "pg caught up", countIs(pg, 12))
	eventually(t, "pg up again", health(pgDest.ID, relay.HealthUp))
	eventually(t, "pg route running", func() (bool, string) {
		st := eng.Status()[pgRoute.ID]
		return st.State == StateRunning, fmt.Sprintf("%+v", st)
	})
}

// TestBadRecordsDeadLettered: records the table rejects (a CHECK
// constraint, a value of the wrong type) and one that cannot be mapped
// are dead-lettered with their reasons; the others arrive.
func TestBadRecordsDeadLettered(t *testing.T) {
	eachDest(t, func(t *testing.T, d dest) {
		e := newEnv(t)
		d.exec(t, "checks")
		dst := e.create(d, "stock")
		rt := e.route(relay.RouteInput{Name: "stock", Destination: dst.ID, Table: "checks", KeyColumns: []string{"id"},
			Mapping: []relay.ColumnMap{{Column: "id", Field: "id"}, {Column: "qty", Field: "qty"}}})
		e.engine(nil)
		e.produce("upsert",
			map[string]any{"id": 1, "qty": 5},
			map[string]any{"id": 2, "qty": -1},
			map[string]any{"id": 3, "qty": "many"},
			map[string]any{"id": 4, "qty": 7},
			map[string]any{"sku": "no id", "qty": 1},
			map[string]any{"id": 6, "qty": 0},
		)
		eventually(t, "good rows", func() (bool, string) {
			got := rows(t, d.db, `SELECT id, qty FROM checks ORDER BY id`)
			return slices.Equal(got, []string{"1|5", "4|7", "6|0"}), fmt.Sprint(got)
		})
		dlq := consume.DLQTopic(e.ds.Topic, Group(rt.ID))
		if dlq != e.ds.Topic+".relay.route."+rt.ID+".dlq" {
			t.Errorf("dead-letter topic = %s", dlq)
		}
		var got []string
		eventually(t, "three dead letters", func() (bool, string) {
			recs, err := e.broker.Read(context.Background(), dlq, 0, 0, 10)
			if err != nil {
				return false, err.Error()
			}
			got = got[:0]
			for _, r := range recs {
				at, _ := r.Header(consume.HeaderDLQAttempts)
				route, _ := r.Header(HeaderDLQRoute)
				reason, _ := r.Header(consume.HeaderDLQError)
				if len(reason) == 0 {
					t.Errorf("dead letter %s has no error header", r.Key)
				}
				got = append(got, fmt.Sprintf("%s attempts=%s route=%s", r.Key, at, route))
			}
			return len(recs) == 3, fmt.Sprint(got)
		})
		// The records are on different partitions, so their dead letters
		// come in any order.
		slices.Sort(got)
		want := []string{"2 attempts=2 route=stock", "3 attempts=2 route=stock", "<nil> attempts=1 route=stock"}
		if !slices.Equal(got, want) {
			t.Errorf("dead letters = %q, want %q", got, want)
		}
	})
}

func mustHost(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Fatalf("test PostgreSQL DSN has no host: %v", err)
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "5432")
	}
	return u.Host
}

// TestDestinationDownAtStart: a destination unreachable when the engine
// starts holds back only its route, which starts once it answers.
func TestDestinationDownAtStart(t *testing.T) {
	e := newEnv(t)
	p := newProxy(t, mustHost(t, testenv.Postgres(t)))
	pg := postgresDest(t, p.addr)
	pg.exec(t, "items")
	pgDest := e.create(pg, "pg")
	rt := e.route(relay.RouteInput{Name: "to-pg", Destination: pgDest.ID, Table: "items", KeyColumns: []string{"id"},
		Mapping: []relay.ColumnMap{{Column: "id", Field: "id"}, {Column: "title", Field: "name"}}})
	p.cut()
	eng, _ := e.engine(nil)
	e.produce("upsert", map[string]any{"id": 1, "name": "a"}, map[string]any{"id": 2, "name": "b"})
	eventually(t, "route failing while the destination is down", func() (bool, string) {
		st := eng.Status()[rt.ID]
		return st.State == StateFailed && st.LastError != "", fmt.Sprintf("%+v", st)
	})
	p.restore()
	eventually(t, "rows once it is up", func() (bool, string) {
		n := count(t, pg.db, `SELECT count(*) FROM items`)
		return n == 2, fmt.Sprint(n)
	})
}
