package relay

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/arus-platform/arus/internal/filter"
	"github.com/arus-platform/arus/internal/relay/sink"
	"github.com/arus-platform/arus/invalid"
)

// Sentinel errors, for errors.Is.
var (
	// ErrNotFound: no such application, dataset, destination or route.
	ErrNotFound = errors.New("relay: not found")
	// ErrNameTaken: another object of the same kind has the name.
	ErrNameTaken = errors.New("relay: name is taken")
	// ErrInUse: the object is still referred to (a dataset by routes or
	// applications, a destination by routes).
	ErrInUse = errors.New("relay: in use")
	// ErrInvalid: input broke a rule; the error is an *invalid.Fields.
	ErrInvalid = errors.New("relay: invalid input")
)

// nameRule is the rule of every relay name: datasets appear in URLs and
// API key scopes, the rest in listings.
var nameRule = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

const nameHelp = "use 1 to 63 lowercase letters, digits, '_' or '-', starting with a letter"

// identRule is what a table, schema or column name may be. The sinks check
// names against the destination's catalogue and quote them; this only
// keeps out what no catalogue holds.
func checkIdent(ve *invalid.Fields, field, s string, required bool) {
	switch {
	case s == "" && required:
		ve.Add(field, "is required")
	case s == "":
	case len(s) > 128:
		ve.Add(field, "must be at most 128 bytes")
	case !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl):
		ve.Add(field, "must be text without control characters")
	}
}

// Application is a source of records: it ingests into its allowed
// datasets with its API key, within its rate limit.
type Application struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Datasets the application may ingest into; its API key holds the
	// scope relay.ingest:<dataset> for each.
	Datasets []string `json:"datasets"`
	// RateLimit is records per second, Burst the records allowed at once.
	// Zero RateLimit means no limit.
	RateLimit float64   `json:"rate_limit"`
	Burst     int       `json:"burst"`
	APIKeyID  string    `json:"api_key_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// NewApplication is the input of CreateApplication.
type NewApplication struct {
	Name      string   `json:"name"`
	Datasets  []string `json:"datasets"`
	RateLimit float64  `json:"rate_limit"`
	Burst     int      `json:"burst"`
}

func (a *NewApplication) validate() error {
	ve := invalid.Fields{Kind: ErrInvalid}
	a.Name = strings.TrimSpace(a.Name)
	if !nameRule.MatchString(a.Name) {
		ve.Add("name", "%s", nameHelp)
	}
	if len(a.Datasets) == 0 {
		ve.Add("datasets", "at least one dataset is required")
	}
	if len(a.Datasets) > 64 {
		ve.Add("datasets", "at most 64 datasets")
	}
	seen := map[string]bool{}
	for i, d := range a.Datasets {
		switch {
		case !nameRule.MatchString(d):
			ve.Add(fmt.Sprintf("datasets[%d]", i), "%q: %s", d, nameHelp)
		case seen[d]:
			ve.Add(fmt.Sprintf("datasets[%d]", i), "%q is listed twice", d)
		}
		seen[d] = true
	}
	switch {
	case a.RateLimit < 0 || a.RateLimit > 1e7:
		ve.Add("rate_limit", "must be from 0 (no limit) to 10000000 records per second")
	case a.Burst < 0 || a.Burst > 1e7:
		ve.Add("burst", "must be from 0 to 10000000 records")
	case a.RateLimit > 0 && a.Burst == 0:
		a.Burst = max(1, int(a.RateLimit))
	}
	return ve.Err()
}

// Dataset is a named kind of record, kept in its topic.
type Dataset struct {
	// Name appears in URLs (/api/v1/datasets/{name}/records) and scopes.
	Name string `json:"name"`
	// Topic holds the dataset's records; default relay.<name>.
	Topic string `json:"topic"`
	// KeyFields are the record fields (paths) that form the record key and
	// identify the row in destinations. A dataset without key fields takes
	// records as they come: each is known by its arus-id alone, records
	// spread over the topic's partitions, and routes only insert them
	// (mode insert, no deletes), each once into each table.
	KeyFields []string `json:"key_fields"`
	// Schema, when set, is a JSON Schema every record must match.
	Schema json.RawMessage `json:"schema,omitempty"`
	// AcceptUndeliverable, for a dataset without a schema, accepts a
	// record that a route's table cannot take (a value its column refuses,
	// a required column left empty): it is stored, delivered where it fits
	// and dead-lettered on the routes it does not. Without it such a record
	// is refused at ingest (422, naming the route, the column and why).
	AcceptUndeliverable bool      `json:"accept_undeliverable"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

var topicRule = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

func (d *Dataset) validate() error {
	ve := invalid.Fields{Kind: ErrInvalid}
	d.Name = strings.TrimSpace(d.Name)
	if !nameRule.MatchString(d.Name) {
		ve.Add("name", "%s", nameHelp)
	}
	if d.Topic == "" && nameRule.MatchString(d.Name) {
		d.Topic = "relay." + d.Name
	}
	if d.Topic != "" && !topicRule.MatchString(d.Topic) {
		ve.Add("topic", "use 1 to 249 letters, digits, '.', '_' or '-'")
	}
	if d.KeyFields == nil {
		d.KeyFields = []string{}
	}
	if len(d.KeyFields) > 8 {
		ve.Add("key_fields", "at most 8 key fields")
	}
	for i, f := range d.KeyFields {
		p, err := filter.ParsePath(f)
		if err != nil {
			ve.Add(fmt.Sprintf("key_fields[%d]", i), "%v", err)
			continue
		}
		d.KeyFields[i] = p.String()
	}
	if len(d.Schema) > 0 && string(d.Schema) != "null" {
		if _, err := compileSchema(d.Schema); err != nil {
			ve.Add("schema", "%v", err)
		}
	} else {
		d.Schema = nil
	}
	return ve.Err()
}

// Kinds of destination database.
const (
	KindPostgres  = "postgres"
	KindMySQL     = "mysql"
	KindSQLServer = "sqlserver"
	KindSQLite    = "sqlite"
)

var kinds = []string{KindPostgres, KindMySQL, KindSQLServer, KindSQLite}

// Health states of a destination.
const (
	HealthUnknown = "unknown"
	HealthUp      = "up"
	HealthDown    = "down"
)

// Destination is a database routes write to. Its password is stored
// sealed and never returned.
type Destination struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Either connection fields or DSN (without the password).
	Host     string            `json:"host,omitempty"`
	Port     int               `json:"port,omitempty"`
	Database string            `json:"database,omitempty"`
	User     string            `json:"user,omitempty"`
	Options  map[string]string `json:"options,omitempty"`
	DSN      string            `json:"dsn,omitempty"`
	// Health is up, down or unknown, since HealthSince; LastError is the
	// last failure seen.
	Health      string    `json:"health"`
	LastError   string    `json:"last_error,omitempty"`
	HealthSince time.Time `json:"health_since"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// DestinationInput creates or replaces a destination. Password is
// required on create (not for SQLite); on update an empty one keeps the
// stored password, but only while the target (kind, host, port, database,
// user) stays the same: the stored password is never sent anywhere else.
type DestinationInput struct {
	Name     string            `json:"name"`
	Kind     string            `json:"kind"`
	Host     string            `json:"host"`
	Port     int               `json:"port"`
	Database string            `json:"database"`
	User     string            `json:"user"`
	Options  map[string]string `json:"options"`
	DSN      string            `json:"dsn"`
	Password string            `json:"password"`
	// NoPassword says the account has none (PostgreSQL trust
	// authentication, a MariaDB account with an empty password): it is
	// opened without one, and never with one a driver finds by itself.
	// SQL Server accounts need a password.
	NoPassword bool `json:"no_password,omitempty"`
	// Create, for SQLite, creates the file (an empty database) when it
	// does not exist; without it a missing file is an error.
	Create bool `json:"create,omitempty"`
}

// validate checks the shape of the fields; the server's rules (the DSN,
// the options, the host, the SQLite file) are checkDestination's.
func (d *DestinationInput) validate(create bool) error {
	ve := invalid.Fields{Kind: ErrInvalid}
	d.Name = strings.TrimSpace(d.Name)
	if !nameRule.MatchString(d.Name) {
		ve.Add("name", "%s", nameHelp)
	}
	known := false
	for _, k := range kinds {
		known = known || d.Kind == k
	}
	if !known {
		ve.Add("kind", "must be one of %s", strings.Join(kinds, ", "))
	}
	text := func(field, v string, n int) {
		if len(v) > n || !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
			ve.Add(field, "must be text of at most %d bytes without control characters", n)
		}
	}
	switch {
	case d.DSN != "":
		text("dsn", d.DSN, 2048)
		if d.Host != "" || d.Port != 0 || d.Database != "" || d.User != "" || len(d.Options) > 0 {
			ve.Add("dsn", "give either a DSN or connection fields (host, port, database, user, options), not both")
		}
	case d.Kind == KindSQLite:
		text("database", d.Database, 1024)
	default:
		if d.Host == "" {
			ve.Add("host", "is required (or give a DSN)")
		}
		text("host", d.Host, 255)
		if d.Port < 0 || d.Port > 65535 {
			ve.Add("port", "must be from 1 to 65535, or 0 for the default")
		}
		if d.Database == "" {
			ve.Add("database", "is required (or give a DSN)")
		}
		text("database", d.Database, 255)
		if d.User == "" {
			ve.Add("user", "is required (or give a DSN)")
		}
		text("user", d.User, 255)
	}
	if len(d.Options) > 32 {
		ve.Add("options", "at most 32 options")
	}
	for k, v := range d.Options {
		text("options."+k, k, 64)
		text("options."+k, v, 512)
	}
	switch {
	case d.NoPassword && d.Password != "":
		ve.Add("no_password", "give a password or no_password, not both")
	case d.NoPassword && d.Kind == KindSQLServer:
		ve.Add("no_password", "a SQL Server account needs a password")
	case d.Kind != KindSQLite && create && d.Password == "" && !d.NoPassword:
		ve.Add("password", "is required (it is stored encrypted and never shown again); for an account without one, set no_password")
	}
	text("password", d.Password, 1024)
	return ve.Err()
}

// Route modes.
const (
	ModeInsert = "insert"
	ModeUpsert = "upsert"
)

// ColumnMap fills one column of the target table: from a field of the
// record (Field, a path) or with a constant (Value, any JSON value).
type ColumnMap struct {
	Column string          `json:"column"`
	Field  string          `json:"field,omitempty"`
	Value  json.RawMessage `json:"value,omitempty"`
}

// Route delivers a dataset's records into one table of a destination.
type Route struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Dataset     string `json:"dataset"`
	Destination string `json:"destination"` // the destination's id
	// TableSchema and Table name where rows go; TableSchema may be empty
	// (the connection's default).
	TableSchema string   `json:"table_schema,omitempty"`
	Table       string   `json:"table"`
	Mode        string   `json:"mode"`
	KeyColumns  []string `json:"key_columns"`
	// Deletes: delete envelopes delete the row; otherwise they are skipped.
	Deletes bool `json:"deletes"`
	// Mapping lists the columns written; columns not listed are not.
	Mapping []ColumnMap `json:"mapping"`
	// Filter, when set, keeps only the records it matches; see Filter.
	Filter    string    `json:"filter,omitempty"`
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Target is the sink target of the route.
func (r *Route) Target() sink.Target {
	mode := sink.Upsert
	if r.Mode == ModeInsert {
		mode = sink.Insert
	}
	return sink.Target{Table: sink.Table{Schema: r.TableSchema, Name: r.Table}, Key: r.KeyColumns, Mode: mode}
}

// RouteInput creates or replaces a route.
type RouteInput struct {
	Name        string      `json:"name"`
	Dataset     string      `json:"dataset"`
	Destination string      `json:"destination"`
	TableSchema string      `json:"table_schema"`
	Table       string      `json:"table"`
	Mode        string      `json:"mode"`
	KeyColumns  []string    `json:"key_columns"`
	Deletes     bool        `json:"deletes"`
	Mapping     []ColumnMap `json:"mapping"`
	Filter      string      `json:"filter"`
	Enabled     *bool       `json:"enabled"`
}

// route validates the input and returns the route it describes (without
// id and times). It does not look the dataset or destination up.
func (in *RouteInput) route() (Route, error) {
	ve := invalid.Fields{Kind: ErrInvalid}
	in.Name = strings.TrimSpace(in.Name)
	if !nameRule.MatchString(in.Name) {
		ve.Add("name", "%s", nameHelp)
	}
	if !nameRule.MatchString(in.Dataset) {
		ve.Add("dataset", "%s", nameHelp)
	}
	if in.Destination == "" {
		ve.Add("destination", "is required: a destination id")
	}
	checkIdent(&ve, "table", in.Table, true)
	checkIdent(&ve, "table_schema", in.TableSchema, false)
	if in.Mode == "" {
		in.Mode = ModeUpsert
	}
	if in.Mode != ModeInsert && in.Mode != ModeUpsert {
		ve.Add("mode", "must be insert or upsert")
	}
	r := Route{
		Name: in.Name, Dataset: in.Dataset, Destination: in.Destination,
		TableSchema: in.TableSchema, Table: in.Table, Mode: in.Mode,
		KeyColumns: in.KeyColumns, Deletes: in.Deletes, Mapping: in.Mapping,
		Filter: in.Filter, Enabled: in.Enabled == nil || *in.Enabled,
	}
	if r.KeyColumns == nil {
		r.KeyColumns = []string{}
	}
	for i, c := range r.KeyColumns {
		checkIdent(&ve, fmt.Sprintf("key_columns[%d]", i), c, true)
	}
	if (r.Mode == ModeUpsert || r.Deletes) && len(r.KeyColumns) == 0 {
		ve.Add("key_columns", "at least one key column is required for upserts and deletes")
	}
	if _, err := Compile(&r); err != nil {
		var cve *invalid.Fields
		if errors.As(err, &cve) {
			ve.List = append(ve.List, cve.List...)
		} else {
			return Route{}, err
		}
	}
	return r, ve.Err()
}
