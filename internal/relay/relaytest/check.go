package relaytest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TableRows returns the rows of the named route's table, the route's
// columns joined by '|', sorted.
func (s *Scenario) TableRows(ctx context.Context, name string) ([]string, error) {
	r := routeNamed(name)
	d := s.dests[r.dest]
	rows, err := d.db.QueryContext(ctx, `SELECT `+strings.Join(r.columns, ", ")+` FROM `+d.place+`.`+r.table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	vals := make([]sql.NullString, len(r.columns))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []string
	parts := make([]string, len(vals))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			parts[i] = v.String
		}
		out = append(out, strings.Join(parts, "|"))
	}
	slices.Sort(out)
	return out, rows.Err()
}

// TablesMatch reports whether the tables of the named routes hold exactly
// the rows st says, with no error.
func (s *Scenario) TablesMatch(ctx context.Context, st *State, names ...string) bool {
	for _, name := range names {
		got, err := s.TableRows(ctx, name)
		if err != nil || !slices.Equal(got, st.Rows(name)) {
			return false
		}
	}
	return true
}

// WaitTables waits until the tables of the named routes hold exactly the
// rows st says — whole tables compared, so a row twice or one too many
// shows — and reports, with t.Errorf, each that does not by timeout. It
// reports whether all did.
func (s *Scenario) WaitTables(ctx context.Context, t testing.TB, st *State, timeout time.Duration, names ...string) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	ok := true
	for _, name := range names {
		want := st.Rows(name)
		var got []string
		var err error
		for {
			got, err = s.TableRows(ctx, name)
			if err == nil && slices.Equal(got, want) {
				break
			}
			if time.Now().After(deadline) {
				missing, extra := diff(got, want)
				t.Errorf("route %s: table has %d rows, want %d; %d missing or different (first %v), %d unexpected (first %v); last error %v",
					name, len(got), len(want), len(missing), first(missing), len(extra), first(extra), err)
				ok = false
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	return ok
}

// diff returns the rows of want not in got and those of got not in want,
// counting repeats.
func diff(got, want []string) (missing, extra []string) {
	n := map[string]int{}
	for _, r := range got {
		n[r]++
	}
	for _, r := range want {
		if n[r] > 0 {
			n[r]--
		} else {
			missing = append(missing, r)
		}
	}
	for r, k := range n {
		for range k {
			extra = append(extra, r)
		}
	}
	slices.Sort(extra)
	return missing, extra
}

func first(s []string) []string { return s[:min(3, len(s))] }

// Coverage says which delivery log entries a check may find missing; the
// zero value, none: every record has an entry on every route. (A process
// killed with kill -9 loses the entries it had queued, but the relay
// rebuilds them when its routes start again, so a kill needs no
// allowance.)
type Coverage struct {
	// Dropped is how many entries the relay counted as dropped on a full
	// queue (arus_relay_log_dropped_total, summed over its processes; see
	// LogDropped): that many records in all may lack an entry.
	Dropped int
}

// logEntry is a delivery log entry as the API shows it.
type logEntry struct {
	RecordID  string          `json:"record_id"`
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
	Status    string          `json:"status"`
	Row       json.RawMessage `json:"row"`
	Error     string          `json:"error"`
}

// CheckDeliveryLog checks, with adminKey (scope relay.read), that the
// delivery log agrees with the topic and so with the tables: on every
// route, each entry names a record of the topic by its id and place; a
// delivered entry carries the row the route maps from that record (a
// delete, its key); skipped entries are deletes on the insert-only route,
// which has no deletes; nothing is dead-lettered; and every record has a
// delivered or skipped entry, but for what cov allows. The log is written
// in batches, so it waits up to timeout for the entries to come.
func (s *Scenario) CheckDeliveryLog(ctx context.Context, t testing.TB, api API, adminKey string, tp *Topic, cov Coverage, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	budget := cov.Dropped
	for _, r := range routes {
		for {
			entries, err := readLog(ctx, api, adminKey, s.routeIDs[r.name])
			if err != nil {
				t.Fatalf("relaytest: delivery log of route %s: %v", r.name, err)
			}
			problems, c := checkLog(r, tp, entries)
			if c.missing <= budget || time.Now().After(deadline) {
				for _, p := range problems {
					t.Errorf("delivery log, route %s: %s", r.name, p)
				}
				if c.missing > budget {
					t.Errorf("delivery log, route %s: %d records without a delivered or skipped entry, %d dropped entries left to explain them; first: %s",
						r.name, c.missing, budget, c.first)
				}
				budget = max(0, budget-c.missing)
				if c.missing > 0 {
					t.Logf("delivery log, route %s: %d of %d records without an entry (dropped on a full queue)", r.name, c.missing, len(tp.Records))
				}
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

// LogDropped returns how many delivery log entries the process at api
// dropped on a full queue, from its metrics.
func LogDropped(ctx context.Context, api API) (int, error) {
	status, b, err := api.Call(ctx, "GET", "/metrics", "", "")
	if err != nil || status != http.StatusOK {
		return 0, fmt.Errorf("relaytest: GET /metrics: %d %v", status, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "arus_relay_log_dropped_total "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("relaytest: metric %q: %w", line, err)
			}
			return int(f), nil
		}
	}
	return 0, nil
}

// readLog reads every entry of a route, paging through the API.
func readLog(ctx context.Context, api API, key, routeID string) ([]logEntry, error) {
	var all []logEntry
	q := url.Values{"route": {routeID}, "limit": {"1000"}}
	for {
		status, b, err := api.Call(ctx, "GET", "/api/v1/relay/deliveries?"+q.Encode(), key, "")
		if err != nil || status != 200 {
			return nil, fmt.Errorf("GET deliveries: %d %.200s %v", status, b, err)
		}
		var page struct {
			Entries []logEntry `json:"entries"`
			Next    string     `json:"next"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Entries...)
		if page.Next == "" {
			return all, nil
		}
		q.Set("after", page.Next)
	}
}

// coverage counts the records of a route without a delivered or skipped
// entry, first the first of those.
type coverage struct {
	missing int
	first   string
}

// checkLog returns the entries that disagree with the topic and the
// coverage of the route's records.
func checkLog(r route, tp *Topic, entries []logEntry) (problems []string, c coverage) {
	add := func(format string, args ...any) {
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	done := map[position]bool{}
	for _, e := range entries {
		rec := tp.at[position{e.Partition, e.Offset}]
		if rec == nil || rec.ID != e.RecordID {
			add("entry %s at %d@%d names no record of the topic", e.RecordID, e.Partition, e.Offset)
			continue
		}
		switch e.Status {
		case "delivered":
			want := r.row(rec.Car)
			if rec.Delete {
				want = rec.Car.field("id")
				if !r.upsert {
					add("delete %s delivered to a route without deletes", rec.ID)
				}
			}
			if got := rowOf(r, e.Row, rec.Delete); got != want {
				add("record %s delivered as %q, want %q", rec.ID, got, want)
			}
			done[position{e.Partition, e.Offset}] = true
		case "skipped":
			if !rec.Delete || r.upsert {
				add("record %s skipped; only deletes on a route without deletes are", rec.ID)
			}
			done[position{e.Partition, e.Offset}] = true
		case "failed":
			// Tried again; its delivery has an entry of its own.
		default:
			add("record %s: %s (%s)", rec.ID, e.Status, e.Error)
		}
	}
	missing := map[int32][]int64{}
	for _, rec := range tp.Records {
		if !done[position{rec.Partition, rec.Offset}] {
			missing[rec.Partition] = append(missing[rec.Partition], rec.Offset)
		}
	}
	parts := slices.Sorted(maps.Keys(missing))
	for _, p := range parts {
		offs := missing[p]
		if c.missing == 0 {
			c.first = fmt.Sprintf("partition %d, offsets %d to %d", p, offs[0], offs[len(offs)-1])
		}
		c.missing += len(offs)
	}
	return problems, c
}

// rowOf renders a logged row as the route's columns joined by '|' (for a
// delete, the key id).
func rowOf(r route, raw json.RawMessage, del bool) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var row map[string]any
	if err := dec.Decode(&row); err != nil {
		return "unreadable: " + string(raw)
	}
	if del {
		return fmt.Sprint(row["id"])
	}
	parts := make([]string, len(r.columns))
	for i, c := range r.columns {
		parts[i] = fmt.Sprint(row[c])
	}
	return strings.Join(parts, "|")
}
