package sink

import (
	"context"
	"database/sql"
	"net"
	"net/url"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	mssql "github.com/microsoft/go-mssqldb"
)

// dialFunc makes a network connection; see Config.Dial.
type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// openDB opens the dialect's driver on dsn; with dial, every network
// connection the driver makes goes through it. SQLite reaches no network
// and ignores dial.
func openDB(d dialect, dsn string, dial dialFunc) (*sql.DB, error) {
	if dial == nil {
		return sql.Open(d.driver(), dsn)
	}
	switch d.driver() {
	case "pgx":
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, err
		}
		// pgx resolves the host itself and dials each address in turn, so
		// dial sees addresses; fallback hosts are dialled the same way.
		cfg.DialFunc = dial
		// The password is the DSN's, even an empty one: pgx would fill an
		// empty one from the server's own password file or PGPASSWORD,
		// which must never be sent to a destination.
		cfg.Password = dsnPassword(dsn)
		return stdlib.OpenDB(*cfg), nil
	case "mysql":
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, err
		}
		cfg.DialFunc = dial
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, err
		}
		return sql.OpenDB(c), nil
	case "sqlserver":
		c, err := mssql.NewConnector(dsn)
		if err != nil {
			return nil, err
		}
		c.Dialer = dialer(dial)
		return sql.OpenDB(c), nil
	}
	return sql.Open(d.driver(), dsn)
}

// dsnPassword is the password written in a URL DSN, or none.
func dsnPassword(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return ""
	}
	pw, _ := u.User.Password()
	return pw
}

// dialer is a dialFunc as go-mssqldb's Dialer.
type dialer dialFunc

func (f dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return f(ctx, network, addr)
}
