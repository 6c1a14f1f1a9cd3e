package outbox_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/store"
)

// The consumer runtime's dedupe middleware takes an *outbox.Inbox as is.
var _ consume.Inbox = (*outbox.Inbox)(nil)

// openInbox opens an inbox in db with a table of effects: one row per
// effect, so a second effect of one record shows as a second row.
func openInbox(t testing.TB, db *store.DB, cfg outbox.InboxConfig) *outbox.Inbox {
	t.Helper()
	ctx := context.Background()
	in, err := outbox.OpenInbox(ctx, db, cfg)
	if err != nil {
		t.Fatalf("open inbox: %v", err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS effects (record_id TEXT NOT NULL, n INTEGER NOT NULL)`); err != nil {
		t.Fatalf("create effects: %v", err)
	}
	return in
}

func effect(db *store.DB, id string) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := tx.Exec(db.Rebind(`INSERT INTO effects (record_id, n) VALUES (?, 1)`), id)
		return err
	}
}

func effects(t testing.TB, db *store.DB, id string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(db.Rebind(`SELECT COUNT(*) FROM effects WHERE record_id = ?`), id).Scan(&n); err != nil {
		t.Fatalf("count effects: %v", err)
	}
	return n
}

func TestInboxHandle(t *testing.T) {
	boom := errors.New("effect failed")
	steps := []inboxStep{
		{name: "first delivery", id: "a", wantFirst: true, wantRows: 1},
		{name: "redelivery is skipped", id: "a", wantFirst: false, wantRows: 1},
		{name: "failed effect", id: "b", fail: true, wantErr: boom, wantRows: 0},
		{name: "retry after failure", id: "b", wantFirst: true, wantRows: 1},
		{name: "retry again is skipped", id: "b", wantFirst: false, wantRows: 1},
		{name: "no id", id: "", wantErr: outbox.ErrNoID, wantRows: 0},
	}
	storetest.Run(t, func(t *testing.T, base store.Config) {
		for _, shared := range []bool{false, true} {
			t.Run(fmt.Sprintf("shared commits %v", shared), func(t *testing.T) { testInboxHandle(t, base, shared, steps, boom) })
		}
	})
}

func testInboxHandle(t *testing.T, base store.Config, shared bool, steps []inboxStep, boom error) {
	{
		db := openDB(t, base)
		reg := prometheus.NewRegistry()
		cfg := outbox.InboxConfig{Registerer: reg}
		if shared {
			cfg.Group = store.NewGroup(db, 0)
		}
		in := openInbox(t, db, cfg)
		if got, want := in.Table(), "orders_inbox"; got != want {
			t.Errorf("got table %q, want %q", got, want)
		}
		for _, s := range steps {
			// Both runs share the store: the second uses ids of its own.
			if shared && s.id != "" {
				s.id = "shared-" + s.id
			}
			ran := false
			first, err := in.Handle(context.Background(), s.id, func(tx *sql.Tx) error {
				ran = true
				if err := effect(db, s.id)(tx); err != nil {
					return err
				}
				if s.fail {
					return boom
				}
				return nil
			})
			if !errors.Is(err, s.wantErr) {
				t.Fatalf("%s: got error %v, want %v", s.name, err, s.wantErr)
			}
			if first != s.wantFirst {
				t.Errorf("%s: got first %v, want %v", s.name, first, s.wantFirst)
			}
			if ran && !s.wantFirst && s.wantErr == nil {
				t.Errorf("%s: the effect ran for a duplicate", s.name)
			}
			if got := effects(t, db, s.id); got != s.wantRows {
				t.Errorf("%s: got %d effects, want %d", s.name, got, s.wantRows)
			}
		}
		if got := metricValue(t, reg, "arus_inbox_duplicates_total"); got != 2 {
			t.Errorf("got arus_inbox_duplicates_total %v, want 2", got)
		}
	}
}

type inboxStep struct {
	name      string
	id        string
	fail      bool
	wantFirst bool
	wantErr   error
	wantRows  int
}

// metricValue returns the value of the counter or gauge named name in reg,
// summed over its labels; 0 when it has no value yet.
func metricValue(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var v float64
		for _, m := range mf.GetMetric() {
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
		return v
	}
	return 0
}

func TestInboxMarkInCallersTransaction(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		db := openDB(t, base)
		in := openInbox(t, db, outbox.InboxConfig{})
		mark := func(commit bool) bool {
			t.Helper()
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			first, err := in.Mark(ctx, tx, "x")
			if err != nil {
				t.Fatalf("mark: %v", err)
			}
			if commit {
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			return first
		}
		for i, s := range []struct{ commit, want bool }{
			{commit: false, want: true}, // rolled back: not remembered
			{commit: true, want: true},
			{commit: true, want: false},
		} {
			if got := mark(s.commit); got != s.want {
				t.Errorf("step %d: got first %v, want %v", i, got, s.want)
			}
		}
	})
}

func TestInboxOnceCarriesTx(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		db := openDB(t, base)
		in := openInbox(t, db, outbox.InboxConfig{})
		calls := 0
		for range 3 {
			err := in.Once(ctx, "r1", func(ctx context.Context) error {
				calls++
				tx, ok := outbox.TxFromContext(ctx)
				if !ok {
					return errors.New("no transaction in the context")
				}
				return effect(db, "r1")(tx)
			})
			if err != nil {
				t.Fatalf("once: %v", err)
			}
		}
		if calls != 1 {
			t.Errorf("got %d calls, want 1", calls)
		}
		if got := effects(t, db, "r1"); got != 1 {
			t.Errorf("got %d effects, want 1", got)
		}
		if _, ok := outbox.TxFromContext(ctx); ok {
			t.Error("TxFromContext found a transaction in a plain context")
		}
	})
}

// TestInboxConcurrentDeliveries handles every id from several goroutines
// at once (as two members might after a rebalance): one effect each.
func TestInboxConcurrentDeliveries(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		for _, shared := range []bool{false, true} {
			t.Run(fmt.Sprintf("shared commits %v", shared), func(t *testing.T) { testInboxConcurrentDeliveries(t, base, shared) })
		}
	})
}

func testInboxConcurrentDeliveries(t *testing.T, base store.Config, shared bool) {
	{
		db := openDB(t, base)
		cfg := outbox.InboxConfig{}
		if shared {
			cfg.Group = store.NewGroup(db, 0)
		}
		in := openInbox(t, db, cfg)
		const ids, workers = 40, 4
		var wg sync.WaitGroup
		var mu sync.Mutex
		firsts := 0
		for range workers {
			wg.Go(func() {
				for i := range ids {
					id := fmt.Sprintf("id-%v-%d", shared, i)
					first, err := in.Handle(context.Background(), id, effect(db, id))
					if err != nil {
						t.Errorf("handle %s: %v", id, err)
						return
					}
					if first {
						mu.Lock()
						firsts++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		if firsts != ids {
			t.Errorf("got %d first deliveries, want %d", firsts, ids)
		}
		for i := range ids {
			if got := effects(t, db, fmt.Sprintf("id-%v-%d", shared, i)); got != 1 {
				t.Errorf("id %d: got %d effects, want 1", i, got)
			}
		}
	}
}

func TestInboxExpire(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		db := openDB(t, base)
		clk := newClock()
		in := openInbox(t, db, outbox.InboxConfig{Retention: time.Hour, Now: clk.Now})
		handle := func(id string) bool {
			t.Helper()
			first, err := in.Handle(ctx, id, effect(db, id))
			if err != nil {
				t.Fatalf("handle %s: %v", id, err)
			}
			return first
		}
		handle("old-1")
		handle("old-2")
		clk.Add(40 * time.Minute)
		handle("new")
		clk.Add(30 * time.Minute)
		n, err := in.Expire(ctx)
		if err != nil {
			t.Fatalf("expire: %v", err)
		}
		if n != 2 {
			t.Errorf("got %d expired, want 2", n)
		}
		if got := countRows(t, db, in.Table()); got != 1 {
			t.Errorf("got %d ids left, want 1", got)
		}
		if handle("new") {
			t.Error("an id within its retention was handled again")
		}
		if !handle("old-1") {
			t.Error("an expired id was not handled again")
		}
	})
}

func TestInboxConfigValidate(t *testing.T) {
	tests := []struct {
		cfg     outbox.InboxConfig
		wantErr string
	}{
		{cfg: outbox.InboxConfig{}},
		{cfg: outbox.InboxConfig{Name: "billing"}},
		{cfg: outbox.InboxConfig{Name: "bad-name"}, wantErr: "name"},
		{cfg: outbox.InboxConfig{Retention: -time.Hour}, wantErr: "retention"},
		{cfg: outbox.InboxConfig{ExpireInterval: -time.Hour}, wantErr: "interval"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate(&store.DB{Component: "orders"})
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%+v: got error %v, want none", tt.cfg, err)
			}
			if tt.cfg.Retention != outbox.DefaultInboxRetention {
				t.Errorf("got retention %s, want the default", tt.cfg.Retention)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%+v: got error %v, want one about %q", tt.cfg, err, tt.wantErr)
		}
	}
}
