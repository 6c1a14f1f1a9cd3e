package delivery

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/deliverylog"
	"github.com/arus-platform/arus/store"
)

// TestDeliveryLog: every record of a route leaves an entry saying what
// became of it, with the row as sent.
func TestDeliveryLog(t *testing.T) {
	e := newEnv(t)
	d := sqliteDest(t)
	d.exec(t, "checks")
	dst := e.create(d, "stock")
	rt := e.route(relay.RouteInput{Name: "stock", Destination: dst.ID, Table: "checks", KeyColumns: []string{"id"},
		Filter: `qty != 99`, Mapping: []relay.ColumnMap{{Column: "id", Field: "id"}, {Column: "qty", Field: "count"}}})

	log, _ := startLog(t)

	e.engine(func(c *Config) { c.Log = log })
	e.produce("upsert",
		map[string]any{"id": 1, "count": 5},
		map[string]any{"id": 2, "count": -1, "qty": 1},
		map[string]any{"id": 3, "count": 1, "qty": 99},
		map[string]any{"sku": "no id"},
	)
	var got []string
	eventually(t, "log entries", func() (bool, string) {
		p, err := log.Query(context.Background(), deliverylog.Query{RouteID: rt.ID})
		if err != nil {
			return false, err.Error()
		}
		got = got[:0]
		for _, en := range p.Entries {
			if en.Application != "shop" || en.Dataset != "items" || en.Destination != "stock" || en.RecordID == "" {
				t.Errorf("entry %+v lacks its record's details", en)
			}
			s := fmt.Sprintf("%s attempts=%d row=%s", en.Status, en.Attempts, en.Row)
			if en.Error != "" {
				s += " error"
			}
			got = append(got, s)
		}
		slices.Sort(got)
		return len(got) == 5, strings.Join(got, "; ")
	})
	want := []string{
		`dead_lettered attempts=1 row= error`,
		`dead_lettered attempts=2 row={"id":2,"qty":-1} error`,
		`delivered attempts=1 row={"id":1,"qty":5}`,
		`failed attempts=1 row={"id":2,"qty":-1} error`,
		`skipped attempts=1 row=`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("entries =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDeliveryLogFollowsOffsets: a batch's entries reach the log in the
// records' order, skipped ones among the delivered, so that on each
// partition the log follows the offsets (a process killed with kill -9
// then loses the entries of its last records only).
func TestDeliveryLogFollowsOffsets(t *testing.T) {
	e := newEnv(t)
	d := sqliteDest(t)
	d.exec(t, "checks")
	dst := e.create(d, "stock")
	rt := e.route(relay.RouteInput{Name: "stock", Destination: dst.ID, Table: "checks", KeyColumns: []string{"id"},
		Filter: `qty != 99`, Mapping: []relay.ColumnMap{{Column: "id", Field: "id"}, {Column: "qty", Field: "qty"}}})

	log, _ := startLog(t)

	// Every other record skipped, all stored before the route starts, so
	// that batches mix both.
	const n = 40
	var rows []map[string]any
	for i := range n {
		rows = append(rows, map[string]any{"id": i, "qty": 1 + i%2*98})
	}
	e.produce("upsert", rows...)
	e.engine(func(c *Config) { c.Log = log })
	var all []deliverylog.Entry
	eventually(t, "log entries", func() (bool, string) {
		p, err := log.Query(context.Background(), deliverylog.Query{RouteID: rt.ID, Limit: 1000})
		if err != nil {
			return false, err.Error()
		}
		all = p.Entries
		return len(all) == n, fmt.Sprintf("%d entries", len(all))
	})
	slices.SortFunc(all, func(a, b deliverylog.Entry) int { return int(a.ID - b.ID) })
	last := map[int32]int64{}
	skipped := 0
	for _, en := range all {
		if o, ok := last[en.Partition]; ok && en.Offset <= o {
			t.Errorf("partition %d: entry for offset %d (%s) after the one for offset %d", en.Partition, en.Offset, en.Status, o)
		}
		last[en.Partition] = en.Offset
		if en.Status == deliverylog.Skipped {
			skipped++
		}
	}
	if skipped != n/2 {
		t.Errorf("%d entries skipped, want %d", skipped, n/2)
	}
}

// TestDeliveryLogRebuiltAfterRestart: entries lost with a process (its
// writer's queue, on kill -9) are rebuilt when the route starts again:
// delivered, skipped, and dead-lettered both for a mapping error and for a
// value the destination refused, as they were first logged.
func TestDeliveryLogRebuiltAfterRestart(t *testing.T) {
	e := newEnv(t)
	d := sqliteDest(t)
	d.exec(t, "checks")
	dst := e.create(d, "stock")
	rt := e.route(relay.RouteInput{Name: "stock", Destination: dst.ID, Table: "checks", KeyColumns: []string{"id"},
		Filter: `qty != 99`, Mapping: []relay.ColumnMap{{Column: "id", Field: "id"}, {Column: "qty", Field: "qty"}}})

	log, db := startLog(t)

	var rows []map[string]any
	for i := range 30 {
		qty := i
		switch i % 10 {
		case 3:
			qty = 99 // skipped by the filter
		case 7:
			qty = -1 // refused by the table's check
		}
		rows = append(rows, map[string]any{"id": i, "qty": qty})
	}
	rows = append(rows, map[string]any{"sku": "no id"}) // cannot be mapped
	e.produce("upsert", rows...)
	_, stop := e.engine(func(c *Config) { c.Log = log })

	entries := func() []string {
		p, err := log.Query(context.Background(), deliverylog.Query{RouteID: rt.ID, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, en := range p.Entries {
			if en.Status != deliverylog.Failed {
				out = append(out, fmt.Sprintf("%d@%d %s attempts=%d row=%s error=%t", en.Partition, en.Offset, en.Status, en.Attempts, en.Row, en.Error != ""))
			}
		}
		slices.Sort(out)
		return out
	}
	eventually(t, "every record logged and committed", func() (bool, string) {
		g, err := e.broker.DescribeGroup(context.Background(), Group(rt.ID))
		return err == nil && g.Lag() == 0 && len(entries()) == len(rows), fmt.Sprintf("%d entries", len(entries()))
	})
	stop()
	want := entries()

	// Lose what a killed process would: the entries after the first of
	// each partition.
	res, err := db.ExecContext(context.Background(), `DELETE FROM relay_log WHERE status <> 'failed' AND id NOT IN (
		SELECT MIN(id) FROM relay_log WHERE status <> 'failed' GROUP BY record_partition)`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n < int64(len(rows))/2 {
		t.Fatalf("deleted %d entries, want most of them", n)
	}

	e.engine(func(c *Config) { c.Log = log })
	eventually(t, "the lost entries rebuilt", func() (bool, string) {
		got := entries()
		return slices.Equal(got, want), fmt.Sprintf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	})
}

// startLog opens a delivery log on a store of its own and runs its writer
// until the test ends; db is the log's store.
func startLog(t *testing.T) (*deliverylog.Log, *store.DB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db, err := store.Open(ctx, store.Config{Dir: t.TempDir(), Component: "relay_log"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	log, err := deliverylog.New(ctx, deliverylog.Config{DB: db, FlushInterval: 20 * time.Millisecond, Logger: brokertest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- log.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return log, db
}
