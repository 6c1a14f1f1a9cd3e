package sink

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// mysqlDialect is MySQL and MariaDB through go-sql-driver/mysql: `quoted`
// identifiers, ? placeholders, INSERT ... ON DUPLICATE KEY UPDATE c =
// VALUES(c), which MariaDB needs; on MySQL 8.0.19 and later (where
// VALUES() is deprecated) the row-alias form INSERT ... AS `arus_new` ON
// DUPLICATE KEY UPDATE c = `arus_new`.c. The catalogue is the
// connection's database.
type mysqlDialect struct {
	rowAlias bool
}

// mysqlRowAlias reports whether a server of this VERSION() takes the
// row-alias form of ON DUPLICATE KEY UPDATE: MySQL 8.0.19 and later, not
// MariaDB.
func mysqlRowAlias(version string) bool {
	if strings.Contains(strings.ToLower(version), "mariadb") {
		return false
	}
	var major, minor, patch int
	fmt.Sscanf(version, "%d.%d.%d", &major, &minor, &patch)
	switch {
	case major != 8:
		return major > 8
	case minor != 0:
		return minor > 0
	}
	return patch >= 19
}

// withServer picks the upsert form for the server db talks to.
func (d mysqlDialect) withServer(ctx context.Context, db *sql.DB) (mysqlDialect, error) {
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return d, err
	}
	d.rowAlias = mysqlRowAlias(version)
	return d, nil
}

func (mysqlDialect) name() string           { return MySQL }
func (mysqlDialect) driver() string         { return "mysql" }
func (mysqlDialect) quote(id string) string { return quoteBacktick(id) }
func (mysqlDialect) placeholder(int) string { return "?" }
func (mysqlDialect) maxParams() int         { return 65535 }

// txOptions: READ COMMITTED, because under InnoDB's default REPEATABLE
// READ the SELECT ... FOR UPDATE of a route's positions that do not exist
// yet takes a gap lock, and two routes inserting their first positions
// into the same gap deadlock each other. READ COMMITTED locks only the
// rows that exist.
func (mysqlDialect) txOptions() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelReadCommitted}
}

func (mysqlDialect) lockSuffix() string { return "FOR UPDATE" }

// dsn asks for times in UTC and parsed, and for the strict SQL mode that
// turns truncations into errors rather than warnings.
func (mysqlDialect) dsn(s string) string {
	cfg, err := mysql.ParseDSN(s)
	if err != nil {
		return s // sql.Open reports it
	}
	cfg.ParseTime = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	if _, ok := cfg.Params["sql_mode"]; !ok {
		cfg.Params["sql_mode"] = "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"
	}
	return cfg.FormatDSN()
}

func (mysqlDialect) defaultSchema(ctx context.Context, db *sql.DB) (string, error) {
	var s sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&s); err != nil {
		return "", err
	}
	if !s.Valid {
		return "", errors.New("the DSN names no database")
	}
	return s.String, nil
}

// MariaDB reports COLUMN_DEFAULT 'NULL' (the text) for a nullable column
// without a default; MySQL reports NULL. Either way the column may be
// omitted when it is nullable.
const mysqlCatalog = `
SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE,
	c.IS_NULLABLE = 'YES',
	c.COLUMN_DEFAULT IS NOT NULL OR c.IS_NULLABLE = 'YES' OR c.EXTRA LIKE '%auto_increment%' OR COALESCE(c.GENERATION_EXPRESSION, '') <> '',
	c.EXTRA LIKE '%auto_increment%' OR COALESCE(c.GENERATION_EXPRESSION, '') <> '',
	COALESCE(k.ORDINAL_POSITION, 0)
FROM information_schema.COLUMNS c
JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME AND t.TABLE_TYPE = 'BASE TABLE'
LEFT JOIN information_schema.KEY_COLUMN_USAGE k ON k.TABLE_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME
	AND k.COLUMN_NAME = c.COLUMN_NAME AND k.CONSTRAINT_NAME = 'PRIMARY'
WHERE c.TABLE_SCHEMA = DATABASE()
ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`

func (mysqlDialect) catalog(ctx context.Context, db *sql.DB) ([]TableInfo, error) {
	return scanCatalog(ctx, db, mysqlCatalog)
}

func (d mysqlDialect) upsert(table string, columns, key []string, rows int) string {
	q := insertValues(d, table, columns, rows)
	set := updateSet(columns, key, func(c string) string { return "VALUES(" + c + ")" })
	if d.rowAlias {
		q += " AS `arus_new`"
		set = updateSet(columns, key, func(c string) string { return "`arus_new`." + c })
	}
	if set == "" {
		set = key[0] + " = " + key[0]
	}
	return q + " ON DUPLICATE KEY UPDATE " + set
}

func (d mysqlDialect) insert(table string, columns []string, rows int) string {
	return insertValues(d, table, columns, rows)
}

func (d mysqlDialect) delete(table string, key []string, rows int) string {
	return deleteIn(d, table, key, rows)
}

func (mysqlDialect) createPositions(table string) string {
	return "CREATE TABLE IF NOT EXISTS " + table + " (\n" +
		"\t`route` varchar(255) NOT NULL,\n" +
		"\t`partition` int NOT NULL,\n" +
		"\t`committed_offset` bigint NOT NULL,\n" +
		"\t`updated_at` datetime(6) NOT NULL,\n" +
		"\tPRIMARY KEY (`route`, `partition`))"
}

// createRecords keys on an ASCII record_id: arus ids are, and the key
// stays well within InnoDB's limit.
func (mysqlDialect) createRecords(table string) string {
	return "CREATE TABLE IF NOT EXISTS " + table + " (\n" +
		"\t`route` varchar(255) NOT NULL,\n" +
		"\t`record_id` varchar(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,\n" +
		"\t`written_at` bigint NOT NULL,\n" +
		"\tPRIMARY KEY (`route`, `record_id`))"
}

// denied: 1044 access denied to a database, 1142 command denied on a
// table.
func (mysqlDialect) denied(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1044 || me.Number == 1142)
}

// classify: lock wait timeouts (1205), deadlocks (1213), too many
// connections (1040), shutdowns (1053), gone-away or lost connections
// (2006, 2013, ErrInvalidConn, driver.ErrBadConn) and read-only failover
// (1290, 1792) are transient; other server errors are permanent.
func (mysqlDialect) classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1205, 1213, 1040, 1053, 1290, 1792, 1927, 2006, 2013, 3024, 1969:
			return transient(err)
		}
		return &PermanentError{Index: -1, Err: err}
	}
	if connectionLost(err) || errors.Is(err, mysql.ErrInvalidConn) || strings.Contains(err.Error(), "invalid connection") {
		return transient(err)
	}
	return &PermanentError{Index: -1, Err: err}
}
