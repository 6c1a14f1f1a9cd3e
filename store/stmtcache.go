package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
)

// stmtCacheSize bounds the statements kept prepared on one SQLite
// connection. A query met once the cache is full is prepared for the call
// alone, as without a cache.
const stmtCacheSize = 512

// cachingConnector opens SQLite connections that keep their prepared
// statements. The SQLite driver prepares (parses and plans) every statement
// it runs anew; a component runs a few dozen statements over and over, and
// parsing them took a sixth of the CPU of a busy server.
type cachingConnector struct {
	dsn string
	drv driver.Driver
}

// sqliteDriver is the SQLite driver registered as "sqlite", with whatever
// was registered on it.
func sqliteDriver() (driver.Driver, error) {
	db, err := sql.Open("sqlite", "")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.Driver(), nil
}

func (c cachingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &cachingConn{conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

func (c cachingConnector) Driver() driver.Driver { return c.drv }

// sqliteConn is what database/sql uses of the SQLite driver's connection.
// cachingConn offers no ExecContext and QueryContext, so database/sql
// prepares every statement through PrepareContext, which answers from the
// cache.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is one SQLite connection with its prepared statements by
// query text. database/sql uses a connection from one goroutine at a time,
// statements and rows included.
type cachingConn struct {
	conn  driver.Conn
	stmts map[string]*cachedStmt
}

func (c *cachingConn) sqlite() (sqliteConn, error) {
	sc, ok := c.conn.(sqliteConn)
	if !ok {
		return nil, errors.New("store: the SQLite driver's connection lacks a method database/sql needs")
	}
	return sc, nil
}

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if s, ok := c.stmts[query]; ok && !s.inUse {
		s.inUse = true
		return s, nil
	}
	sc, err := c.sqlite()
	if err != nil {
		return nil, err
	}
	ds, err := sc.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s := &cachedStmt{stmt: ds, inUse: true}
	if _, taken := c.stmts[query]; !taken && len(c.stmts) < stmtCacheSize {
		s.cached = true
		c.stmts[query] = s
	}
	return s, nil
}

func (c *cachingConn) Close() error {
	var errs []error
	for q, s := range c.stmts {
		errs = append(errs, s.stmt.Close())
		delete(c.stmts, q)
	}
	errs = append(errs, c.conn.Close())
	return errors.Join(errs...)
}

func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	sc, err := c.sqlite()
	if err != nil {
		return nil, err
	}
	return sc.BeginTx(ctx, opts)
}

func (c *cachingConn) Ping(ctx context.Context) error {
	sc, err := c.sqlite()
	if err != nil {
		return err
	}
	return sc.Ping(ctx)
}

func (c *cachingConn) ResetSession(ctx context.Context) error {
	sc, err := c.sqlite()
	if err != nil {
		return err
	}
	return sc.ResetSession(ctx)
}

func (c *cachingConn) IsValid() bool {
	sc, err := c.sqlite()
	return err == nil && sc.IsValid()
}

// cachedStmt is a prepared statement that its connection keeps. database/sql
// closes a statement once it ran (or once its rows are closed); a cached one
// then only becomes free for the next call. A statement asked for while its
// rows are still open is prepared again for that call.
type cachedStmt struct {
	stmt   driver.Stmt
	cached bool
	inUse  bool
}

// sqliteStmt is what database/sql uses of the SQLite driver's statement.
type sqliteStmt interface {
	driver.StmtExecContext
	driver.StmtQueryContext
}

func (s *cachedStmt) Close() error {
	s.inUse = false
	if s.cached {
		return nil
	}
	return s.stmt.Close()
}

func (s *cachedStmt) NumInput() int { return s.stmt.NumInput() }

func (s *cachedStmt) Exec(args []driver.Value) (driver.Result, error) {
	//lint:ignore SA1019 database/sql calls ExecContext; Exec completes driver.Stmt
	return s.stmt.Exec(args)
}

func (s *cachedStmt) Query(args []driver.Value) (driver.Rows, error) {
	//lint:ignore SA1019 database/sql calls QueryContext; Query completes driver.Stmt
	return s.stmt.Query(args)
}

func (s *cachedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	ss, ok := s.stmt.(sqliteStmt)
	if !ok {
		return nil, errors.New("store: the SQLite driver's statement lacks ExecContext")
	}
	return ss.ExecContext(ctx, args)
}

func (s *cachedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	ss, ok := s.stmt.(sqliteStmt)
	if !ok {
		return nil, errors.New("store: the SQLite driver's statement lacks QueryContext")
	}
	return ss.QueryContext(ctx, args)
}
