package deliverylog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Query selects entries, newest first. Empty fields do not filter.
type Query struct {
	Application   string
	Dataset       string
	DestinationID string
	RouteID       string
	RecordID      string
	Status        Status
	// Since and Until bound the entries' times: Since <= Time < Until.
	Since, Until time.Time
	// Limit bounds the entries of a page: default 100, at most 1,000.
	Limit int
	// After is the Next of the previous page; empty for the first.
	After string
}

// Page is one page of entries; Next, when not empty, fetches the
// following one (Query.After).
type Page struct {
	Entries []Entry `json:"entries"`
	Next    string  `json:"next,omitempty"`
}

// ErrInvalidQuery is returned for a bad status, limit or cursor.
var ErrInvalidQuery = errors.New("deliverylog: invalid query")

// Query returns a page of entries matching q, newest first. Pages are
// keyed by (time, id), so entries written meanwhile do not shift them.
func (l *Log) Query(ctx context.Context, q Query) (Page, error) {
	if q.Limit < 0 || q.Limit > 1000 {
		return Page{}, fmt.Errorf("%w: limit %d: use 1 to 1000", ErrInvalidQuery, q.Limit)
	}
	if q.Limit == 0 {
		q.Limit = 100
	}
	if q.Status != "" && !q.Status.Valid() {
		return Page{}, fmt.Errorf("%w: status %q: use delivered, skipped, failed or dead_lettered", ErrInvalidQuery, q.Status)
	}
	query, args, err := q.pageSQL()
	if err != nil {
		return Page{}, err
	}
	rows, err := l.db.QueryContext(ctx, l.db.Rebind(query), args...)
	if err != nil {
		return Page{}, fmt.Errorf("deliverylog: query: %w", err)
	}
	defer rows.Close()
	page := Page{Entries: []Entry{}}
	for rows.Next() {
		var e Entry
		var at, recTime, part int64
		var status, row string
		if err := rows.Scan(&e.ID, &at, &e.RecordID, &e.Dataset, &e.Application, &e.RouteID, &e.Route,
			&e.DestinationID, &e.Destination, &e.DestinationHost, &e.Topic, &part, &e.Offset, &recTime,
			&status, &e.Attempts, &row, &e.Error); err != nil {
			return Page{}, fmt.Errorf("deliverylog: query: %w", err)
		}
		e.Time = time.UnixMilli(at).UTC()
		if recTime != 0 {
			e.RecordTime = time.UnixMilli(recTime).UTC()
		}
		e.Partition, e.Status = int32(part), Status(status)
		if row != "" {
			e.Row = []byte(row)
		}
		page.Entries = append(page.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("deliverylog: query: %w", err)
	}
	if len(page.Entries) > q.Limit {
		page.Entries = page.Entries[:q.Limit]
		last := page.Entries[q.Limit-1]
		page.Next = strconv.FormatInt(last.Time.UnixMilli(), 10) + "." + strconv.FormatInt(last.ID, 10)
	}
	return page, nil
}

// pageSQL renders the SELECT of a page of q (with '?' placeholders).
func (q Query) pageSQL() (string, []any, error) {
	where, args := q.filters()
	if q.After != "" {
		at, id, err := parseCursor(q.After)
		if err != nil {
			return "", nil, err
		}
		where = append(where, "(at < ? OR (at = ? AND id < ?))")
		args = append(args, at, at, id)
	}
	query := `SELECT id, ` + entryCols + ` FROM relay_log`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	return query + ` ORDER BY at DESC, id DESC LIMIT ` + strconv.Itoa(q.Limit+1), args, nil
}

// filters renders the query's filters (not the cursor) as SQL
// conditions with '?' placeholders.
func (q Query) filters() ([]string, []any) {
	var where []string
	var args []any
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	eq("application", q.Application)
	eq("dataset", q.Dataset)
	eq("destination_id", q.DestinationID)
	eq("route_id", q.RouteID)
	eq("record_id", q.RecordID)
	eq("status", string(q.Status))
	if q.Status != "" && q.Status != Delivered {
		// The condition of the partial index relay_log_status_other, which
		// neither SQLite nor PostgreSQL infers from a bound status.
		where = append(where, "status <> '"+string(Delivered)+"'")
	}
	if !q.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		where = append(where, "at < ?")
		args = append(args, q.Until.UnixMilli())
	}
	return where, args
}

// Counts returns how many entries match q's filters, by status (Limit and
// After are ignored): the totals a console shows above the list.
func (l *Log) Counts(ctx context.Context, q Query) (map[Status]int64, error) {
	if q.Status != "" && !q.Status.Valid() {
		return nil, fmt.Errorf("%w: status %q: use delivered, skipped, failed or dead_lettered", ErrInvalidQuery, q.Status)
	}
	query, args := q.countsSQL()
	rows, err := l.db.QueryContext(ctx, l.db.Rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("deliverylog: counts: %w", err)
	}
	defer rows.Close()
	out := map[Status]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("deliverylog: counts: %w", err)
		}
		out[Status(s)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("deliverylog: counts: %w", err)
	}
	return out, nil
}

// countsSQL renders the SELECT of Counts (with '?' placeholders).
func (q Query) countsSQL() (string, []any) {
	where, args := q.filters()
	query := `SELECT status, COUNT(*) FROM relay_log`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	return query + ` GROUP BY status`, args
}

func parseCursor(s string) (at, id int64, err error) {
	a, b, ok := strings.Cut(s, ".")
	if ok {
		at, err = strconv.ParseInt(a, 10, 64)
		if err == nil {
			id, err = strconv.ParseInt(b, 10, 64)
		}
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("%w: cursor %q is not one this log returned", ErrInvalidQuery, s)
	}
	return at, id, nil
}
