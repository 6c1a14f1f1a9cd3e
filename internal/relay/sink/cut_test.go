package sink

import (
	"errors"
	"fmt"
	"net/url"
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// proxyTo starts a TCP proxy to upstream that the test can cut (Stop) and
// restore (Start); it returns the proxy's address.
func proxyTo(t testing.TB, upstream string) *toxiproxy.Proxy {
	t.Helper()
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(server, "sink", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// cutAndResume writes through a proxy, cuts every connection, checks that
// writes and pings fail as transient while it is down, then restores it:
// the batch that failed, delivered again (twice), is written exactly once.
func cutAndResume(t *testing.T, open func(proxyAddr string) *DB, upstream string, count func() int) {
	p := proxyTo(t, upstream)
	s := open(p.Listen)
	defer s.Close()
	ctx := ctxT(t)
	events := Target{Table: Table{Name: "events"}, Mode: Insert}
	if g, _, err := s.Prepare(ctx, "events", events, []string{"body"}); err != nil || g != ExactlyOnce {
		t.Fatalf("Prepare = %v, %v; want ExactlyOnce", g, err)
	}
	batch := func(from int64) []Change {
		var out []Change
		for i := from; i < from+5; i++ {
			out = append(out, Change{Op: Insert, Row: map[string]any{"body": fmt.Sprint("e", i)}, Pos: Position{Offset: i}})
		}
		return out
	}
	if err := s.Write(ctx, "events", events, batch(0)); err != nil {
		t.Fatal(err)
	}
	p.Stop()
	if err := s.Write(ctx, "events", events, batch(5)); !errors.Is(err, ErrTransient) {
		t.Errorf("Write while the connection is cut = %v, want ErrTransient", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, ErrTransient) {
		t.Errorf("Ping while the connection is cut = %v, want ErrTransient", err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Write(ctx, "events", events, batch(5)); err != nil {
			t.Fatalf("Write after the connection is back: %v", err)
		}
	}
	if got := count(); got != 10 {
		t.Errorf("rows = %d, want 10", got)
	}
}

func TestPostgresConnectionCut(t *testing.T) {
	base, schema, admin := pgSchema(t)
	mustExec(t, admin, postgresHarness.ddl["events"])
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	cutAndResume(t, func(addr string) *DB {
		v := *u
		v.Host = addr
		s, err := Open(ctxT(t), Postgres, Config{DSN: pgDSN(t, v.String(), schema, "")})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, u.Host, func() int { return count(t, admin, "events") })
}

func TestMySQLConnectionCut(t *testing.T) {
	dsn, _, admin := mysqlDB(t)
	mustExec(t, admin, mysqlHarness.ddl["events"])
	cfg, err := mysql.ParseDSN(dsn(""))
	if err != nil {
		t.Fatal(err)
	}
	cutAndResume(t, func(addr string) *DB {
		c := cfg.Clone()
		c.Addr = addr
		s, err := Open(ctxT(t), MySQL, Config{DSN: c.FormatDSN()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, cfg.Addr, func() int { return count(t, admin, "events") })
}
