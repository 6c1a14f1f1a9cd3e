package sink

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/arus-platform/arus/store"
)

// Defaults of Config.
const (
	DefaultMaxOpenConns     = 4
	DefaultStatementTimeout = 30 * time.Second
	DefaultBookkeepingTable = "arus_relay_positions"
	DefaultRecordsTable     = "arus_relay_records"
	DefaultRecordRetention  = 48 * time.Hour
)

// maxRecordIDLen bounds the record ids kept in the records table; longer
// ones (not arus ids) are not checked.
const maxRecordIDLen = 128

// Validate fills in defaults and checks the configuration.
func (c *Config) Validate() error {
	if c.DSN == "" {
		return errors.New("sink: config: DSN is required")
	}
	if c.MaxOpenConns < 0 || c.StatementTimeout < 0 || c.RecordRetention < 0 {
		return errors.New("sink: config: MaxOpenConns, StatementTimeout and RecordRetention may not be negative")
	}
	if c.MaxOpenConns == 0 {
		c.MaxOpenConns = DefaultMaxOpenConns
	}
	if c.StatementTimeout == 0 {
		c.StatementTimeout = DefaultStatementTimeout
	}
	if c.BookkeepingTable == "" {
		c.BookkeepingTable = DefaultBookkeepingTable
	}
	if err := checkIdent(c.BookkeepingTable); err != nil {
		return fmt.Errorf("sink: config: BookkeepingTable: %w", err)
	}
	if c.RecordsTable == "" {
		c.RecordsTable = DefaultRecordsTable
	}
	if err := checkIdent(c.RecordsTable); err != nil {
		return fmt.Errorf("sink: config: RecordsTable: %w", err)
	}
	if c.RecordRetention == 0 {
		c.RecordRetention = DefaultRecordRetention
	}
	return nil
}

// DB is a Sink over database/sql for one of the dialects: Postgres,
// MySQL (and MariaDB), SQLite or SQLServer.
type DB struct {
	d         dialect
	db        *sql.DB
	cfg       Config
	positions string // the quoted bookkeeping table
	records   string // the quoted records table

	mu     sync.Mutex
	routes map[string]*route
}

var _ Sink = (*DB)(nil)

// route is what Prepare learned about a route, used by every Write.
type route struct {
	target    Target
	table     string             // quoted, schema-qualified
	columns   map[string]colType // every column of the table
	mapped    map[string]bool    // the columns a change may carry: key and mapped
	key       []string           // as given
	guarantee Guarantee
	// once: an insert-only route keeping its records' ids (ExactlyOnce).
	once bool

	pruneMu  sync.Mutex
	prunedAt time.Time // when the route's old record ids were last deleted
}

// Open connects to a destination of the named dialect (Postgres, MySQL,
// "mariadb", SQLite, SQLServer) and checks that it answers.
func Open(ctx context.Context, dialectName string, cfg Config) (*DB, error) {
	d, err := lookupDialect(dialectName)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	db, err := openDB(d, d.dsn(cfg.DSN), cfg.Dial)
	if err != nil {
		return nil, fmt.Errorf("sink: open %s: %w", d.name(), err)
	}
	db.SetMaxOpenConns(cfg.MaxOpenConns)
	db.SetMaxIdleConns(cfg.MaxOpenConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &DB{d: d, db: db, cfg: cfg, positions: d.quote(cfg.BookkeepingTable), records: d.quote(cfg.RecordsTable), routes: map[string]*route{}}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if md, ok := d.(mysqlDialect); ok {
		if s.d, err = md.withServer(ctx, db); err != nil {
			db.Close()
			return nil, fmt.Errorf("sink: open %s: server version: %w", d.name(), d.classify(err))
		}
	}
	return s, nil
}

// Dialect is the name of the destination's dialect.
func (s *DB) Dialect() string { return s.d.name() }

// Ping checks that the database answers a query.
func (s *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StatementTimeout)
	defer cancel()
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sink: ping %s: %w", s.d.name(), s.d.classify(err))
	}
	return nil
}

// Close closes the connections.
func (s *DB) Close() error { return s.db.Close() }

// Catalog lists the tables the account sees, with columns and keys; the
// bookkeeping table is left out.
func (s *DB) Catalog(ctx context.Context) ([]TableInfo, error) {
	tables, err := s.d.catalog(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("sink: catalogue of %s: %w", s.d.name(), s.d.classify(err))
	}
	return slices.DeleteFunc(tables, func(t TableInfo) bool {
		return t.Name == s.cfg.BookkeepingTable || t.Name == s.cfg.RecordsTable
	}), nil
}

// Prepare checks the route's target against the catalogue, creates the
// bookkeeping table when it can and returns the route's guarantee and
// committed positions. columns are the columns the route maps; each must
// exist in the table. Prepare may be called again for the same route (after
// the table changed, say); it replaces what the route knew.
func (s *DB) Prepare(ctx context.Context, name string, t Target, columns []string) (Guarantee, map[int32]int64, error) {
	if name == "" || len(name) > 255 || !utf8.ValidString(name) {
		return 0, nil, fmt.Errorf("sink: route name %.20q... must be 1 to 255 bytes of UTF-8", name)
	}
	if t.Mode != Upsert && t.Mode != Insert {
		return 0, nil, fmt.Errorf("sink: route %s: mode must be upsert or insert, not %s", name, t.Mode)
	}
	names := append([]string{t.Table.Name}, append(slices.Clone(t.Key), columns...)...)
	if t.Table.Schema != "" {
		names = append(names, t.Table.Schema)
	}
	for _, n := range names {
		if err := checkIdent(n); err != nil {
			return 0, nil, fmt.Errorf("sink: route %s: %w", name, err)
		}
	}
	if t.Mode == Upsert && len(t.Key) == 0 {
		return 0, nil, fmt.Errorf("sink: route %s: upsert needs key columns", name)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StatementTimeout)
	defer cancel()
	schema := t.Table.Schema
	if schema == "" {
		var err error
		if schema, err = s.d.defaultSchema(ctx, s.db); err != nil {
			return 0, nil, fmt.Errorf("sink: route %s: default schema: %w", name, s.d.classify(err))
		}
	}
	tables, err := s.Catalog(ctx)
	if err != nil {
		return 0, nil, err
	}
	i := slices.IndexFunc(tables, func(ti TableInfo) bool { return ti.Schema == schema && ti.Name == t.Table.Name })
	if i < 0 {
		return 0, nil, fmt.Errorf("sink: route %s: table %s.%s does not exist", name, schema, t.Table.Name)
	}
	info := tables[i]
	r := &route{target: t, key: t.Key, columns: map[string]colType{}, mapped: map[string]bool{}}
	r.table = s.d.quote(info.Name)
	if s.d.name() != SQLite || info.Schema != "main" {
		r.table = s.d.quote(info.Schema) + "." + r.table
	}
	for _, c := range info.Columns {
		r.columns[c.Name] = parseType(s.d.name(), c.Type)
	}
	for _, c := range append(slices.Clone(t.Key), columns...) {
		if _, ok := r.columns[c]; !ok {
			return 0, nil, fmt.Errorf("sink: route %s: table %s.%s has no column %q", name, schema, info.Name, c)
		}
		r.mapped[c] = true
	}
	if t.Mode == Upsert && !sameSet(t.Key, info.Key) {
		// ON CONFLICT needs a unique index on exactly these columns; the
		// primary key is the one the catalogue tells about.
		if s.d.name() != MySQL {
			return 0, nil, fmt.Errorf("sink: route %s: key %v is not the primary key %v of %s", name, t.Key, info.Key, info.Name)
		}
	}
	r.guarantee, err = s.preparePositions(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("sink: route %s: %w", name, err)
	}
	if r.guarantee == ExactlyOnce && t.Mode == Insert {
		if r.guarantee, err = s.prepareRecords(ctx); err != nil {
			return 0, nil, fmt.Errorf("sink: route %s: %w", name, err)
		}
		r.once = r.guarantee == ExactlyOnce
	}
	committed := map[int32]int64{}
	if r.guarantee == ExactlyOnce {
		if committed, err = s.loadPositions(ctx, s.db, name, ""); err != nil {
			return 0, nil, fmt.Errorf("sink: route %s: positions: %w", name, s.d.classify(err))
		}
	}
	s.mu.Lock()
	s.routes[name] = r
	s.mu.Unlock()
	return r.guarantee, committed, nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// preparePositions makes sure the bookkeeping table exists: it is there
// already, or the account may create it. Otherwise routes run
// at-least-once.
func (s *DB) preparePositions(ctx context.Context) (Guarantee, error) {
	probe := "SELECT committed_offset FROM " + s.positions + " WHERE 1=0"
	if _, err := s.db.ExecContext(ctx, probe); err == nil {
		return ExactlyOnce, nil
	}
	if _, err := s.db.ExecContext(ctx, s.d.createPositions(s.positions)); err != nil {
		if s.d.denied(err) {
			return AtLeastOnce, nil
		}
		return 0, fmt.Errorf("create %s: %w", s.cfg.BookkeepingTable, s.d.classify(err))
	}
	return ExactlyOnce, nil
}

// prepareRecords makes sure the records table exists, as
// preparePositions does the bookkeeping table.
func (s *DB) prepareRecords(ctx context.Context) (Guarantee, error) {
	probe := "SELECT " + s.d.quote("written_at") + " FROM " + s.records + " WHERE 1=0"
	if _, err := s.db.ExecContext(ctx, probe); err == nil {
		return ExactlyOnce, nil
	}
	if _, err := s.db.ExecContext(ctx, s.d.createRecords(s.records)); err != nil {
		if s.d.denied(err) {
			return AtLeastOnce, nil
		}
		return 0, fmt.Errorf("create %s: %w", s.cfg.RecordsTable, s.d.classify(err))
	}
	return ExactlyOnce, nil
}

// loadPositions reads a route's committed positions: of every partition, or
// only of partitions when given. suffix locks the rows (FOR UPDATE).
func (s *DB) loadPositions(ctx context.Context, q store.Querier, name, suffix string, partitions ...int32) (map[int32]int64, error) {
	query := "SELECT " + s.d.quote("partition") + ", committed_offset FROM " + s.positions + " WHERE route = " + s.d.placeholder(1)
	args := []any{name}
	if len(partitions) > 0 {
		ph := make([]string, len(partitions))
		for i, p := range partitions {
			ph[i] = s.d.placeholder(i + 2)
			args = append(args, int64(p))
		}
		query += " AND " + s.d.quote("partition") + " IN (" + strings.Join(ph, ", ") + ")"
	}
	if suffix != "" {
		query += " " + suffix
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int32]int64{}
	for rows.Next() {
		var p int32
		var o int64
		if err := rows.Scan(&p, &o); err != nil {
			return nil, err
		}
		out[p] = o
	}
	return out, rows.Err()
}

// Write applies a batch in one transaction; see Sink.
func (s *DB) Write(ctx context.Context, name string, t Target, batch []Change) error {
	s.mu.Lock()
	r := s.routes[name]
	s.mu.Unlock()
	if r == nil {
		return fmt.Errorf("sink: route %s was not prepared", name)
	}
	if r.target.Table != t.Table || r.target.Mode != t.Mode || !slices.Equal(r.target.Key, t.Key) {
		return fmt.Errorf("sink: route %s: target differs from the prepared one; prepare it again", name)
	}
	changes, err := r.coerceBatch(batch)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StatementTimeout)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, s.d.txOptions())
	if err != nil {
		return fmt.Errorf("sink: route %s: begin: %w", name, s.d.classify(err))
	}
	defer tx.Rollback()
	if err := s.writeTx(ctx, tx, name, r, batch, changes); err != nil {
		return fmt.Errorf("sink: route %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sink: route %s: commit: %w", name, s.d.classify(err))
	}
	if r.once {
		s.pruneRecords(ctx, name, r)
	}
	return nil
}

func (s *DB) writeTx(ctx context.Context, tx *sql.Tx, name string, r *route, batch []Change, changes []pending) error {
	var next map[int32]int64
	if r.guarantee == ExactlyOnce {
		// Lock only the partitions of this batch: a partition has one
		// owner at a time, and batches of other partitions of the route
		// must not wait on (or deadlock with) this one.
		var parts []int32
		for _, c := range batch {
			if !slices.Contains(parts, c.Pos.Partition) {
				parts = append(parts, c.Pos.Partition)
			}
		}
		slices.Sort(parts)
		committed, err := s.loadPositions(ctx, tx, name, s.d.lockSuffix(), parts...)
		if err != nil {
			return fmt.Errorf("positions: %w", s.d.classify(err))
		}
		next = map[int32]int64{}
		changes = slices.DeleteFunc(changes, func(c pending) bool {
			pos := batch[c.index].Pos
			if o, ok := committed[pos.Partition]; ok && pos.Offset <= o {
				return true
			}
			if o, ok := next[pos.Partition]; !ok || pos.Offset > o {
				next[pos.Partition] = pos.Offset
			}
			return false
		})
	}
	var ids []string
	if r.once {
		var err error
		if changes, ids, err = s.dropWritten(ctx, tx, name, batch, changes); err != nil {
			return err
		}
	}
	groups, err := collapse(r.target, changes)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if err := s.writeGroup(ctx, tx, r, g); err != nil {
			return err
		}
	}
	if err := s.rememberRecords(ctx, tx, name, ids); err != nil {
		return err
	}
	if len(next) == 0 {
		return nil
	}
	parts := make([]int32, 0, len(next))
	for p := range next {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	cols := []string{s.d.quote("route"), s.d.quote("partition"), s.d.quote("committed_offset"), s.d.quote("updated_at")}
	args := make([]any, 0, 4*len(parts))
	now := time.Now().UTC()
	for _, p := range parts {
		args = append(args, name, int64(p), next[p], now)
	}
	q := s.d.upsert(s.positions, cols, cols[:2], len(parts))
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("advance positions: %w", s.d.classify(err))
	}
	return nil
}

// maxCompositeDeleteRows bounds the rows of one DELETE by a composite key.
const maxCompositeDeleteRows = 1000

func (s *DB) writeGroup(ctx context.Context, tx *sql.Tx, r *route, g group) error {
	quoted := make([]string, len(g.columns))
	for i, c := range g.columns {
		quoted[i] = s.d.quote(c)
	}
	qkey := make([]string, len(r.key))
	for i, c := range r.key {
		qkey[i] = s.d.quote(c)
	}
	limit := s.d.maxParams()
	if g.op == Delete && len(g.columns) > 1 {
		// Long row-value lists and OR chains are parsed recursively
		// (PostgreSQL runs out of stack near 20,000): keep them short.
		limit = min(limit, maxCompositeDeleteRows*len(g.columns))
	}
	for _, ch := range chunks(len(g.changes), len(g.columns), limit) {
		rows := g.changes[ch[0]:ch[1]]
		args := make([]any, 0, len(rows)*len(g.columns))
		for _, c := range rows {
			for _, col := range g.columns {
				args = append(args, c.row[col])
			}
		}
		var q string
		switch g.op {
		case Upsert:
			q = s.d.upsert(r.table, quoted, qkey, len(rows))
		case Insert:
			q = s.d.insert(r.table, quoted, len(rows))
		case Delete:
			q = s.d.delete(r.table, qkey, len(rows))
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			err = s.d.classify(err)
			var pe *PermanentError
			if errors.As(err, &pe) && len(rows) == 1 {
				pe.Index = rows[0].index
			}
			return fmt.Errorf("%s %d rows: %w", g.op, len(rows), err)
		}
	}
	return nil
}

// coerceBatch converts every value of the batch to its column's type, and
// applies the target's mode to each change's op.
func (r *route) coerceBatch(batch []Change) ([]pending, error) {
	out := make([]pending, 0, len(batch))
	for i, c := range batch {
		op := r.target.Mode
		switch c.Op {
		case Delete:
			op = Delete
		case Upsert, Insert:
		default:
			return nil, &PermanentError{Index: i, Err: fmt.Errorf("change %d has no op", i)}
		}
		row := make(map[string]any, len(c.Row))
		for col, v := range c.Row {
			if op == Delete && !slices.Contains(r.key, col) {
				continue
			}
			ct, ok := r.columns[col]
			if !ok {
				return nil, &PermanentError{Index: i, Err: fmt.Errorf("the table has no column %q", col)}
			}
			if !r.mapped[col] {
				return nil, &PermanentError{Index: i, Err: fmt.Errorf("column %q is not mapped by the route", col)}
			}
			cv, err := ct.coerce(v)
			if err != nil {
				return nil, &ValueError{Index: i, Column: col, Type: ct.name, Value: v, Reason: err.Error()}
			}
			row[col] = cv
		}
		if len(row) == 0 {
			return nil, &PermanentError{Index: i, Err: fmt.Errorf("change %d has no columns", i)}
		}
		out = append(out, pending{index: i, op: op, row: row})
	}
	return out, nil
}

// dropWritten leaves out the inserts of an insert-only route whose record
// the route wrote before (its id is in the records table) or that repeat
// a record of the batch, and returns the ids of the inserts left.
func (s *DB) dropWritten(ctx context.Context, tx *sql.Tx, name string, batch []Change, changes []pending) ([]pending, []string, error) {
	seen := map[string]bool{}
	var ids []string
	changes = slices.DeleteFunc(changes, func(c pending) bool {
		id := batch[c.index].RecordID
		if c.op != Insert || id == "" || len(id) > maxRecordIDLen {
			return false
		}
		if seen[id] {
			return true
		}
		seen[id] = true
		ids = append(ids, id)
		return false
	})
	if len(ids) == 0 {
		return changes, nil, nil
	}
	// collect adds the ids a query answers to into.
	collect := func(into map[string]bool, query string, args ...any) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("written records: %w", s.d.classify(err))
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return fmt.Errorf("written records: %w", s.d.classify(err))
			}
			into[id] = true
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("written records: %w", s.d.classify(err))
		}
		return nil
	}
	if c, ok := s.d.(claimer); ok {
		// Claim the ids at once: those the insert returns are new (and
		// remembered already), the others were written before.
		claimed := map[string]bool{}
		if err := collect(claimed, c.claimRecords(s.records), name, ids, time.Now().UnixMilli()); err != nil {
			return nil, nil, err
		}
		changes = slices.DeleteFunc(changes, func(c pending) bool {
			id := batch[c.index].RecordID
			return c.op == Insert && seen[id] && !claimed[id]
		})
		return changes, nil, nil
	}
	written := map[string]bool{}
	where := "SELECT " + s.d.quote("record_id") + " FROM " + s.records + " WHERE " + s.d.quote("route") + " = " + s.d.placeholder(1) + " AND "
	for _, ch := range chunks(len(ids), 1, s.d.maxParams()-1) {
		part := ids[ch[0]:ch[1]]
		ph := make([]string, len(part))
		args := make([]any, 0, len(part)+1)
		args = append(args, name)
		for i, id := range part {
			ph[i] = s.d.placeholder(i + 2)
			args = append(args, id)
		}
		if err := collect(written, where+s.d.quote("record_id")+" IN ("+strings.Join(ph, ", ")+")", args...); err != nil {
			return nil, nil, err
		}
	}
	if len(written) == 0 {
		return changes, ids, nil
	}
	changes = slices.DeleteFunc(changes, func(c pending) bool { return c.op == Insert && written[batch[c.index].RecordID] })
	ids = slices.DeleteFunc(ids, func(id string) bool { return written[id] })
	return changes, ids, nil
}

// rememberRecords adds the ids of the records an insert-only route wrote
// to the records table, in the batch's transaction.
func (s *DB) rememberRecords(ctx context.Context, tx *sql.Tx, name string, ids []string) error {
	cols := []string{s.d.quote("route"), s.d.quote("record_id"), s.d.quote("written_at")}
	now := time.Now().UnixMilli()
	for _, ch := range chunks(len(ids), len(cols), s.d.maxParams()) {
		part := ids[ch[0]:ch[1]]
		args := make([]any, 0, len(cols)*len(part))
		for _, id := range part {
			args = append(args, name, id, now)
		}
		if _, err := tx.ExecContext(ctx, s.d.insert(s.records, cols, len(part)), args...); err != nil {
			return fmt.Errorf("remember written records: %w", s.d.classify(err))
		}
	}
	return nil
}

// pruneRecords deletes the route's record ids older than RecordRetention,
// at most once a tenth of it. It is housekeeping: a failure is left for
// the next time.
func (s *DB) pruneRecords(ctx context.Context, name string, r *route) {
	if !r.pruneMu.TryLock() {
		return
	}
	defer r.pruneMu.Unlock()
	now := time.Now()
	if now.Sub(r.prunedAt) < s.cfg.RecordRetention/10 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StatementTimeout)
	defer cancel()
	_, err := s.db.ExecContext(ctx, "DELETE FROM "+s.records+" WHERE "+s.d.quote("route")+" = "+s.d.placeholder(1)+
		" AND "+s.d.quote("written_at")+" < "+s.d.placeholder(2),
		name, now.Add(-s.cfg.RecordRetention).UnixMilli())
	if err == nil {
		r.prunedAt = now
	}
}
