package sink

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// postgres is PostgreSQL through pgx: "quoted" identifiers, $n
// placeholders, INSERT ... ON CONFLICT (key) DO UPDATE.
type postgres struct{}

func (postgres) name() string              { return Postgres }
func (postgres) driver() string            { return "pgx" }
func (postgres) dsn(s string) string       { return s }
func (postgres) quote(id string) string    { return quoteDouble(id) }
func (postgres) placeholder(n int) string  { return "$" + strconv.Itoa(n) }
func (postgres) maxParams() int            { return 65535 }
func (postgres) txOptions() *sql.TxOptions { return nil }
func (postgres) lockSuffix() string        { return "FOR UPDATE" }

func (postgres) defaultSchema(ctx context.Context, db *sql.DB) (string, error) {
	var s string
	err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&s)
	return s, err
}

const postgresCatalog = `
SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
	NOT a.attnotnull,
	a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' OR NOT a.attnotnull,
	a.attidentity <> '' OR a.attgenerated <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid), '') LIKE 'nextval(%',
	coalesce((SELECT k.ord FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord) WHERE k.attnum = a.attnum), 0)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
WHERE c.relkind IN ('r', 'p')
	AND n.nspname NOT IN ('pg_catalog', 'information_schema')
	AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
	AND has_schema_privilege(n.oid, 'USAGE')
ORDER BY n.nspname, c.relname, a.attnum`

func (postgres) catalog(ctx context.Context, db *sql.DB) ([]TableInfo, error) {
	return scanCatalog(ctx, db, postgresCatalog)
}

// scanCatalog reads rows of (schema, table, column, type, nullable,
// has default, generated, key position) ordered by table and column.
func scanCatalog(ctx context.Context, db *sql.DB, query string, args ...any) ([]TableInfo, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TableInfo
	var keyPos []map[int]string
	for rows.Next() {
		var c Column
		var schema, table string
		var kp int
		if err := rows.Scan(&schema, &table, &c.Name, &c.Type, &c.Nullable, &c.HasDefault, &c.Generated, &kp); err != nil {
			return nil, err
		}
		c.Type = strings.ToLower(c.Type)
		if n := len(out); n == 0 || out[n-1].Schema != schema || out[n-1].Name != table {
			out = append(out, TableInfo{Table: Table{Schema: schema, Name: table}})
			keyPos = append(keyPos, map[int]string{})
		}
		n := len(out) - 1
		out[n].Columns = append(out[n].Columns, c)
		if kp > 0 {
			keyPos[n][kp] = c.Name
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		for p := 1; p <= len(keyPos[i]); p++ {
			out[i].Key = append(out[i].Key, keyPos[i][p])
		}
	}
	return out, nil
}

// insertValues names OVERRIDING SYSTEM VALUE so that a route that maps an
// identity column explicitly (even GENERATED ALWAYS) writes its values;
// it changes nothing for the columns a route leaves out.
func (d postgres) insertValues(table string, columns []string, rows int) string {
	return "INSERT INTO " + table + " (" + strings.Join(columns, ",") + ") OVERRIDING SYSTEM VALUE VALUES " + values(d, rows, len(columns), 0)
}

func (d postgres) upsert(table string, columns, key []string, rows int) string {
	q := d.insertValues(table, columns, rows) + " ON CONFLICT (" + strings.Join(key, ",") + ") DO "
	set := updateSet(columns, key, func(c string) string { return "EXCLUDED." + c })
	if set == "" {
		return q + "NOTHING"
	}
	return q + "UPDATE SET " + set
}

// updateSet renders "c = f(c)" for the columns not in key.
func updateSet(columns, key []string, f func(string) string) string {
	var b strings.Builder
	for _, c := range columns {
		if contains(key, c) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(c)
		b.WriteString(" = ")
		b.WriteString(f(c))
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (d postgres) insert(table string, columns []string, rows int) string {
	return d.insertValues(table, columns, rows)
}

func (d postgres) delete(table string, key []string, rows int) string {
	return deleteIn(d, table, key, rows)
}

func (postgres) createPositions(table string) string {
	return `CREATE TABLE IF NOT EXISTS ` + table + ` (
	"route" text NOT NULL,
	"partition" integer NOT NULL,
	"committed_offset" bigint NOT NULL,
	"updated_at" timestamptz NOT NULL,
	PRIMARY KEY ("route", "partition"))`
}

func (postgres) createRecords(table string) string {
	return `CREATE TABLE IF NOT EXISTS ` + table + ` (
	"route" text NOT NULL,
	"record_id" text NOT NULL,
	"written_at" bigint NOT NULL,
	PRIMARY KEY ("route", "record_id"))`
}

func (postgres) denied(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42501"
}

// classify sorts PostgreSQL errors: serialization failures, deadlocks,
// shutdowns, lost connections and too many connections are transient, and
// so is every failure to connect, whatever the server said (a database not
// accepting connections, 55000; one that is gone; a refused login): those
// are the destination's state, not the records', so the route holds its
// records until the destination answers again rather than dead-lettering
// them. Other server errors (constraints, data, undefined objects,
// privileges) are permanent.
func (postgres) classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	if ce := (*pgconn.ConnectError)(nil); errors.As(err, &ce) {
		return transient(err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "40001", pe.Code == "40P01", pe.Code == "55P03",
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", pe.Code == "57014",
			pe.Code == "53300", pe.Code == "53400",
			strings.HasPrefix(pe.Code, "08"):
			return transient(err)
		}
		return &PermanentError{Index: -1, Err: err}
	}
	if connectionLost(err) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return transient(err)
	}
	if strings.Contains(err.Error(), "conn closed") {
		return transient(err)
	}
	return &PermanentError{Index: -1, Err: err}
}

func (postgres) claimRecords(table string) string {
	return `INSERT INTO ` + table + ` ("route", "record_id", "written_at") SELECT $1, id, $3 FROM unnest($2::text[]) AS ids(id)
	ON CONFLICT DO NOTHING RETURNING "record_id"`
}
