package sink

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	_ "github.com/microsoft/go-mssqldb" // registers the "sqlserver" driver
)

// sqlserver is SQL Server: [quoted] identifiers, @pN placeholders, MERGE
// for upserts, 2100 parameters per statement, through
// github.com/microsoft/go-mssqldb (DSN "sqlserver://user:pass@host?database=db").
type sqlserver struct{}

func (sqlserver) name() string              { return SQLServer }
func (sqlserver) driver() string            { return "sqlserver" }
func (sqlserver) dsn(s string) string       { return s }
func (sqlserver) quote(id string) string    { return quoteBracket(id) }
func (sqlserver) placeholder(n int) string  { return "@p" + strconv.Itoa(n) }
func (sqlserver) maxParams() int            { return 2100 - 1 } // one spare for the driver
func (sqlserver) txOptions() *sql.TxOptions { return nil }
func (sqlserver) lockSuffix() string        { return "" }

func (sqlserver) defaultSchema(ctx context.Context, db *sql.DB) (string, error) {
	var s string
	err := db.QueryRowContext(ctx, "SELECT SCHEMA_NAME()").Scan(&s)
	return s, err
}

const sqlserverCatalog = `
SELECT s.name, t.name, c.name,
	LOWER(ty.name) + CASE
		WHEN ty.name IN ('varchar', 'char', 'varbinary', 'binary') THEN '(' + CASE WHEN c.max_length = -1 THEN 'max' ELSE CAST(c.max_length AS varchar(10)) END + ')'
		WHEN ty.name IN ('nvarchar', 'nchar') THEN '(' + CASE WHEN c.max_length = -1 THEN 'max' ELSE CAST(c.max_length / 2 AS varchar(10)) END + ')'
		WHEN ty.name IN ('decimal', 'numeric') THEN '(' + CAST(c.precision AS varchar(10)) + ',' + CAST(c.scale AS varchar(10)) + ')'
		ELSE '' END,
	CAST(c.is_nullable AS bit),
	CAST(CASE WHEN c.default_object_id <> 0 OR c.is_identity = 1 OR c.is_computed = 1 OR c.is_nullable = 1 OR ty.name IN ('timestamp', 'rowversion') THEN 1 ELSE 0 END AS bit),
	CAST(CASE WHEN c.is_identity = 1 OR c.is_computed = 1 OR ty.name IN ('timestamp', 'rowversion') THEN 1 ELSE 0 END AS bit),
	COALESCE(ic.key_ordinal, 0)
FROM sys.tables t
JOIN sys.schemas s ON s.schema_id = t.schema_id
JOIN sys.columns c ON c.object_id = t.object_id
JOIN sys.types ty ON ty.user_type_id = c.user_type_id
LEFT JOIN sys.indexes i ON i.object_id = t.object_id AND i.is_primary_key = 1
LEFT JOIN sys.index_columns ic ON ic.object_id = t.object_id AND ic.index_id = i.index_id AND ic.column_id = c.column_id
WHERE t.is_ms_shipped = 0
ORDER BY s.name, t.name, c.column_id`

func (sqlserver) catalog(ctx context.Context, db *sql.DB) ([]TableInfo, error) {
	return scanCatalog(ctx, db, sqlserverCatalog)
}

// upsert is a MERGE from a VALUES source:
//
//	MERGE INTO t WITH (HOLDLOCK) AS t USING (VALUES (@p1,@p2),...) AS s (k,v)
//	ON t.k = s.k
//	WHEN MATCHED THEN UPDATE SET v = s.v
//	WHEN NOT MATCHED THEN INSERT (k,v) VALUES (s.k,s.v);
//
// HOLDLOCK makes the match and the insert one serializable step, so two
// writers of the same new key cannot both insert it.
func (d sqlserver) upsert(table string, columns, key []string, rows int) string {
	var b strings.Builder
	b.WriteString("MERGE INTO " + table + " WITH (HOLDLOCK) AS [t] USING (VALUES ")
	b.WriteString(values(d, rows, len(columns), 0))
	b.WriteString(") AS [s] (" + strings.Join(columns, ",") + ") ON ")
	for i, k := range key {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString("[t]." + k + " = [s]." + k)
	}
	if set := updateSet(columns, key, func(c string) string { return "[s]." + c }); set != "" {
		b.WriteString(" WHEN MATCHED THEN UPDATE SET " + set)
	}
	b.WriteString(" WHEN NOT MATCHED THEN INSERT (" + strings.Join(columns, ",") + ") VALUES (")
	for i, c := range columns {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("[s]." + c)
	}
	b.WriteString(");")
	return b.String()
}

func (d sqlserver) insert(table string, columns []string, rows int) string {
	return insertValues(d, table, columns, rows)
}

// delete uses OR-ed key matches: SQL Server has no row-value IN.
func (d sqlserver) delete(table string, key []string, rows int) string {
	if len(key) == 1 {
		return deleteIn(d, table, key, rows)
	}
	var b strings.Builder
	b.WriteString("DELETE FROM " + table + " WHERE ")
	n := 0
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(" OR ")
		}
		b.WriteByte('(')
		for i, k := range key {
			if i > 0 {
				b.WriteString(" AND ")
			}
			n++
			b.WriteString(k + " = " + d.placeholder(n))
		}
		b.WriteByte(')')
	}
	return b.String()
}

func (sqlserver) createPositions(table string) string {
	return "IF OBJECT_ID(N'" + strings.ReplaceAll(table, "'", "''") + "', N'U') IS NULL CREATE TABLE " + table + ` (
	[route] nvarchar(255) NOT NULL,
	[partition] int NOT NULL,
	[committed_offset] bigint NOT NULL,
	[updated_at] datetime2 NOT NULL,
	PRIMARY KEY ([route], [partition]))`
}

func (sqlserver) createRecords(table string) string {
	return "IF OBJECT_ID(N'" + strings.ReplaceAll(table, "'", "''") + "', N'U') IS NULL CREATE TABLE " + table + ` (
	[route] nvarchar(255) NOT NULL,
	[record_id] varchar(128) NOT NULL,
	[written_at] bigint NOT NULL,
	PRIMARY KEY ([route], [record_id]))`
}

// sqlserverNumber reads the error number of a go-mssqldb error (mssql.Error
// and whatever else carries SQLErrorNumber).
func sqlserverNumber(err error) (int32, bool) {
	var e interface{ SQLErrorNumber() int32 }
	if errors.As(err, &e) {
		return e.SQLErrorNumber(), true
	}
	return 0, false
}

// denied: 262 (permission denied in database), 229 and 230 (permission
// denied on an object or column), 2760 (schema missing or no permission).
func (sqlserver) denied(err error) bool {
	n, ok := sqlserverNumber(err)
	return ok && (n == 262 || n == 229 || n == 230 || n == 2760)
}

// classify: deadlock victim (1205), lock timeout (1222), database
// unavailable or starting (4060, 40613, 40197, 40501, 49918, 49919,
// 49920), and lost connections are transient; other server errors are
// permanent.
func (sqlserver) classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	if n, ok := sqlserverNumber(err); ok {
		switch n {
		case 1205, 1222, 4060, 40613, 40197, 40501, 49918, 49919, 49920, 233, 10053, 10054, 10060, -2:
			return transient(err)
		}
		return &PermanentError{Index: -1, Err: err}
	}
	if connectionLost(err) {
		return transient(err)
	}
	return &PermanentError{Index: -1, Err: err}
}
