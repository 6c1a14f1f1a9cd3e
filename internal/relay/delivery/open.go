package delivery

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/sink"
)

// OpenSink opens a destination as a SQL sink of its kind, with the
// password put into the connection string (it is never stored there). It
// is the default of Config.Open.
func OpenSink(ctx context.Context, d relay.Destination, password string) (sink.Sink, error) {
	dsn, err := DSN(d, password)
	if err != nil {
		return nil, err
	}
	s, err := sink.Open(ctx, d.Kind, sink.Config{DSN: dsn})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// DSN builds the driver connection string of a destination: its DSN, or
// its connection fields, with password added.
func DSN(d relay.Destination, password string) (string, error) {
	switch d.Kind {
	case relay.KindSQLite:
		if d.DSN != "" {
			return d.DSN, nil
		}
		return d.Database, nil
	case relay.KindPostgres:
		if d.DSN != "" {
			return withURLPassword(d.DSN, password)
		}
		return fieldsURL("postgres", d, 5432, password, "", d.Database), nil
	case relay.KindSQLServer:
		if d.DSN != "" {
			return withURLPassword(d.DSN, password)
		}
		return fieldsURL("sqlserver", d, 1433, password, "database", d.Database), nil
	case relay.KindMySQL:
		var cfg *mysql.Config
		if d.DSN != "" {
			var err error
			if cfg, err = mysql.ParseDSN(d.DSN); err != nil {
				return "", fmt.Errorf("delivery: destination %s: DSN: %w", d.Name, err)
			}
		} else {
			port := d.Port
			if port == 0 {
				port = 3306
			}
			q := url.Values{}
			for k, v := range d.Options {
				q.Set(k, v)
			}
			raw := d.User + "@tcp(" + net.JoinHostPort(d.Host, strconv.Itoa(port)) + ")/" + d.Database
			if len(q) > 0 {
				raw += "?" + q.Encode()
			}
			var err error
			if cfg, err = mysql.ParseDSN(raw); err != nil {
				return "", fmt.Errorf("delivery: destination %s: %w", d.Name, err)
			}
		}
		if password != "" {
			cfg.Passwd = password
		}
		return cfg.FormatDSN(), nil
	}
	return "", fmt.Errorf("delivery: destination %s: unknown kind %q", d.Name, d.Kind)
}

// withURLPassword sets the password of a URL DSN; a key=value DSN gets a
// password=... pair.
func withURLPassword(dsn, password string) (string, error) {
	if password == "" {
		return dsn, nil
	}
	if !strings.Contains(dsn, "://") {
		return dsn + " password='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(password) + "'", nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("delivery: DSN is not a URL: %w", err)
	}
	user := ""
	if u.User != nil {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, password)
	return u.String(), nil
}

func fieldsURL(scheme string, d relay.Destination, defPort int, password, dbParam, db string) string {
	port := d.Port
	if port == 0 {
		port = defPort
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(d.Host, strconv.Itoa(port))}
	if password != "" {
		u.User = url.UserPassword(d.User, password)
	} else {
		u.User = url.User(d.User)
	}
	q := url.Values{}
	for k, v := range d.Options {
		q.Set(k, v)
	}
	if dbParam != "" {
		q.Set(dbParam, db)
	} else {
		u.Path = "/" + db
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Tester reaches destinations for the relay's admin API (relay.Tester):
// it opens the destination with OpenSink, which pings it, does its work
// and closes it again.
type Tester struct{}

var _ relay.Tester = Tester{}

// Test opens and pings the destination.
func (Tester) Test(ctx context.Context, d relay.Destination, password string) error {
	s, err := OpenSink(ctx, d, password)
	if err != nil {
		return err
	}
	return s.Close()
}

// Catalog opens the destination and lists its tables.
func (Tester) Catalog(ctx context.Context, d relay.Destination, password string) ([]sink.TableInfo, error) {
	s, err := OpenSink(ctx, d, password)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Catalog(ctx)
}
