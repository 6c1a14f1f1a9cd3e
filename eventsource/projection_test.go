package eventsource_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/eventsource"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
)

// countsProjection keeps, per stream, the number of events and the sum of
// their versions in the table counts, and records what it handled.
type countsProjection struct {
	mu      sync.Mutex
	handled []int64
}

func (c *countsProjection) projection(db *store.DB) *eventsource.Projection {
	return &eventsource.Projection{
		Name:      "counts",
		BatchSize: 7,
		Handle: func(ctx context.Context, tx *sql.Tx, e eventsource.Event) error {
			if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO counts (stream_id, n, last_version) VALUES (?, 1, ?)
				ON CONFLICT (stream_id) DO UPDATE SET n = counts.n + 1, last_version = excluded.last_version`), e.StreamID, e.Version); err != nil {
				return err
			}
			c.mu.Lock()
			c.handled = append(c.handled, e.Position)
			c.mu.Unlock()
			return nil
		},
		Reset: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM counts`)
			return err
		},
	}
}

func createCounts(t *testing.T, db *store.DB) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), `CREATE TABLE counts (stream_id TEXT PRIMARY KEY, n INTEGER NOT NULL, last_version INTEGER NOT NULL)`); err != nil {
		t.Fatalf("create read model: %v", err)
	}
}

func dumpCounts(t *testing.T, db *store.DB) string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT stream_id, n, last_version FROM counts ORDER BY stream_id`)
	if err != nil {
		t.Fatalf("read model: %v", err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id string
		var n, v int64
		if err := rows.Scan(&id, &n, &v); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s=%d@%d ", id, n, v)
	}
	return b.String()
}

func lastPosition(t *testing.T, es *eventsource.Store) int64 {
	t.Helper()
	var last int64
	for {
		events, err := es.ReadAll(context.Background(), last, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) == 0 {
			return last
		}
		last = events[len(events)-1].Position
	}
}

// A projection run live while events are appended, and the same
// projection rebuilt from the start, give the same read model; a
// projection that restarts resumes from its checkpoint.
func TestProjectionLiveRebuildResume(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		es := openStore(t, base)
		createCounts(t, es.DB())
		live := &countsProjection{}
		p := live.projection(es.DB())

		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- es.RunProjection(runCtx, p) }()
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					stream := fmt.Sprintf("s-%d", (w*25+i)%9)
					if _, err := es.Append(ctx, stream, eventsource.AnyVersion, ev("x", i)); err != nil {
						t.Errorf("append: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		last := lastPosition(t, es)
		waitFor(t, "the live projection to reach the last event", func() bool {
			pos, err := es.Checkpoint(ctx, "counts")
			return err == nil && pos == last
		})
		stop()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("run projection: got %v, want context.Canceled", err)
		}
		liveModel := dumpCounts(t, es.DB())
		if len(live.handled) != 100 {
			t.Fatalf("live projection handled %d events, want 100", len(live.handled))
		}

		rebuilt := &countsProjection{}
		n, err := es.Rebuild(ctx, rebuilt.projection(es.DB()))
		if err != nil || n != 100 {
			t.Fatalf("rebuild: got %d events %v, want 100", n, err)
		}
		if got := dumpCounts(t, es.DB()); got != liveModel {
			t.Errorf("rebuilt read model:\n got %s\nwant %s", got, liveModel)
		}

		// A restart: a new projection value resumes at the checkpoint.
		for i := range 3 {
			if _, err := es.Append(ctx, "s-late", int64(i), ev("x", i)); err != nil {
				t.Fatal(err)
			}
		}
		resumed := &countsProjection{}
		if n, err := es.Project(ctx, resumed.projection(es.DB())); err != nil || n != 3 {
			t.Fatalf("resume: got %d events %v, want the 3 new ones", n, err)
		}
		if n, err := es.Project(ctx, resumed.projection(es.DB())); err != nil || n != 0 {
			t.Fatalf("project when up to date: got %d events %v, want 0", n, err)
		}
		if got := dumpCounts(t, es.DB()); !strings.Contains(got, "s-late=3@3") {
			t.Errorf("read model after resume: got %s, want s-late=3@3 in it", got)
		}
	})
}

// A handler that fails leaves the read model and the checkpoint as they
// were; the batch is handled again when it succeeds.
func TestProjectionFailureRollsBack(t *testing.T) {
	es := openStore(t, store.Config{Dir: t.TempDir()})
	ctx := context.Background()
	createCounts(t, es.DB())
	for i := range 3 {
		if _, err := es.Append(ctx, "s", int64(i), ev("x", i)); err != nil {
			t.Fatal(err)
		}
	}
	c := &countsProjection{}
	p := c.projection(es.DB())
	handle := p.Handle
	p.Handle = func(ctx context.Context, tx *sql.Tx, e eventsource.Event) error {
		if e.Version == 3 {
			return errors.New("refused")
		}
		return handle(ctx, tx, e)
	}
	if _, err := es.Project(ctx, p); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("project: got %v, want the handler's error", err)
	}
	if pos, _ := es.Checkpoint(ctx, "counts"); pos != 0 {
		t.Errorf("checkpoint after a failed batch: got %d, want 0", pos)
	}
	if got := dumpCounts(t, es.DB()); got != "" {
		t.Errorf("read model after a failed batch: got %q, want empty", got)
	}
	p.Handle = handle
	if n, err := es.Project(ctx, p); err != nil || n != 3 {
		t.Fatalf("project again: got %d %v, want 3", n, err)
	}
}

// Appenders that commit in a different order than they appended, with a
// projection reading all the while: the projection handles every
// committed event once, in increasing position order.
func TestProjectionSkipsNothingCommittedLate(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		es := openStore(t, base)
		createCounts(t, es.DB())
		c := &countsProjection{}
		p := c.projection(es.DB())
		p.BatchSize = 3

		const writers, perWriter = 6, 30
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWriter {
					err := es.DB().InTx(ctx, func(tx *sql.Tx) error {
						if _, err := es.AppendTx(ctx, tx, fmt.Sprintf("w-%d", w), int64(i), ev("x", i)); err != nil {
							return err
						}
						// More work in the transaction after the append, of
						// varying length, so commits land late.
						extra := rand.IntN(4)
						if i%5 == 0 {
							extra += 20
						}
						for range extra {
							if _, err := tx.ExecContext(ctx, `SELECT 1`); err != nil {
								return err
							}
						}
						if i%7 == 3 {
							return errRollback
						}
						return nil
					})
					if err != nil && !errors.Is(err, errRollback) {
						t.Errorf("append: %v", err)
						return
					}
					if errors.Is(err, errRollback) {
						// Append the same version again, committed.
						if _, err := es.Append(ctx, fmt.Sprintf("w-%d", w), int64(i), ev("x", i)); err != nil {
							t.Errorf("append again: %v", err)
							return
						}
					}
				}
			}()
		}
		projDone := make(chan struct{})
		appendsDone := make(chan struct{})
		go func() {
			defer close(projDone)
			for {
				select {
				case <-appendsDone:
					return
				default:
				}
				if _, err := es.Project(ctx, p); err != nil {
					t.Errorf("project: %v", err)
					return
				}
			}
		}()
		wg.Wait()
		close(appendsDone)
		<-projDone
		if _, err := es.Project(ctx, p); err != nil {
			t.Fatalf("final project: %v", err)
		}
		all, err := es.ReadAll(ctx, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != writers*perWriter {
			t.Fatalf("stored %d events, want %d", len(all), writers*perWriter)
		}
		if len(c.handled) != len(all) {
			t.Fatalf("projection handled %d events, want %d (an event committed late was skipped)", len(c.handled), len(all))
		}
		for i, e := range all {
			if c.handled[i] != e.Position {
				t.Fatalf("handled event %d: position %d, want %d", i, c.handled[i], e.Position)
			}
		}
	})
}

var errRollback = errors.New("roll back")

// On PostgreSQL, a projection that sees an event while an earlier
// position is still uncommitted waits for it: it handles both, in order,
// when the earlier one commits, and steps over the gap when it rolls back.
func TestProjectionWaitsForEarlierAppendPostgres(t *testing.T) {
	for _, commit := range []bool{true, false} {
		t.Run(map[bool]string{true: "commit", false: "rollback"}[commit], func(t *testing.T) {
			ctx := context.Background()
			es := openStore(t, store.Config{DSN: storetest.PostgresSchema(t)})
			createCounts(t, es.DB())
			c := &countsProjection{}
			p := c.projection(es.DB())

			txA, err := es.DB().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer txA.Rollback()
			a, err := es.AppendTx(ctx, txA, "a", 0, ev("x", 1))
			if err != nil {
				t.Fatal(err)
			}
			b, err := es.Append(ctx, "b", 0, ev("x", 2))
			if err != nil {
				t.Fatal(err)
			}
			if b[0].Position <= a[0].Position {
				t.Fatalf("positions: a %d, b %d, want a below b", a[0].Position, b[0].Position)
			}
			type result struct {
				n   int
				err error
			}
			done := make(chan result, 1)
			go func() {
				n, err := es.Project(ctx, p)
				done <- result{n, err}
			}()
			waitFor(t, "the projection to wait for the uncommitted append", func() bool {
				var n int
				err := es.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity
					WHERE datname = current_database() AND query LIKE '%virtualxid = ANY%' AND query NOT LIKE '%pg_stat_activity%'`).Scan(&n)
				return err == nil && n > 0
			})
			select {
			case r := <-done:
				t.Fatalf("projection returned %d events %v before the earlier append ended", r.n, r.err)
			default:
			}
			want := []int64{a[0].Position, b[0].Position}
			if commit {
				err = txA.Commit()
			} else {
				err = txA.Rollback()
				want = want[1:]
			}
			if err != nil {
				t.Fatal(err)
			}
			r := <-done
			if r.err != nil || r.n != len(want) || fmt.Sprint(c.handled) != fmt.Sprint(want) {
				t.Fatalf("project: got %d events %v, positions %v, want %v", r.n, r.err, c.handled, want)
			}
			if n, err := es.Project(ctx, p); err != nil || n != 0 {
				t.Errorf("project again: got %d events %v, want 0", n, err)
			}
		})
	}
}

// waitFor polls cond until it holds, failing the test after 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Two processes running the same projection share its work: every event
// is handled once, by one of them, and the read model is the rebuilt one.
func TestProjectionInTwoProcesses(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		first, second := openStore(t, base), openStore(t, base)
		createCounts(t, first.DB())
		a, b := &countsProjection{}, &countsProjection{}
		runCtx, stop := context.WithCancel(ctx)
		var running sync.WaitGroup
		for _, run := range []struct {
			es *eventsource.Store
			c  *countsProjection
		}{{first, a}, {second, b}} {
			running.Add(1)
			go func() {
				defer running.Done()
				p := run.c.projection(run.es.DB())
				p.BatchSize = 5
				if err := run.es.RunProjection(runCtx, p); !errors.Is(err, context.Canceled) {
					t.Errorf("run projection: %v", err)
				}
			}()
		}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				es := []*eventsource.Store{first, second}[w%2]
				for i := range 30 {
					if _, err := es.Append(ctx, fmt.Sprintf("w-%d", w), int64(i), ev("x", i)); err != nil {
						t.Errorf("append: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		last := lastPosition(t, first)
		waitFor(t, "the projection to reach the last event", func() bool {
			pos, err := first.Checkpoint(ctx, "counts")
			return err == nil && pos == last
		})
		stop()
		running.Wait()
		seen := map[int64]int{}
		for _, pos := range append(a.handled, b.handled...) {
			seen[pos]++
		}
		if len(seen) != 120 {
			t.Errorf("handled %d distinct events, want 120", len(seen))
		}
		for pos, n := range seen {
			if n != 1 {
				t.Errorf("event %d handled %d times, want once", pos, n)
			}
		}
		live := dumpCounts(t, first.DB())
		if _, err := first.Rebuild(ctx, (&countsProjection{}).projection(first.DB())); err != nil {
			t.Fatal(err)
		}
		if got := dumpCounts(t, first.DB()); got != live {
			t.Errorf("rebuilt read model:\n got %s\nwant %s", got, live)
		}
		t.Logf("handled by the first process: %d, by the second: %d", len(a.handled), len(b.handled))
	})
}
