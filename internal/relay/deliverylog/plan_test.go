package deliverylog

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/store"
)

// TestQueriesUseIndexes checks SQLite's plan of every query the API and
// the console run against the log: each filter is served by an index,
// pages come in index order (no sort of the matches, but for one record's
// few entries), the totals above the list find their entries through an
// index, and the maintenance queries use theirs.
func TestQueriesUseIndexes(t *testing.T) {
	l := openLog(t, store.Config{Dir: t.TempDir()}, nil)
	since := time.Now().Add(-time.Hour)
	pages := []struct {
		q     Query
		index string
		sort  bool
	}{
		{Query{}, "relay_log_at", false},
		{Query{After: "1700000000000.42"}, "relay_log_at", false},
		{Query{Since: since, Until: time.Now()}, "relay_log_at", false},
		{Query{Application: "shop"}, "relay_log_application", false},
		{Query{Dataset: "items"}, "relay_log_dataset", false},
		{Query{DestinationID: "d1"}, "relay_log_destination", false},
		{Query{RouteID: "r1"}, "relay_log_route", false},
		{Query{RouteID: "r1", After: "1700000000000.42"}, "relay_log_route", false},
		{Query{RecordID: "rec-1"}, "relay_log_record", true},
		{Query{Status: Failed}, "relay_log_status_other", false},
		{Query{Status: DeadLettered, Since: since}, "relay_log_status_other", false},
		{Query{Status: Skipped}, "relay_log_status_other", false},
		{Query{Status: Delivered}, "relay_log_at", false},
	}
	for _, p := range pages {
		p.q.Limit = 100
		query, args, err := p.q.pageSQL()
		if err != nil {
			t.Fatal(err)
		}
		plan := explain(t, l, query, args)
		if !strings.Contains(plan, "INDEX "+p.index+" ") && !strings.HasSuffix(plan, "INDEX "+p.index) {
			t.Errorf("%+v: plan %q does not use %s", p.q, plan, p.index)
		}
		if sorts := strings.Contains(plan, "TEMP B-TREE"); sorts != p.sort {
			t.Errorf("%+v: plan %q: sorts the matches %v, want %v", p.q, plan, sorts, p.sort)
		}
	}
	// The totals above the list find their entries through an index.
	for _, q := range []Query{{}, {RouteID: "r1"}, {Status: Failed}, {Status: Delivered}, {RouteID: "r1", Status: DeadLettered},
		{DestinationID: "d1"}, {Dataset: "items"}, {Application: "shop"}, {RecordID: "rec-1"}} {
		query, args := q.countsSQL()
		plan := explain(t, l, query, args)
		if !strings.Contains(plan, " INDEX ") || strings.Contains(plan, "SCAN relay_log;") || strings.HasSuffix(plan, "SCAN relay_log") {
			t.Errorf("counts %+v: plan %q reads the table without an index", q, plan)
		}
	}
	for query, index := range map[string]string{
		`SELECT MAX(record_offset) FROM relay_log WHERE route_id = ? AND topic = ? AND record_partition = ? AND status <> ?`: "relay_log_once",
		`DELETE FROM relay_log WHERE at < ?`: "relay_log_at",
	} {
		if plan := explain(t, l, query, []any{"r1", "t", 0, "failed"}[:strings.Count(query, "?")]); !strings.Contains(plan, index) {
			t.Errorf("%s: plan %q does not use %s", query, plan, index)
		}
	}
}

// explain returns SQLite's plan of query, its steps joined by "; ".
func explain(t *testing.T, l *Log, query string, args []any) string {
	t.Helper()
	rows, err := l.db.QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(steps, "; ")
}
