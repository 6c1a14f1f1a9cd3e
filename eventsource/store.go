package eventsource

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing/fstest"
	"time"

	"github.com/arus-platform/arus/store"
)

//go:embed migrations
var migrations embed.FS

// Expected versions with a special meaning for [Store.Append].
const (
	// AnyVersion appends whatever the stream's version is.
	AnyVersion int64 = -1
	// NoStream appends only to a stream that has no events yet.
	NoStream int64 = 0
)

// MaxStreamIDLength is the longest stream id, in bytes.
const MaxStreamIDLength = 200

// ErrConflict is matched by errors.Is for every [*ConflictError].
var ErrConflict = errors.New("eventsource: version conflict")

// ConflictError reports an append whose expected version was not the
// stream's version. Nothing was appended; the caller loads the stream
// again, decides again, and retries.
type ConflictError struct {
	StreamID string
	Expected int64
	// Actual is the stream's version when the append was refused, or -1
	// when another transaction appended the same versions concurrently and
	// the version it reached is not known.
	Actual int64
}

func (e *ConflictError) Error() string {
	if e.Actual < 0 {
		return fmt.Sprintf("eventsource: version conflict on stream %q: expected version %d, but another append wrote it concurrently", e.StreamID, e.Expected)
	}
	return fmt.Sprintf("eventsource: version conflict on stream %q: expected version %d, actual %d", e.StreamID, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Event is one fact in a stream.
//
// Callers set Type, Data and optionally Metadata and Time (the current time
// when zero); the store sets StreamID, Version and Position when the event
// is appended.
type Event struct {
	// StreamID names the aggregate the event belongs to.
	StreamID string
	// Version is the event's place in its stream: 1 for the first event,
	// without gaps.
	Version int64
	// Type names what happened, such as "held" or "sold".
	Type string
	// Data is the event's body, a JSON value.
	Data json.RawMessage
	// Metadata is optional JSON about the event (who, why, correlation).
	Metadata json.RawMessage
	Time     time.Time
	// Position is the event's place in the whole store: unique,
	// increasing, possibly with gaps. Readers by position never skip an
	// event that commits late (see the package documentation).
	Position int64
}

// Config configures a [Store].
type Config struct {
	// Name prefixes the store's tables: <Name>_events, <Name>_snapshots and
	// <Name>_checkpoints. The migrations are recorded under the component
	// <Name>_eventsource. 1 to 40 lowercase letters, digits and '_',
	// starting with a letter. Default: the database's component.
	Name string
	// PollInterval is how often [Store.RunProjection] looks for new events
	// when nothing in this process woke it. Default 200ms.
	PollInterval time.Duration
}

// DefaultPollInterval is the default of [Config.PollInterval].
const DefaultPollInterval = 200 * time.Millisecond

var tableName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// Validate checks the configuration and fills in defaults from db.
func (c *Config) Validate(db *store.DB) error {
	if c.Name == "" && db != nil {
		c.Name = db.Component
	}
	if !tableName.MatchString(c.Name) {
		return fmt.Errorf("eventsource: name %q: use 1 to 40 lowercase letters, digits and '_', starting with a letter", c.Name)
	}
	if c.PollInterval < 0 {
		return fmt.Errorf("eventsource: poll interval %s is negative", c.PollInterval)
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	return nil
}

// Store keeps event streams in a SQL database. It is safe for concurrent
// use.
type Store struct {
	db          *store.DB
	cfg         Config
	events      string
	snapshots   string
	checkpoints string
	// lockClass is the first key of the stores' advisory locks on
	// PostgreSQL: appenders of this store hold (lockClass, hash of stream).
	lockClass int32
	// settled is the position at or below which every event is visible
	// or never will be (see gaps.go).
	settled atomic.Int64

	wakeMu sync.Mutex
	wakers map[chan struct{}]struct{}
}

// Open creates or migrates the event store's tables in db.
func Open(ctx context.Context, db *store.DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("eventsource: no database")
	}
	if err := cfg.Validate(db); err != nil {
		return nil, err
	}
	if err := migrate(ctx, db, cfg.Name); err != nil {
		return nil, err
	}
	h := fnv.New32a()
	h.Write([]byte("arus.eventsource." + db.Where + "." + cfg.Name))
	return &Store{
		db:          db,
		cfg:         cfg,
		events:      cfg.Name + "_events",
		snapshots:   cfg.Name + "_snapshots",
		checkpoints: cfg.Name + "_checkpoints",
		lockClass:   int32(h.Sum32()),
		wakers:      map[chan struct{}]struct{}{},
	}, nil
}

// DB returns the database the store lives in, where read models and other
// state that commits with events belong.
func (s *Store) DB() *store.DB { return s.db }

func migrate(ctx context.Context, db *store.DB, name string) error {
	files, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("eventsource: migrations: %w", err)
	}
	fsys := fstest.MapFS{}
	for _, f := range files {
		body, err := fs.ReadFile(migrations, "migrations/"+f.Name())
		if err != nil {
			return fmt.Errorf("eventsource: migrations: %w", err)
		}
		fsys[f.Name()] = &fstest.MapFile{Data: []byte(strings.ReplaceAll(string(body), "{{name}}", name)), Mode: 0o444}
	}
	mdb := *db
	mdb.Component = name + "_eventsource"
	if err := mdb.Migrate(ctx, fsys); err != nil {
		return fmt.Errorf("eventsource: %w", err)
	}
	return nil
}

// Append appends events to a stream in a transaction of its own; see
// [Store.AppendTx].
func (s *Store) Append(ctx context.Context, streamID string, expected int64, events ...Event) ([]Event, error) {
	var out []Event
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.AppendTx(ctx, tx, streamID, expected, events...)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.wake()
	return out, nil
}

// rowsPerInsert bounds the rows of one INSERT statement, under the
// parameter limits of both dialects.
const rowsPerInsert = 500

// AppendTx appends events to a stream inside tx, so that they commit
// together with whatever else tx writes (outbox records, read models).
// expected is the version the caller's decision was based on: the number
// of events it read from the stream, [NoStream] for a new stream, or
// [AnyVersion]. When the stream is at another version AppendTx returns a
// [*ConflictError] and appends nothing; the caller rolls tx back.
//
// It returns the events as stored, with their versions and positions.
//
// On PostgreSQL AppendTx takes a transaction-level advisory lock of the
// stream, held until tx ends: appends to one stream queue behind each
// other, appends to different streams run in parallel. Commit soon after
// appending: readers of the store's positions ([Store.ReadAll],
// projections) that find a position missing wait for the transactions
// appending at that moment to end. tx must be READ COMMITTED (the
// default). On SQLite every write transaction is serialised already.
func (s *Store) AppendTx(ctx context.Context, tx *sql.Tx, streamID string, expected int64, events ...Event) ([]Event, error) {
	if err := validateAppend(streamID, expected, events); err != nil {
		return nil, err
	}
	var current int64
	if err := s.lock(ctx, tx, streamID); err != nil {
		return nil, err
	}
	if err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT COALESCE(MAX(version), 0) FROM `+s.events+` WHERE stream_id = ?`),
		streamID).Scan(&current); err != nil {
		return nil, fmt.Errorf("eventsource: append to %q: read version: %w", streamID, err)
	}
	if expected != AnyVersion && expected != current {
		return nil, &ConflictError{StreamID: streamID, Expected: expected, Actual: current}
	}
	out := stamp(streamID, current, events, time.Now())
	for start := 0; start < len(out); start += rowsPerInsert {
		if err := s.insert(ctx, tx, out[start:min(start+rowsPerInsert, len(out))]); err != nil {
			if store.IsUniqueViolation(err) {
				return nil, &ConflictError{StreamID: streamID, Expected: expected, Actual: -1}
			}
			return nil, fmt.Errorf("eventsource: append to %q: %w", streamID, err)
		}
	}
	return out, nil
}

func validateAppend(streamID string, expected int64, events []Event) error {
	switch {
	case streamID == "":
		return errors.New("eventsource: append: stream id is empty")
	case len(streamID) > MaxStreamIDLength:
		return fmt.Errorf("eventsource: append: stream id is %d bytes; the maximum is %d", len(streamID), MaxStreamIDLength)
	case expected < AnyVersion:
		return fmt.Errorf("eventsource: append to %q: expected version %d: use a version >= 0 or AnyVersion", streamID, expected)
	case len(events) == 0:
		return fmt.Errorf("eventsource: append to %q: no events", streamID)
	}
	for i, e := range events {
		if e.Type == "" {
			return fmt.Errorf("eventsource: append to %q: event %d: type is empty", streamID, i)
		}
		if len(e.Data) > 0 && !json.Valid(e.Data) {
			return fmt.Errorf("eventsource: append to %q: event %d (%s): data is not valid JSON", streamID, i, e.Type)
		}
		if len(e.Metadata) > 0 && !json.Valid(e.Metadata) {
			return fmt.Errorf("eventsource: append to %q: event %d (%s): metadata is not valid JSON", streamID, i, e.Type)
		}
	}
	return nil
}

// lock takes the stream's advisory lock on PostgreSQL (see [Store.AppendTx]).
func (s *Store) lock(ctx context.Context, tx *sql.Tx, streamID string) error {
	if s.db.Dialect != store.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, s.lockClass, lockKey(streamID)); err != nil {
		return fmt.Errorf("eventsource: append to %q: lock: %w", streamID, err)
	}
	return nil
}

func lockKey(streamID string) int32 {
	h := fnv.New32a()
	h.Write([]byte(streamID))
	return int32(h.Sum32())
}

// StreamAppend is one part of [Store.AppendStreamsTx]: events for a stream
// that must be at version Expected (or [AnyVersion]).
type StreamAppend struct {
	StreamID string
	Expected int64
	Events   []Event
}

// AppendStreamsTx appends to several streams inside tx as [Store.AppendTx]
// to each part in turn would, in fewer statements: one read of the
// streams' versions per 500 streams and one INSERT per 500 events, the
// events positioned in the order of the parts. A stream may have several
// parts; each part after the first expects the version the one before it
// left. When a stream is not at a part's expected version it returns a
// [*ConflictError] naming the stream and appends nothing; the caller rolls
// tx back. On PostgreSQL it takes the streams' advisory locks, in one
// order whatever the order of the parts, so that two such appends wait
// for each other rather than deadlock.
//
// It returns each part's events as stored, with versions and positions.
func (s *Store) AppendStreamsTx(ctx context.Context, tx *sql.Tx, parts []StreamAppend) ([][]Event, error) {
	var ids []string
	current := map[string]int64{}
	for _, p := range parts {
		if err := validateAppend(p.StreamID, p.Expected, p.Events); err != nil {
			return nil, err
		}
		if _, ok := current[p.StreamID]; !ok {
			current[p.StreamID] = 0
			ids = append(ids, p.StreamID)
		}
	}
	if s.db.Dialect == store.Postgres {
		locks := slices.Clone(ids)
		slices.SortFunc(locks, func(a, b string) int { return cmp.Or(cmp.Compare(lockKey(a), lockKey(b)), strings.Compare(a, b)) })
		for _, id := range locks {
			if err := s.lock(ctx, tx, id); err != nil {
				return nil, err
			}
		}
	}
	for start := 0; start < len(ids); start += rowsPerInsert {
		chunk := ids[start:min(start+rowsPerInsert, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := tx.QueryContext(ctx, s.db.Rebind(`SELECT stream_id, MAX(version) FROM `+s.events+
			` WHERE stream_id IN (?`+strings.Repeat(",?", len(chunk)-1)+`) GROUP BY stream_id`), args...)
		if err != nil {
			return nil, fmt.Errorf("eventsource: append: read versions: %w", err)
		}
		for rows.Next() {
			var id string
			var v int64
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return nil, fmt.Errorf("eventsource: append: read versions: %w", err)
			}
			current[id] = v
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("eventsource: append: read versions: %w", err)
		}
	}
	now := time.Now()
	out := make([][]Event, len(parts))
	var all []Event
	for i, p := range parts {
		cur := current[p.StreamID]
		if p.Expected != AnyVersion && p.Expected != cur {
			return nil, &ConflictError{StreamID: p.StreamID, Expected: p.Expected, Actual: cur}
		}
		out[i] = stamp(p.StreamID, cur, p.Events, now)
		current[p.StreamID] = cur + int64(len(p.Events))
		all = append(all, out[i]...)
	}
	for start := 0; start < len(all); start += rowsPerInsert {
		if err := s.insert(ctx, tx, all[start:min(start+rowsPerInsert, len(all))]); err != nil {
			return nil, fmt.Errorf("eventsource: append: %w", err)
		}
	}
	// insert set the positions on all, copies of the parts' events.
	k := 0
	for _, evs := range out {
		k += copy(evs, all[k:k+len(evs)])
	}
	return out, nil
}

// stamp returns events as appended to a stream at version current.
func stamp(streamID string, current int64, events []Event, now time.Time) []Event {
	out := make([]Event, len(events))
	for i, e := range events {
		e.StreamID = streamID
		e.Version = current + int64(i) + 1
		if e.Time.IsZero() {
			e.Time = now
		}
		if len(e.Data) == 0 {
			e.Data = json.RawMessage("null")
		}
		out[i] = e
	}
	return out
}

func (s *Store) insert(ctx context.Context, tx *sql.Tx, events []Event) error {
	var q strings.Builder
	q.WriteString("INSERT INTO " + s.events + " (stream_id, version, type, data, metadata, time_ns) VALUES ")
	args := make([]any, 0, len(events)*6)
	for i, e := range events {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("(?,?,?,?,?,?)")
		var meta any
		if len(e.Metadata) > 0 {
			meta = string(e.Metadata)
		}
		args = append(args, e.StreamID, e.Version, e.Type, string(e.Data), meta, e.Time.UnixNano())
	}
	q.WriteString(" RETURNING stream_id, version, position")
	rows, err := tx.QueryContext(ctx, s.db.Rebind(q.String()), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	type key struct {
		stream  string
		version int64
	}
	at := make(map[key]int, len(events))
	for i, e := range events {
		at[key{e.StreamID, e.Version}] = i
	}
	n := 0
	for rows.Next() {
		var stream string
		var version, pos int64
		if err := rows.Scan(&stream, &version, &pos); err != nil {
			return err
		}
		if i, ok := at[key{stream, version}]; ok {
			events[i].Position = pos
			n++
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n != len(events) {
		return fmt.Errorf("inserted %d events but %d positions came back", len(events), n)
	}
	return nil
}

const eventColumns = `position, stream_id, version, type, data, metadata, time_ns`

func scanEvents(rows *sql.Rows) ([]Event, error) {
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var (
			e      Event
			data   string
			meta   sql.NullString
			timeNS int64
		)
		if err := rows.Scan(&e.Position, &e.StreamID, &e.Version, &e.Type, &data, &meta, &timeNS); err != nil {
			return nil, err
		}
		e.Data = json.RawMessage(data)
		if meta.Valid {
			e.Metadata = json.RawMessage(meta.String)
		}
		e.Time = time.Unix(0, timeNS)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Load returns the events of a stream with a version above after (0 for
// the whole stream), in version order. A stream without events gives none
// and no error.
func (s *Store) Load(ctx context.Context, streamID string, after int64) ([]Event, error) {
	return s.load(ctx, s.db, streamID, after)
}

func (s *Store) load(ctx context.Context, q store.Querier, streamID string, after int64) ([]Event, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT `+eventColumns+` FROM `+s.events+
		` WHERE stream_id = ? AND version > ? ORDER BY version`), streamID, after)
	if err != nil {
		return nil, fmt.Errorf("eventsource: load %q: %w", streamID, err)
	}
	events, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("eventsource: load %q: %w", streamID, err)
	}
	return events, nil
}

// Version returns the version of a stream: the number of its events.
func (s *Store) Version(ctx context.Context, streamID string) (int64, error) {
	var v int64
	if err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT COALESCE(MAX(version), 0) FROM `+s.events+` WHERE stream_id = ?`),
		streamID).Scan(&v); err != nil {
		return 0, fmt.Errorf("eventsource: version of %q: %w", streamID, err)
	}
	return v, nil
}

// ReadAll returns up to limit events of every stream with a position above
// after, in position order, and only events that no later commit can
// precede: no event commits later at a position at or below the last one
// returned. On PostgreSQL, when a position is missing, it waits for the
// appends in flight to end (see the package documentation); it may then
// return fewer than limit events although more exist.
func (s *Store) ReadAll(ctx context.Context, after int64, limit int) ([]Event, error) {
	return s.readAll(ctx, s.db, after, limit)
}

// readRange returns up to limit visible events after a position.
func (s *Store) readRange(ctx context.Context, q store.Querier, after int64, limit int) ([]Event, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("eventsource: read all: limit %d: must be at least 1", limit)
	}
	rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT `+eventColumns+` FROM `+s.events+
		` WHERE position > ? ORDER BY position LIMIT ?`), after, limit)
	if err != nil {
		return nil, fmt.Errorf("eventsource: read all after %d: %w", after, err)
	}
	events, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("eventsource: read all after %d: %w", after, err)
	}
	return events, nil
}

// subscribe returns a channel that receives a value after an append in
// this process, until unsubscribe.
func (s *Store) subscribe() chan struct{} {
	ch := make(chan struct{}, 1)
	s.wakeMu.Lock()
	s.wakers[ch] = struct{}{}
	s.wakeMu.Unlock()
	return ch
}

func (s *Store) unsubscribe(ch chan struct{}) {
	s.wakeMu.Lock()
	delete(s.wakers, ch)
	s.wakeMu.Unlock()
}

// Notify wakes this process's running projections. [Store.Append] and
// [Store.AppendPublish] call it after they commit; a caller of
// [Store.AppendTx] calls it after committing tx, or the projections see
// the events at their next poll.
func (s *Store) Notify() { s.wake() }

func (s *Store) wake() {
	s.wakeMu.Lock()
	for ch := range s.wakers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	s.wakeMu.Unlock()
}
