// Package audit keeps the record of every change made through the API or
// the console: who (user or API key), what (in words, and as method, path
// and route), when, from where, and how it ended. The server records each
// authenticated
// request that may change something (any method but GET, HEAD and
// OPTIONS, on a known route) once it has been answered; anonymous ones are
// only counted in metrics, so that no one without credentials can fill the
// log. Entries older than the retention are pruned. The console's
// audit-log page reads it back.
package audit

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/arus-platform/arus/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Entry is one audited request.
type Entry struct {
	ID        int64
	At        time.Time
	Actor     string // a username, "key:<prefix>", or "anonymous"
	Method    string
	Path      string
	Route     string
	Status    int
	IP        string
	RequestID string
	// Summary says in words what the request changed ("reset group
	// billing on orders to earliest"); see Describe and Summarize. Entries
	// recorded before summaries existed have none.
	Summary string
}

// Log stores entries.
type Log struct {
	db   *store.DB
	last atomic.Int64
	// group shares the commits of entries recorded at once: every change
	// through the API records one, so a commit each would bound the API's
	// writes by the store's syncs.
	group *store.Group
}

// Open migrates the audit store.
func Open(ctx context.Context, db *store.DB) (*Log, error) {
	sub, _ := fs.Sub(migrations, "migrations")
	if err := db.Migrate(ctx, sub); err != nil {
		return nil, err
	}
	g := store.NewGroup(db, 0)
	if db.Dialect == store.Postgres {
		// Entries never contend with each other: on PostgreSQL several
		// commits at once answer the requests that wait for them sooner.
		g.Parallel(4)
	}
	return &Log{db: db, group: g}, nil
}

// nextID makes ids from the time in microseconds, strictly increasing
// within the process. Two processes sharing a store can pick the same id;
// the primary key refuses the second and Record tries the next.
func (l *Log) nextID(now time.Time) int64 {
	id := now.UnixMicro()
	for {
		last := l.last.Load()
		if id <= last {
			id = last + 1
		}
		if l.last.CompareAndSwap(last, id) {
			return id
		}
	}
}

// Limits of the stored fields, in bytes. A longer value is cut, and a cut
// path ends in "…".
const (
	MaxPathBytes  = 512
	maxFieldBytes = 256
)

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// Record stores e (its ID and At are set here). The path is cut to
// MaxPathBytes and the other text fields to 256 bytes, so that one entry
// stays small whatever the request carried.
func (l *Log) Record(ctx context.Context, e Entry) error {
	e.Path = clip(e.Path, MaxPathBytes)
	e.Actor, e.Method, e.Route = clip(e.Actor, maxFieldBytes), clip(e.Method, maxFieldBytes), clip(e.Route, maxFieldBytes)
	e.IP, e.RequestID = clip(e.IP, maxFieldBytes), clip(e.RequestID, maxFieldBytes)
	e.Summary = clip(e.Summary, MaxPathBytes)
	now := time.Now()
	for attempt := 0; ; attempt++ {
		e.ID, e.At = l.nextID(now), now
		err := l.group.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, l.db.Rebind(`INSERT INTO audit_log (id, at_ms, actor, method, path, route, status, ip, request_id, summary)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), e.ID, e.At.UnixMilli(), e.Actor, e.Method, e.Path, e.Route, e.Status, e.IP, e.RequestID, e.Summary)
			return err
		})
		if store.IsUniqueViolation(err) && attempt < 3 {
			continue
		}
		if err != nil {
			return fmt.Errorf("audit: record: %w", err)
		}
		return nil
	}
}

// Query selects a page of entries, newest first.
type Query struct {
	Actor  string // exact actor, or "" for all
	Before string // the Next of the previous page
	Limit  int    // default 50, at most 500
}

// Page is one page of entries.
type Page struct {
	Entries []Entry
	Next    string
}

// List returns a page of entries, newest first.
func (l *Log) List(ctx context.Context, q Query) (Page, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 500)
	before := int64(1<<63 - 1)
	if q.Before != "" {
		n, err := strconv.ParseInt(q.Before, 10, 64)
		if err != nil || n <= 0 {
			return Page{}, fmt.Errorf("audit: page cursor %q is not valid", q.Before)
		}
		before = n
	}
	sql := `SELECT id, at_ms, actor, method, path, route, status, ip, request_id, summary FROM audit_log WHERE id < ?`
	args := []any{before}
	if q.Actor != "" {
		sql += ` AND actor = ?`
		args = append(args, q.Actor)
	}
	sql += ` ORDER BY id DESC LIMIT ?`
	args = append(args, q.Limit+1)
	rows, err := l.db.QueryContext(ctx, l.db.Rebind(sql), args...)
	if err != nil {
		return Page{}, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	var p Page
	for rows.Next() {
		var e Entry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Method, &e.Path, &e.Route, &e.Status, &e.IP, &e.RequestID, &e.Summary); err != nil {
			return Page{}, fmt.Errorf("audit: list: %w", err)
		}
		e.At = time.UnixMilli(at)
		p.Entries = append(p.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("audit: list: %w", err)
	}
	if len(p.Entries) > q.Limit {
		p.Entries = p.Entries[:q.Limit]
		p.Next = strconv.FormatInt(p.Entries[q.Limit-1].ID, 10)
	}
	return p, nil
}

// Prune deletes the entries recorded before before, a batch at a time so
// that recording goes on meanwhile, and returns how many it deleted.
func (l *Log) Prune(ctx context.Context, before time.Time) (int64, error) {
	// Ids are the recording time in microseconds (see nextID), so the
	// primary key finds old entries.
	const batch = 5000
	var total int64
	for {
		res, err := l.db.ExecContext(ctx, l.db.Rebind(`DELETE FROM audit_log WHERE id IN
			(SELECT id FROM audit_log WHERE id < ? ORDER BY id LIMIT ?)`), before.UnixMicro(), batch)
		if err != nil {
			return total, fmt.Errorf("audit: prune: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("audit: prune: %w", err)
		}
		total += n
		if n < batch {
			return total, nil
		}
	}
}
