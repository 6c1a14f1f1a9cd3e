package sink

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// harness opens a fresh destination of one dialect for a test: its own
// schema or database, dropped afterwards. admin is a plain connection to
// the same place, for DDL and checks.
type harness struct {
	dialect string
	open    func(t testing.TB) (s *DB, admin *sql.DB)
	// ddl of the tables the suite uses, by name.
	ddl map[string]string
}

func randomName(prefix string) string {
	return fmt.Sprintf("%s%08x", prefix, rand.Uint32())
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustExec(t testing.TB, db *sql.DB, queries ...string) {
	t.Helper()
	for _, q := range queries {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func (h harness) setup(t testing.TB, tables ...string) (*DB, *sql.DB) {
	t.Helper()
	s, admin := h.open(t)
	for _, name := range tables {
		mustExec(t, admin, h.ddl[name])
	}
	return s, admin
}

func rowsOf(pos int64, op Op, rows ...map[string]any) []Change {
	var out []Change
	for i, r := range rows {
		out = append(out, Change{Op: op, Row: r, Pos: Position{Partition: 0, Offset: pos + int64(i)}, RecordID: fmt.Sprint("r", pos+int64(i))})
	}
	return out
}

func queryStrings(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a, b sql.NullString
		if err := rows.Scan(&a, &b); err != nil {
			t.Fatal(err)
		}
		out = append(out, a.String+"="+b.String)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func count(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var items = Target{Table: Table{Name: "items"}, Key: []string{"id"}, Mode: Upsert}

// runSuite states the sink contract as tests; every dialect with a server
// here runs it.
func runSuite(t *testing.T, h harness) {
	t.Run("Catalog", func(t *testing.T) {
		s, _ := h.setup(t, "items", "events", "pairs")
		tables, err := s.Catalog(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		// The account may see other schemas' tables of the same names
		// (other tests share the server): only the connection's own count.
		own, err := s.d.defaultSchema(ctxT(t), s.db)
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]TableInfo{}
		for _, ti := range tables {
			if ti.Schema == own {
				byName[ti.Name] = ti
			}
		}
		it := byName["items"]
		if got, want := it.Key, []string{"id"}; !slices.Equal(got, want) {
			t.Errorf("items key = %v, want %v", got, want)
		}
		var names []string
		for _, c := range it.Columns {
			names = append(names, c.Name)
			switch c.Name {
			case "name":
				if c.Nullable || c.HasDefault || !strings.Contains(c.Type, "char") {
					t.Errorf("name column = %+v, want not null varchar(20) without default", c)
				}
			case "price":
				if !c.Nullable || !strings.Contains(c.Type, "(10,2)") {
					t.Errorf("price column = %+v, want nullable numeric(10,2)", c)
				}
			case "note":
				if !c.HasDefault || c.Generated {
					t.Errorf("note column = %+v, want a default, not generated", c)
				}
			}
		}
		if got, want := strings.Join(names, ","), "id,name,price,active,data,at,note"; got != want {
			t.Errorf("items columns = %s, want %s", got, want)
		}
		seq := byName["events"].Columns[0]
		if seq.Name != "seq" || !seq.Generated || !seq.HasDefault {
			t.Errorf("events.seq = %+v, want generated with a default", seq)
		}
		if got, want := byName["pairs"].Key, []string{"a", "b"}; !slices.Equal(got, want) {
			t.Errorf("pairs key = %v, want %v", got, want)
		}
		if _, ok := byName[DefaultBookkeepingTable]; ok {
			t.Errorf("catalogue lists the bookkeeping table")
		}
	})

	t.Run("PrepareChecksTheCatalogue", func(t *testing.T) {
		s, _ := h.setup(t, "items")
		ctx := ctxT(t)
		for _, tc := range []struct {
			name    string
			target  Target
			columns []string
		}{
			{"no table", Target{Table: Table{Name: "nope"}, Key: []string{"id"}, Mode: Upsert}, nil},
			{"no column", items, []string{"name", "nope"}},
			{"no key column", Target{Table: Table{Name: "items"}, Key: []string{"nope"}, Mode: Upsert}, nil},
			{"key not primary", Target{Table: Table{Name: "items"}, Key: []string{"name"}, Mode: Upsert}, nil},
			{"upsert without key", Target{Table: Table{Name: "items"}, Mode: Upsert}, nil},
			{"NUL in a column", items, []string{"na\x00me"}},
			{"unbalanced quote", items, []string{`name"; DROP TABLE items; --`}},
		} {
			if tc.name == "key not primary" && h.dialect == MySQL {
				continue // MySQL upserts on any unique key; ON DUPLICATE KEY names none
			}
			if _, _, err := s.Prepare(ctx, "r", tc.target, tc.columns); err == nil {
				t.Errorf("%s: Prepare succeeded, want an error", tc.name)
			}
		}
	})

	t.Run("UpsertCollapsesAndDeletes", func(t *testing.T) {
		s, admin := h.setup(t, "items")
		ctx := ctxT(t)
		g, committed, err := s.Prepare(ctx, "items", items, []string{"name", "price", "active", "data", "at"})
		if err != nil {
			t.Fatal(err)
		}
		if g != ExactlyOnce || len(committed) != 0 {
			t.Fatalf("Prepare = %v, %v; want ExactlyOnce and no positions", g, committed)
		}
		batch := rowsOf(10, Upsert,
			map[string]any{"id": json.Number("1"), "name": "one", "price": json.Number("1.50"), "active": true, "data": map[string]any{"a": []any{1.0, "x"}}, "at": "2026-01-02T03:04:05Z"},
			map[string]any{"id": int64(2), "name": "two", "price": 2.25, "active": false},
			map[string]any{"id": 3.0, "name": "three"},
			map[string]any{"id": "1", "name": "uno"}, // same key as the first: the last wins
		)
		batch = append(batch, rowsOf(14, Delete, map[string]any{"id": int64(2), "name": "ignored"})...)
		batch = append(batch, rowsOf(15, Upsert, map[string]any{"id": int64(4), "name": "four"})...)
		batch = append(batch, rowsOf(16, Delete, map[string]any{"id": int64(4)})...)
		batch = append(batch, rowsOf(17, Upsert, map[string]any{"id": int64(3), "name": "tres"})...)
		if err := s.Write(ctx, "items", items, batch); err != nil {
			t.Fatal(err)
		}
		got := queryStrings(t, admin, "SELECT id, name FROM items ORDER BY id")
		if want := []string{"1=uno", "3=tres"}; !slices.Equal(got, want) {
			t.Errorf("rows = %v, want %v", got, want)
		}
		// A second batch updates what is there.
		if err := s.Write(ctx, "items", items, rowsOf(18, Upsert, map[string]any{"id": int64(3), "name": "drei", "price": "3"})); err != nil {
			t.Fatal(err)
		}
		got = queryStrings(t, admin, "SELECT id, name FROM items ORDER BY id")
		if want := []string{"1=uno", "3=drei"}; !slices.Equal(got, want) {
			t.Errorf("rows = %v, want %v", got, want)
		}
		_, committed, err = s.Prepare(ctx, "items", items, []string{"name"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := committed, map[int32]int64{0: 18}; !mapsEqual(got, want) {
			t.Errorf("committed = %v, want %v", got, want)
		}
	})

	t.Run("RedeliveryIsSkipped", func(t *testing.T) {
		s, admin := h.setup(t, "items")
		ctx := ctxT(t)
		if _, _, err := s.Prepare(ctx, "items", items, []string{"name"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, "items", items, rowsOf(100, Upsert, map[string]any{"id": int64(1), "name": "new"})); err != nil {
			t.Fatal(err)
		}
		// An older change of the same row, redelivered, must not win.
		if err := s.Write(ctx, "items", items, rowsOf(99, Upsert, map[string]any{"id": int64(1), "name": "old"})); err != nil {
			t.Fatal(err)
		}
		if got, want := queryStrings(t, admin, "SELECT id, name FROM items"), []string{"1=new"}; !slices.Equal(got, want) {
			t.Errorf("rows = %v, want %v", got, want)
		}
	})

	t.Run("InsertOnlyWithAutoIncrementExactlyOnce", func(t *testing.T) {
		s, admin := h.setup(t, "events")
		ctx := ctxT(t)
		events := Target{Table: Table{Name: "events"}, Mode: Insert}
		g, _, err := s.Prepare(ctx, "events", events, []string{"body"})
		if err != nil || g != ExactlyOnce {
			t.Fatalf("Prepare = %v, %v; want ExactlyOnce", g, err)
		}
		var batch []Change
		for i := range 10 {
			batch = append(batch, Change{Op: Insert, Row: map[string]any{"body": fmt.Sprint("e", i)}, Pos: Position{Partition: int32(i % 3), Offset: int64(i)}})
		}
		for range 2 {
			if err := s.Write(ctx, "events", events, batch); err != nil {
				t.Fatal(err)
			}
		}
		// Half of it again, plus two new records.
		more := append(slices.Clone(batch[5:]), Change{Op: Insert, Row: map[string]any{"body": "e10"}, Pos: Position{Partition: 1, Offset: 10}}, Change{Op: Insert, Row: map[string]any{"body": "e11"}, Pos: Position{Partition: 2, Offset: 11}})
		if err := s.Write(ctx, "events", events, more); err != nil {
			t.Fatal(err)
		}
		if got, want := count(t, admin, "events"), 12; got != want {
			t.Errorf("events rows = %d, want %d", got, want)
		}
		_, committed, err := s.Prepare(ctx, "events", events, []string{"body"})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int32]int64{0: 9, 1: 10, 2: 11}; !mapsEqual(committed, want) {
			t.Errorf("committed = %v, want %v", committed, want)
		}
	})

	// A record stored twice in its topic (the same id at a later offset,
	// as when an ingest is retried after its answer was lost) is inserted
	// once, in a later batch, in the same batch, and after the route is
	// prepared again (a restart).
	t.Run("InsertOnlyWritesARecordIDOnce", func(t *testing.T) {
		s, admin := h.setup(t, "events")
		ctx := ctxT(t)
		events := Target{Table: Table{Name: "events"}, Mode: Insert}
		if g, _, err := s.Prepare(ctx, "events", events, []string{"body"}); err != nil || g != ExactlyOnce {
			t.Fatalf("Prepare = %v, %v; want ExactlyOnce", g, err)
		}
		change := func(off int64, id string) Change {
			return Change{Op: Insert, Row: map[string]any{"body": id}, Pos: Position{Partition: 0, Offset: off}, RecordID: id}
		}
		batches := [][]Change{
			{change(0, "a"), change(1, "b"), change(2, "c")},
			{change(3, "b"), change(4, "d"), change(5, "d"), change(6, "e")},
			{change(7, "a"), change(8, "e"), change(9, "f")},
		}
		for i, b := range batches {
			if i == 2 {
				if _, _, err := s.Prepare(ctx, "events", events, []string{"body"}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Write(ctx, "events", events, b); err != nil {
				t.Fatal(err)
			}
		}
		rows, err := admin.Query("SELECT body FROM events")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var b string
			_ = rows.Scan(&b)
			got = append(got, b)
		}
		rows.Close()
		slices.Sort(got)
		if want := []string{"a", "b", "c", "d", "e", "f"}; !slices.Equal(got, want) {
			t.Errorf("events = %v, want each record once: %v", got, want)
		}
		_, committed, err := s.Prepare(ctx, "events", events, []string{"body"})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int32]int64{0: 9}; !mapsEqual(committed, want) {
			t.Errorf("committed = %v, want %v", committed, want)
		}
		tables, err := s.Catalog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range tables {
			if ti.Name == DefaultRecordsTable {
				t.Errorf("the catalogue lists the records table %s", ti.Name)
			}
		}
	})

	t.Run("CompositeKey", func(t *testing.T) {
		s, admin := h.setup(t, "pairs")
		ctx := ctxT(t)
		pairs := Target{Table: Table{Name: "pairs"}, Key: []string{"a", "b"}, Mode: Upsert}
		if _, _, err := s.Prepare(ctx, "pairs", pairs, []string{"v"}); err != nil {
			t.Fatal(err)
		}
		batch := rowsOf(0, Upsert,
			map[string]any{"a": int64(1), "b": "x", "v": int64(1)},
			map[string]any{"a": int64(1), "b": "y", "v": int64(2)},
			map[string]any{"a": int64(2), "b": "x", "v": int64(3)},
			map[string]any{"a": int64(1), "b": "x", "v": int64(4)},
		)
		batch = append(batch, rowsOf(4, Delete, map[string]any{"a": int64(2), "b": "x"})...)
		if err := s.Write(ctx, "pairs", pairs, batch); err != nil {
			t.Fatal(err)
		}
		if got, want := queryStrings(t, admin, "SELECT b, v FROM pairs ORDER BY a, b"), []string{"x=4", "y=2"}; !slices.Equal(got, want) {
			t.Errorf("rows = %v, want %v", got, want)
		}
	})

	t.Run("ValueErrors", func(t *testing.T) {
		s, admin := h.setup(t, "items")
		ctx := ctxT(t)
		if _, _, err := s.Prepare(ctx, "items", items, []string{"name", "price", "active", "at"}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			row  map[string]any
			want string
		}{
			{map[string]any{"id": int64(1), "price": "abc"}, `column price (` + h.ddlType("price") + `): "abc" is not a number`},
			{map[string]any{"id": int64(1), "price": "123456789.5"}, `is out of range`},
			{map[string]any{"id": int64(1), "name": strings.Repeat("é", 21)}, `is 21 characters, longer than 20`},
			{map[string]any{"id": "x"}, `column id`},
			{map[string]any{"id": int64(1), "at": "yesterday"}, `"yesterday" is not an RFC 3339 time`},
			{map[string]any{"id": int64(1), "active": "maybe"}, `"maybe" is not a boolean`},
			{map[string]any{"id": int64(1), "nope": int64(1)}, `no column "nope"`},
			{map[string]any{"id": int64(1), "note": "n"}, `column "note" is not mapped by the route`},
		} {
			batch := append(rowsOf(0, Upsert, map[string]any{"id": int64(9), "name": "ok"}), rowsOf(1, Upsert, tc.row)...)
			err := s.Write(ctx, "items", items, batch)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Write(%v) = %v, want an error containing %q", tc.row, err, tc.want)
				continue
			}
			var ve *ValueError
			var pe *PermanentError
			if (!errors.As(err, &ve) || ve.Index != 1) && (!errors.As(err, &pe) || pe.Index != 1) {
				t.Errorf("Write(%v) = %#v, want a *ValueError or *PermanentError for change 1", tc.row, err)
			}
		}
		if got := count(t, admin, "items"); got != 0 {
			t.Errorf("items rows = %d after failed batches, want 0", got)
		}
	})

	t.Run("ConstraintViolationIsPermanent", func(t *testing.T) {
		s, admin := h.setup(t, "items")
		ctx := ctxT(t)
		ins := Target{Table: Table{Name: "items"}, Mode: Insert}
		if _, _, err := s.Prepare(ctx, "ins", ins, []string{"id", "name"}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name  string
			batch []Change
		}{
			{"duplicate key", rowsOf(0, Insert, map[string]any{"id": int64(1), "name": "a"}, map[string]any{"id": int64(1), "name": "b"})},
			{"not null", rowsOf(0, Insert, map[string]any{"id": int64(1), "name": nil})},
		} {
			err := s.Write(ctx, "ins", ins, tc.batch)
			var pe *PermanentError
			if !errors.As(err, &pe) || errors.Is(err, ErrTransient) {
				t.Errorf("%s: Write = %v, want a *PermanentError", tc.name, err)
			}
			if len(tc.batch) == 1 && pe != nil && pe.Index != 0 {
				t.Errorf("%s: Index = %d, want 0 for a one-row statement", tc.name, pe.Index)
			}
		}
		if got := count(t, admin, "items"); got != 0 {
			t.Errorf("items rows = %d after failed batches, want 0 (one transaction per batch)", got)
		}
	})

	t.Run("HostileIdentifiers", func(t *testing.T) {
		s, admin := h.setup(t, "items")
		ctx := ctxT(t)
		q := s.d.quote
		// Names a real table may have: quotes (balanced), semicolons,
		// comments. Quoted by doubling, they stay names.
		table := `t"" ; DROP TABLE items; --`
		col := "c`` ]] [x] '); DROP TABLE items; --"
		mustExec(t, admin, "CREATE TABLE "+q(table)+" (id int PRIMARY KEY, "+q(col)+" varchar(100))")
		target := Target{Table: Table{Name: table}, Key: []string{"id"}, Mode: Upsert}
		if _, _, err := s.Prepare(ctx, "hostile", target, []string{col}); err != nil {
			t.Fatal(err)
		}
		batch := rowsOf(0, Upsert, map[string]any{"id": int64(1), col: "'); DROP TABLE items; --"})
		batch = append(batch, rowsOf(1, Upsert, map[string]any{"id": int64(1), col: `x"; DROP TABLE items; --`})...)
		batch = append(batch, rowsOf(2, Upsert, map[string]any{"id": int64(2), col: "y"})...)
		batch = append(batch, rowsOf(3, Delete, map[string]any{"id": int64(2)})...)
		if err := s.Write(ctx, "hostile", target, batch); err != nil {
			t.Fatal(err)
		}
		if got, want := queryStrings(t, admin, "SELECT id, "+q(col)+" FROM "+q(table)), []string{`1=x"; DROP TABLE items; --`}; !slices.Equal(got, want) {
			t.Errorf("rows = %v, want %v", got, want)
		}
		// Names that try to close the quoting are rejected before any SQL
		// runs, whether or not a table has them.
		evil := `a"; DROP TABLE items; --`
		for _, bad := range []Target{
			{Table: Table{Name: evil}, Key: []string{"id"}, Mode: Upsert},
			{Table: Table{Name: "items"}, Key: []string{evil}, Mode: Upsert},
			{Table: Table{Name: "items", Schema: "x`; DROP TABLE items; --"}, Key: []string{"id"}, Mode: Upsert},
			{Table: Table{Name: "items]; DROP TABLE items; --"}, Key: []string{"id"}, Mode: Upsert},
		} {
			if _, _, err := s.Prepare(ctx, "evil", bad, nil); err == nil {
				t.Errorf("Prepare(%+v) succeeded, want an error", bad)
			}
		}
		if _, _, err := s.Prepare(ctx, "items", items, []string{evil}); err == nil {
			t.Errorf("Prepare with column %q succeeded, want an error", evil)
		}
		if err := s.Write(ctx, "items", items, rowsOf(0, Upsert, map[string]any{"id": int64(1), evil: "x"})); err == nil {
			t.Errorf("Write with an unprepared route succeeded")
		}
		if _, _, err := s.Prepare(ctx, "items", items, []string{"name"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, "items", items, rowsOf(0, Upsert, map[string]any{"id": int64(1), evil: "x"})); err == nil {
			t.Errorf("Write with column %q succeeded, want an error", evil)
		}
		if got := count(t, admin, "items"); got != 0 { // the table is still there
			t.Errorf("items rows = %d, want 0", got)
		}
	})

	t.Run("ManyRowsAreChunked", func(t *testing.T) {
		s, admin := h.setup(t, "pairs")
		ctx := ctxT(t)
		pairs := Target{Table: Table{Name: "pairs"}, Key: []string{"a", "b"}, Mode: Upsert}
		if _, _, err := s.Prepare(ctx, "pairs", pairs, []string{"v"}); err != nil {
			t.Fatal(err)
		}
		n := s.d.maxParams()/3 + 100 // more rows than one statement can carry
		batch := make([]Change, n)
		for i := range batch {
			batch[i] = Change{Op: Upsert, Row: map[string]any{"a": int64(i), "b": "x", "v": int64(i)}, Pos: Position{Offset: int64(i)}}
		}
		if err := s.Write(ctx, "pairs", pairs, batch); err != nil {
			t.Fatal(err)
		}
		if got := count(t, admin, "pairs"); got != n {
			t.Errorf("rows = %d, want %d", got, n)
		}
		dels := make([]Change, n)
		for i := range dels {
			dels[i] = Change{Op: Delete, Row: map[string]any{"a": int64(i), "b": "x"}, Pos: Position{Offset: int64(n + i)}}
		}
		if err := s.Write(ctx, "pairs", pairs, dels); err != nil {
			t.Fatal(err)
		}
		if got := count(t, admin, "pairs"); got != 0 {
			t.Errorf("rows = %d after deleting all, want 0", got)
		}
	})

	t.Run("ConcurrentRoutes", func(t *testing.T) {
		s, admin := h.setup(t, "pairs")
		ctx := ctxT(t)
		pairs := Target{Table: Table{Name: "pairs"}, Key: []string{"a", "b"}, Mode: Upsert}
		const routes, batches, size = 4, 10, 50
		errs := make(chan error, routes)
		for r := range routes {
			route := fmt.Sprint("route-", r)
			if _, _, err := s.Prepare(ctx, route, pairs, []string{"v"}); err != nil {
				t.Fatal(err)
			}
			go func() {
				for b := range batches {
					batch := make([]Change, size)
					for i := range batch {
						n := int64(b*size + i)
						batch[i] = Change{Op: Upsert, Row: map[string]any{"a": n, "b": route, "v": n}, Pos: Position{Partition: int32(i % 2), Offset: n}}
					}
					if err := s.Write(ctx, route, pairs, batch); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range routes {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		if got, want := count(t, admin, "pairs"), routes*batches*size; got != want {
			t.Errorf("rows = %d, want %d", got, want)
		}
	})

	t.Run("Ping", func(t *testing.T) {
		s, _ := h.setup(t)
		if err := s.Ping(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	})
}

// ddlType is the catalogue type of an items column in this dialect.
func (h harness) ddlType(col string) string {
	if col == "price" && h.dialect == MySQL {
		return "decimal(10,2)"
	}
	return "numeric(10,2)"
}

func mapsEqual(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func itoa(n int) string { return fmt.Sprint(n) }
