package relay

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	mssql "github.com/microsoft/go-mssqldb"
	"modernc.org/sqlite"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/relay/sink"
	"github.com/arus-platform/arus/invalid"
)

// checkDestination applies the server's rules to a destination: its DSN
// read into a target, its options against the dialect's allowlist, its
// host against the host policy and, for SQLite, its file inside the
// SQLite directory. Every problem goes into ve. It returns the target and,
// for SQLite, the file's path and whether it exists.
func (r *Relay) checkDestination(ve *invalid.Fields, d Destination) (t target, path string, exists bool) {
	t = parseTarget(ve, d)
	if d.Kind == KindSQLite {
		var msg string
		if path, exists, msg = r.sqlite.resolve(d.Database); msg != "" {
			ve.Add("database", "%s", msg)
		}
		return t, path, exists
	}
	if t.host != "" {
		if msg := r.hosts.checkName(t.host); msg != "" {
			field := "host"
			if d.DSN != "" {
				field = "dsn"
			}
			ve.Add(field, "%s", msg)
		}
	}
	return t, "", false
}

// checkInput validates in as a whole: its fields, then the server's rules
// (checkDestination). A missing SQLite file is an error unless in.Create
// asks for it, in which case it is created, empty, inside the directory.
func (r *Relay) checkInput(in *DestinationInput, create bool) (target, error) {
	ve := invalid.Fields{Kind: ErrInvalid}
	if err := in.validate(create); err != nil {
		var shape *invalid.Fields
		if !errors.As(err, &shape) {
			return target{}, err
		}
		ve.List = append(ve.List, shape.List...)
	}
	if !slices.Contains(kinds, in.Kind) {
		return target{}, ve.Err()
	}
	t, path, exists := r.checkDestination(&ve, in.destination(""))
	if err := ve.Err(); err != nil {
		return target{}, err
	}
	if in.Kind == KindSQLite && !exists {
		if !in.Create {
			ve.Add("database", "there is no file %q in the server's SQLite directory; set create to make a new database there", in.Database)
			return target{}, &ve
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil && !errors.Is(err, os.ErrExist) {
			ve.Add("database", "the file could not be created: %v", errors.Unwrap(err))
			return target{}, &ve
		}
		if f != nil {
			_ = f.Close()
		}
	}
	return t, nil
}

// OpenDestination opens the destination as a SQL sink, which pings it,
// with its password. Every rule a destination is saved under is applied
// again (options, host, SQLite directory), so one saved under older rules
// is refused rather than reached, and network connections go only to
// addresses the host policy allows, checked after the name is resolved.
func (r *Relay) OpenDestination(ctx context.Context, d Destination, password string) (*sink.DB, error) {
	ve := invalid.Fields{Kind: ErrInvalid}
	t, path, exists := r.checkDestination(&ve, d)
	if err := ve.Err(); err != nil {
		return nil, fmt.Errorf("relay: destination %s: %w", d.Name, err)
	}
	if d.Kind == KindSQLite {
		if !exists {
			return nil, fmt.Errorf("relay: destination %s: the SQLite file %s does not exist", d.Name, d.Database)
		}
		return sink.Open(ctx, d.Kind, sink.Config{DSN: sqliteDSN(path, false, t.options)})
	}
	if password == "" && d.Kind == KindSQLServer {
		return nil, fmt.Errorf("relay: destination %s has no stored password; save it again with its password", d.Name)
	}
	// An account without a password is opened with none: the sink gives
	// the driver the DSN's password, empty or not, so no driver sends one
	// it found by itself (a password file or the environment of the server).
	return sink.Open(ctx, d.Kind, sink.Config{DSN: dsnOf(t, password), Dial: r.hosts.dialer(t.host)})
}

// tester is the relay's own Tester: it opens the destination with
// OpenDestination, does its work and closes it again.
type tester struct{ r *Relay }

func (t tester) Test(ctx context.Context, d Destination, password string) error {
	s, err := t.r.OpenDestination(ctx, d, password)
	if err != nil {
		return err
	}
	return s.Close()
}

func (t tester) Catalog(ctx context.Context, d Destination, password string) ([]sink.TableInfo, error) {
	s, err := t.r.OpenDestination(ctx, d, password)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Catalog(ctx)
}

// FindTable finds the table t in d as a route names it: see sink.DB.FindTable.
func (t tester) FindTable(ctx context.Context, d Destination, password string, table sink.Table) (sink.TableInfo, error) {
	s, err := t.r.OpenDestination(ctx, d, password)
	if err != nil {
		return sink.TableInfo{}, err
	}
	defer s.Close()
	return s.FindTable(ctx, table)
}

// RateLimitError is a connection test refused because its principal made
// too many of them; Wait is when the next one is allowed.
type RateLimitError struct{ Wait time.Duration }

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("relay: too many connection tests; retry in %d s", e.seconds())
}

func (e *RateLimitError) seconds() int { return max(1, int(math.Ceil(e.Wait.Seconds()))) }

// allowTest takes a connection test from the bucket of the request's
// principal. Calls with no principal (the process's own) are not limited.
func (r *Relay) allowTest(ctx context.Context) error {
	p := auth.FromContext(ctx)
	if p == nil {
		return nil
	}
	id := "user:" + p.User.ID
	if p.Key != nil {
		id = "key:" + p.Key.ID
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.testBuckets[id]
	if b == nil {
		b = &bucket{rate: 1 / r.cfg.TestInterval.Seconds(), burst: float64(r.cfg.TestBurst), tokens: float64(r.cfg.TestBurst), last: r.cfg.Now()}
		r.testBuckets[id] = b
	}
	if ok, wait := b.take(r.cfg.Now(), 1); !ok {
		return &RateLimitError{Wait: wait}
	}
	return nil
}

// unreachable is the one answer for every target that did not answer as a
// database: refused, timed out, reset, or another protocol. Telling them
// apart would make the test a port scanner.
const unreachable = "could not connect: nothing at this address answered as a %s database (refused, timed out or another protocol)"

// reachError words a failed connection for the person testing it: what
// the database itself answered (a wrong password, an unknown database),
// the host policy's refusal, or the one answer for everything else.
func reachError(kind string, err error) error {
	var pg *pgconn.PgError
	var my *mysql.MySQLError
	var ms mssql.Error
	var sq *sqlite.Error
	var ve *invalid.Fields
	switch {
	case errors.As(err, &ve):
		return err
	case errors.Is(err, errAddressRefused):
		return errors.New("the host resolves to an address destinations may not reach: link-local and cloud metadata addresses are never reached, and --relay-allow-hosts limits the rest")
	case errors.As(err, &pg):
		return fmt.Errorf("the database answered: %s (SQLSTATE %s)", pg.Message, pg.Code)
	case errors.As(err, &my):
		return fmt.Errorf("the database answered: %s", my.Message)
	case errors.As(err, &ms):
		return fmt.Errorf("the database answered: %s", ms.Message)
	case errors.As(err, &sq):
		return fmt.Errorf("the database answered: %s", once(sq.Error()))
	case kind == KindSQLite:
		return errors.New(once(strings.TrimPrefix(err.Error(), "relay: ")))
	case errors.Is(err, context.Canceled):
		return err
	}
	return fmt.Errorf(unreachable, kindName(kind))
}

// once is a driver's message with a part it repeats said once
// ("unable to open database file: unable to open database file").
func once(msg string) string {
	parts := strings.Split(msg, ": ")
	out := parts[:0]
	for _, p := range parts {
		if len(out) == 0 || out[len(out)-1] != p {
			out = append(out, p)
		}
	}
	return strings.Join(out, ": ")
}

func kindName(kind string) string {
	switch kind {
	case KindPostgres:
		return "PostgreSQL"
	case KindMySQL:
		return "MySQL/MariaDB"
	case KindSQLServer:
		return "SQL Server"
	}
	return strings.ToUpper(kind)
}
