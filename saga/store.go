package saga

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// row is a stored instance with its outbox slot.
type row struct {
	ID, Name string
	State    State
	Step     int
	Data     []byte
	Error    string
	Version  int64
	Pending  bool
	Out      outgoing
	Attempts int
	Deadline int64 // unix µs, 0 for none
	Created  int64
	Updated  int64
}

// outgoing is the record in an instance's outbox slot.
type outgoing struct {
	Kind    string
	ID      string
	Topic   string
	Key     []byte
	Value   []byte
	Headers string // JSON of []stream.Header
}

func newOutgoing(r *stream.Record, kind string) (outgoing, error) {
	h, err := json.Marshal(r.Headers)
	if err != nil {
		return outgoing{}, fmt.Errorf("encode headers: %w", err)
	}
	return outgoing{Kind: kind, ID: r.ID(), Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: string(h)}, nil
}

func (o outgoing) record() (*stream.Record, error) {
	r := &stream.Record{Topic: o.Topic, Key: o.Key, Value: o.Value}
	if err := json.Unmarshal([]byte(o.Headers), &r.Headers); err != nil {
		return nil, fmt.Errorf("decode headers of record %s: %w", o.ID, err)
	}
	return r, nil
}

const rowColumns = `id, name, state, step, data, error, version, pending, out_kind, out_id, out_topic,
	out_key, out_value, out_headers, attempts, deadline, created_at, updated_at`

func scanRow(sc interface{ Scan(...any) error }) (*row, error) {
	var r row
	var pending int
	err := sc.Scan(&r.ID, &r.Name, &r.State, &r.Step, &r.Data, &r.Error, &r.Version, &pending,
		&r.Out.Kind, &r.Out.ID, &r.Out.Topic, &r.Out.Key, &r.Out.Value, &r.Out.Headers,
		&r.Attempts, &r.Deadline, &r.Created, &r.Updated)
	r.Pending = pending != 0
	if r.Data == nil {
		r.Data = []byte{} // an empty BLOB reads back as nil; the column is NOT NULL
	}
	return &r, err
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// forUpdate is the clause that locks the rows a transaction reads, on
// PostgreSQL. SQLite transactions take the database's write lock at BEGIN
// (the store opens them IMMEDIATE), so they need none.
func (o *Orchestrator) forUpdate() string {
	if o.db.Dialect == store.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// load reads an instance inside tx and locks it until tx ends.
func (o *Orchestrator) load(ctx context.Context, tx *sql.Tx, id string) (*row, error) {
	r, err := scanRow(tx.QueryRowContext(ctx, o.db.Rebind(`SELECT `+rowColumns+` FROM saga_instances WHERE id = ?`+o.forUpdate()), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("saga: load %s: %w", id, err)
	}
	return r, nil
}

func (o *Orchestrator) insert(ctx context.Context, tx *sql.Tx, r *row, def *Definition) error {
	_, err := tx.ExecContext(ctx, o.db.Rebind(`INSERT INTO saga_instances (id, name, state, step, data, version, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), r.ID, r.Name, r.State, r.Step, r.Data, r.Version, r.Created, r.Updated)
	if store.IsUniqueViolation(err) {
		return fmt.Errorf("%w: %s", ErrExists, r.ID)
	}
	if err != nil {
		return fmt.Errorf("saga: insert %s: %w", r.ID, err)
	}
	for i, s := range def.Steps {
		if _, err := tx.ExecContext(ctx, o.db.Rebind(`INSERT INTO saga_steps (saga_id, idx, name, status) VALUES (?, ?, ?, ?)`),
			r.ID, i, s.Name, StepPending); err != nil {
			return fmt.Errorf("saga: insert steps of %s: %w", r.ID, err)
		}
	}
	return nil
}

// save writes an instance loaded by load back, with a new version.
func (o *Orchestrator) save(ctx context.Context, tx *sql.Tx, r *row, now int64) error {
	r.Version++
	r.Updated = now
	_, err := tx.ExecContext(ctx, o.db.Rebind(`UPDATE saga_instances SET state = ?, step = ?, data = ?, error = ?,
		version = ?, pending = ?, out_kind = ?, out_id = ?, out_topic = ?, out_key = ?, out_value = ?, out_headers = ?,
		attempts = ?, deadline = ?, updated_at = ? WHERE id = ?`),
		r.State, r.Step, r.Data, r.Error, r.Version, boolInt(r.Pending), r.Out.Kind, r.Out.ID, r.Out.Topic,
		r.Out.Key, r.Out.Value, r.Out.Headers, r.Attempts, r.Deadline, r.Updated, r.ID)
	if err != nil {
		return fmt.Errorf("saga: save %s: %w", r.ID, err)
	}
	return nil
}

func (o *Orchestrator) addEvent(ctx context.Context, q store.Querier, id string, at int64, e Event) error {
	_, err := q.ExecContext(ctx, o.db.Rebind(`INSERT INTO saga_events (saga_id, at, type, step, record_id, topic, detail, value)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), id, at, e.Type, e.Step, e.RecordID, e.Topic, e.Detail, e.Value)
	if err != nil {
		return fmt.Errorf("saga: record %s event of %s: %w", e.Type, id, err)
	}
	return nil
}

// stepColumns are the step columns a transition may set besides status.
var stepColumns = map[string]bool{
	"command_id": true, "compensation_id": true, "command_sent_at": true, "replied_at": true,
	"compensation_sent_at": true, "compensated_at": true,
}

// setStep sets a step's status and, optionally, one more column.
func (o *Orchestrator) setStep(ctx context.Context, q store.Querier, id string, idx int, status StepStatus, col string, val any) error {
	var err error
	if col == "" {
		_, err = q.ExecContext(ctx, o.db.Rebind(`UPDATE saga_steps SET status = ? WHERE saga_id = ? AND idx = ?`), status, id, idx)
	} else {
		if !stepColumns[col] {
			panic("saga: setStep: unknown column " + col)
		}
		_, err = q.ExecContext(ctx, o.db.Rebind(`UPDATE saga_steps SET status = ?, `+col+` = ? WHERE saga_id = ? AND idx = ?`),
			status, val, id, idx)
	}
	if err != nil {
		return fmt.Errorf("saga: update step %d of %s: %w", idx, id, err)
	}
	return nil
}

// stepTime reads one time column of a step (unix µs).
func (o *Orchestrator) stepTime(ctx context.Context, q store.Querier, id string, idx int, col string) (int64, error) {
	if !stepColumns[col] {
		panic("saga: stepTime: unknown column " + col)
	}
	var v int64
	err := q.QueryRowContext(ctx, o.db.Rebind(`SELECT `+col+` FROM saga_steps WHERE saga_id = ? AND idx = ?`), id, idx).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("saga: read step %d of %s: %w", idx, id, err)
	}
	return v, nil
}

// seenReply reports whether a reply with this record id was already
// handled for the instance.
func (o *Orchestrator) seenReply(ctx context.Context, tx *sql.Tx, id, recordID string) (bool, error) {
	if recordID == "" {
		return false, nil
	}
	var n int
	err := tx.QueryRowContext(ctx, o.db.Rebind(`SELECT COUNT(*) FROM saga_events WHERE saga_id = ? AND record_id = ? AND type IN (?, ?)`),
		id, recordID, EventReply, EventReplyIgnored).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("saga: look up reply %s of %s: %w", recordID, id, err)
	}
	return n > 0, nil
}

func (o *Orchestrator) instance(r *row) Instance {
	in := Instance{
		ID: r.ID, Saga: r.Name, State: r.State, Step: r.Step, Data: r.Data, Error: r.Error,
		Deadline: fromMicros(r.Deadline), CreatedAt: fromMicros(r.Created), UpdatedAt: fromMicros(r.Updated),
	}
	if d := o.defs[r.Name]; d != nil && r.Step >= 0 && r.Step < len(d.Steps) {
		in.StepName = d.Steps[r.Step].Name
	}
	return in
}

// Get returns an instance with its steps and its history, oldest event
// first. It fails with [ErrNotFound] for an unknown id.
func (o *Orchestrator) Get(ctx context.Context, id string) (*Instance, error) {
	r, err := scanRow(o.db.QueryRowContext(ctx, o.db.Rebind(`SELECT `+rowColumns+` FROM saga_instances WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("saga: get %s: %w", id, err)
	}
	in := o.instance(r)

	rows, err := o.db.QueryContext(ctx, o.db.Rebind(`SELECT idx, name, status, command_id, compensation_id,
		command_sent_at, replied_at, compensation_sent_at, compensated_at FROM saga_steps WHERE saga_id = ? ORDER BY idx`), id)
	if err != nil {
		return nil, fmt.Errorf("saga: get steps of %s: %w", id, err)
	}
	for rows.Next() {
		var s StepState
		var sent, replied, csent, compensated int64
		if err := rows.Scan(&s.Index, &s.Name, &s.Status, &s.CommandID, &s.CompensationID, &sent, &replied, &csent, &compensated); err != nil {
			rows.Close()
			return nil, fmt.Errorf("saga: get steps of %s: %w", id, err)
		}
		s.CommandSentAt, s.RepliedAt = fromMicros(sent), fromMicros(replied)
		s.CompensationSentAt, s.CompensatedAt = fromMicros(csent), fromMicros(compensated)
		in.Steps = append(in.Steps, s)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("saga: get steps of %s: %w", id, err)
	}

	rows, err = o.db.QueryContext(ctx, o.db.Rebind(`SELECT at, type, step, record_id, topic, detail, value
		FROM saga_events WHERE saga_id = ? ORDER BY id`), id)
	if err != nil {
		return nil, fmt.Errorf("saga: get history of %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var e Event
		var at int64
		if err := rows.Scan(&at, &e.Type, &e.Step, &e.RecordID, &e.Topic, &e.Detail, &e.Value); err != nil {
			return nil, fmt.Errorf("saga: get history of %s: %w", id, err)
		}
		e.At = fromMicros(at)
		in.History = append(in.History, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("saga: get history of %s: %w", id, err)
	}
	return &in, nil
}

// ListOptions selects a page of instances.
type ListOptions struct {
	// State keeps instances in this state; empty keeps all.
	State State
	// Saga keeps instances of this definition; empty keeps all.
	Saga string
	// Limit is the page size. Default 50; at most 1000.
	Limit int
	// After is the Next of the previous page; empty for the first.
	After string
}

// Page is one page of instances, newest first.
type Page struct {
	Instances []Instance
	// Next fetches the following page; empty on the last one.
	Next string
}

// List returns instances newest first, a page at a time. Steps and
// History are not filled.
func (o *Orchestrator) List(ctx context.Context, opts ListOptions) (Page, error) {
	if opts.State != "" && !opts.State.valid() {
		return Page{}, stream.Invalidf("saga state %q is not one of %q", opts.State, States())
	}
	if opts.Limit < 0 || opts.Limit > 1000 {
		return Page{}, stream.Invalidf("limit %d: use 1 to 1000", opts.Limit)
	}
	if opts.Limit == 0 {
		opts.Limit = 50
	}
	var where []string
	var args []any
	if opts.State != "" {
		where = append(where, "state = ?")
		args = append(args, opts.State)
	}
	if opts.Saga != "" {
		where = append(where, "name = ?")
		args = append(args, opts.Saga)
	}
	if opts.After != "" {
		created, id, err := parseCursor(opts.After)
		if err != nil {
			return Page{}, err
		}
		where = append(where, "(created_at < ? OR (created_at = ? AND id < ?))")
		args = append(args, created, created, id)
	}
	q := `SELECT ` + rowColumns + ` FROM saga_instances`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, opts.Limit+1)
	rows, err := o.db.QueryContext(ctx, o.db.Rebind(q), args...)
	if err != nil {
		return Page{}, fmt.Errorf("saga: list: %w", err)
	}
	defer rows.Close()
	var page Page
	var last *row
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return Page{}, fmt.Errorf("saga: list: %w", err)
		}
		if len(page.Instances) == opts.Limit {
			page.Next = cursor(last.Created, last.ID)
			break
		}
		page.Instances = append(page.Instances, o.instance(r))
		last = r
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("saga: list: %w", err)
	}
	return page, nil
}

func cursor(created int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(created, 10) + "/" + id))
}

func parseCursor(s string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		ts, id, ok := strings.Cut(string(b), "/")
		if n, perr := strconv.ParseInt(ts, 10, 64); ok && perr == nil {
			return n, id, nil
		}
	}
	return 0, "", stream.Invalidf("page cursor %q is not one this server gave out", s)
}
