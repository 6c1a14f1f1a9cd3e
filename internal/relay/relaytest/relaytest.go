// Package relaytest runs the relay's acceptance scenario against a running
// Arus over its HTTP API: the dataset cars {id, car_name, stock, price,
// category, type} routed into five databases that the scenario creates on
// the local servers (three PostgreSQL schemas and two MariaDB databases),
// with routes taking different column subsets, upserts with deletes and one
// insert-only route; a concurrent workload of upserts and deletes; the
// faults (a TCP proxy that cuts a MariaDB destination off, killing a
// PostgreSQL destination's connections); and the checks that every table
// holds exactly what the dataset's topic says and that the delivery log
// agrees.
//
// An in-process server test and the end-to-end test of the real binary
// (which kills it with kill -9) both run it, with an admin key of scopes
// relay.read, relay.write, topics.read and records.read:
//
//	s := relaytest.New(t, testenv.Postgres(t), testenv.MySQL(t))
//	s.Configure(ctx, t, api, adminKey)
//	w := s.Workload(20000)
//	err := w.Run(ctx, api)
//	topic := relaytest.ReadTopic(ctx, t, api, adminKey)
//	s.WaitTables(ctx, t, topic.State(), time.Minute, relaytest.Routes...)
//	s.CheckDeliveryLog(ctx, t, api, adminKey, topic, relaytest.Coverage{}, time.Minute)
package relaytest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// The scenario's routes, by name.
const (
	// RouteFull upserts every field into PostgreSQL (pg1), with deletes.
	RouteFull = "full"
	// RoutePrices upserts id, car_name (as name) and price into
	// PostgreSQL (pg2), with deletes.
	RoutePrices = "prices"
	// RouteLog inserts car_name, category and type (and id as car_id)
	// into an insert-only PostgreSQL table (pg3) with a serial key; deletes
	// are skipped.
	RouteLog = "log"
	// RouteCatalogue upserts car_name, category and type into MariaDB
	// (maria1), with deletes.
	RouteCatalogue = "catalogue"
	// RouteStock upserts car_name and stock into MariaDB (maria2) through
	// the scenario's CutProxy, with deletes.
	RouteStock = "stock"
)

// Routes are the names of all five routes.
var Routes = []string{RouteFull, RoutePrices, RouteLog, RouteCatalogue, RouteStock}

// Dataset is the scenario's dataset; its topic is relay.cars.
const Dataset = "cars"

// route is one route of the scenario: where it writes and which fields go
// into which columns.
type route struct {
	name    string
	dest    int // index into Scenario.dests
	table   string
	upsert  bool
	columns []string // destination columns
	fields  []string // the source field of each column
}

var routes = []route{
	{name: RouteFull, dest: 0, table: "cars", upsert: true,
		columns: []string{"id", "car_name", "stock", "price", "category", "type"},
		fields:  []string{"id", "car_name", "stock", "price", "category", "type"}},
	{name: RoutePrices, dest: 1, table: "prices", upsert: true,
		columns: []string{"id", "name", "price"}, fields: []string{"id", "car_name", "price"}},
	{name: RouteLog, dest: 2, table: "car_log",
		columns: []string{"car_id", "car_name", "category", "type"}, fields: []string{"id", "car_name", "category", "type"}},
	{name: RouteCatalogue, dest: 3, table: "cars", upsert: true,
		columns: []string{"id", "car_name", "category", "type"}, fields: []string{"id", "car_name", "category", "type"}},
	{name: RouteStock, dest: 4, table: "stock", upsert: true,
		columns: []string{"id", "car_name", "stock"}, fields: []string{"id", "car_name", "stock"}},
}

func routeNamed(name string) route {
	for _, r := range routes {
		if r.name == name {
			return r
		}
	}
	panic("relaytest: no route " + name)
}

// dest is one of the five destination databases.
type dest struct {
	name    string
	db      *sql.DB
	place   string // schema or database holding its table
	proxied bool   // reached through Scenario.Proxy
}

// Scenario is the five destination databases of one run, created with
// names of their own (so that runs on the same servers do not meet) and
// dropped when the test ends.
type Scenario struct {
	// Tag prefixes every name the scenario creates.
	Tag string
	// PG and MySQL are connections to the servers, for the checks.
	PG, MySQL *sql.DB
	// Proxy stands between the relay and the MariaDB database of
	// RouteStock.
	Proxy *CutProxy

	pg     *pgconn.Config
	my     *mysql.Config
	myUser string
	dests  []dest
	// Set by Configure.
	appKey   string
	routeIDs map[string]string
}

// New creates the five databases on the PostgreSQL server of pgDSN (three
// schemas of its database) and the MariaDB server of myDSN (two databases
// and a user with a password for them), each with its table, and a CutProxy
// in front of the MariaDB server. Everything is dropped when t ends.
func New(t testing.TB, pgDSN, myDSN string) *Scenario {
	t.Helper()
	ctx := context.Background()
	s := &Scenario{Tag: fmt.Sprintf("rt%06d", rand.IntN(1_000_000)), routeIDs: map[string]string{}}
	var err error
	if s.pg, err = pgconn.ParseConfig(pgDSN); err != nil {
		t.Fatalf("relaytest: PostgreSQL DSN: %v", err)
	}
	if s.my, err = mysql.ParseDSN(myDSN); err != nil {
		t.Fatalf("relaytest: MySQL DSN: %v", err)
	}
	if s.PG, err = sql.Open("pgx", pgDSN); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.PG.Close() })
	if s.MySQL, err = sql.Open("mysql", myDSN); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.MySQL.Close() })
	exec := func(db *sql.DB, q string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("relaytest: %s: %v", q, err)
		}
	}

	// PostgreSQL: three schemas in the test database.
	for i, table := range []string{
		`cars (id INTEGER PRIMARY KEY, car_name TEXT, stock INTEGER, price BIGINT, category TEXT, type TEXT)`,
		`prices (id INTEGER PRIMARY KEY, name TEXT, price BIGINT)`,
		`car_log (seq BIGSERIAL PRIMARY KEY, car_id INTEGER, car_name TEXT, category TEXT, type TEXT)`,
	} {
		schema := fmt.Sprintf("%s_pg%d", s.Tag, i+1)
		exec(s.PG, `CREATE SCHEMA `+schema)
		t.Cleanup(func() { s.PG.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`) })
		exec(s.PG, `CREATE TABLE `+schema+`.`+table)
		s.dests = append(s.dests, dest{name: fmt.Sprintf("pg%d", i+1), db: s.PG, place: schema})
	}

	// MariaDB: two databases and a user with a password for them.
	s.myUser = s.Tag
	exec(s.MySQL, fmt.Sprintf(`CREATE USER '%s'@'%%' IDENTIFIED BY 'relay-pass'`, s.myUser))
	t.Cleanup(func() { s.MySQL.ExecContext(context.Background(), fmt.Sprintf(`DROP USER '%s'@'%%'`, s.myUser)) })
	for i, table := range []string{
		`cars (id INT PRIMARY KEY, car_name VARCHAR(100), category VARCHAR(50), type VARCHAR(50))`,
		`stock (id INT PRIMARY KEY, car_name VARCHAR(100), stock INT)`,
	} {
		db := fmt.Sprintf("%s_my%d", s.Tag, i+1)
		exec(s.MySQL, `CREATE DATABASE `+db)
		t.Cleanup(func() { s.MySQL.ExecContext(context.Background(), `DROP DATABASE `+db) })
		exec(s.MySQL, fmt.Sprintf(`GRANT ALL ON %s.* TO '%s'@'%%'`, db, s.myUser))
		exec(s.MySQL, `CREATE TABLE `+db+`.`+table)
		s.dests = append(s.dests, dest{name: fmt.Sprintf("maria%d", i+1), db: s.MySQL, place: db, proxied: i == 1})
	}
	s.Proxy = NewCutProxy(t, s.my.Addr)
	return s
}

// API calls the Arus HTTP API at URL.
type API struct {
	URL string
	// HTTP defaults to a client with a 30 s timeout.
	HTTP *http.Client
}

// Call sends a request with key as its bearer token and header as
// name, value pairs, and returns the status and body.
func (a API) Call(ctx context.Context, method, path, key, body string, header ...string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, a.URL+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := a.HTTP
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// Configure creates, through the admin API with adminKey (scopes
// relay.read and relay.write), the dataset, an application allowed to
// ingest it without a practical rate limit, the five destinations and the
// five routes.
func (s *Scenario) Configure(ctx context.Context, t testing.TB, api API, adminKey string) {
	t.Helper()
	create := func(path, body string) map[string]any {
		t.Helper()
		status, b, err := api.Call(ctx, "POST", path, adminKey, body)
		if err != nil || status != http.StatusCreated {
			t.Fatalf("relaytest: POST %s: %d %s %v", path, status, b, err)
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("relaytest: POST %s: %s: %v", path, b, err)
		}
		return v
	}
	create("/api/v1/relay/datasets", `{"name":"cars","key_fields":["id"]}`)
	app := create("/api/v1/relay/applications", fmt.Sprintf(`{"name":%q,"datasets":["cars"],"rate_limit":1000000,"burst":1000000}`, s.Tag+"-dealer"))
	s.appKey, _ = app["api_key"].(string)

	pgPassword := fmt.Sprintf(`"password":%q`, s.pg.Password)
	if s.pg.Password == "" {
		pgPassword = `"no_password":true` // trust authentication
	}
	myHost, _, err := net.SplitHostPort(s.my.Addr)
	if err != nil {
		t.Fatalf("relaytest: MySQL address %s: %v", s.my.Addr, err)
	}
	destIDs := make([]string, len(s.dests))
	for i, d := range s.dests {
		var body string
		port := int(s.pg.Port)
		switch {
		case d.db == s.PG:
			body = fmt.Sprintf(`{"name":%q,"kind":"postgres","host":%q,"port":%d,"database":%q,"user":%q,%s,
				"options":{"search_path":%q,"application_name":%q,"sslmode":"disable"}}`,
				d.name, s.pg.Host, port, s.pg.Database, s.pg.User, pgPassword, d.place, s.applicationName(d.name))
		default:
			port = s.myPort(t)
			if d.proxied {
				port = s.Proxy.Port()
			}
			body = fmt.Sprintf(`{"name":%q,"kind":"mysql","host":%q,"port":%d,"database":%q,"user":%q,"password":"relay-pass"}`,
				d.name, myHost, port, d.place, s.myUser)
		}
		destIDs[i] = create("/api/v1/relay/destinations", body)["id"].(string)
	}
	for _, r := range routes {
		var mapping []string
		for i, c := range r.columns {
			mapping = append(mapping, fmt.Sprintf(`{"column":%q,"field":%q}`, c, r.fields[i]))
		}
		body := fmt.Sprintf(`{"name":%q,"dataset":"cars","destination":%q,"table":%q,"mode":"insert","deletes":false,"mapping":[%s]}`,
			r.name, destIDs[r.dest], r.table, strings.Join(mapping, ","))
		if r.upsert {
			body = fmt.Sprintf(`{"name":%q,"dataset":"cars","destination":%q,"table":%q,"mode":"upsert","key_columns":["id"],"deletes":true,"mapping":[%s]}`,
				r.name, destIDs[r.dest], r.table, strings.Join(mapping, ","))
		}
		s.routeIDs[r.name] = create("/api/v1/relay/routes", body)["id"].(string)
	}
}

func (s *Scenario) myPort(t testing.TB) int {
	_, p, err := net.SplitHostPort(s.my.Addr)
	if err == nil {
		var n int
		if n, err = strconv.Atoi(p); err == nil {
			return n
		}
	}
	t.Fatalf("relaytest: MySQL address %s: %v", s.my.Addr, err)
	return 0
}

// applicationName is what a PostgreSQL destination's connections call
// themselves, so that KillConnections finds them.
func (s *Scenario) applicationName(dest string) string { return s.Tag + "-" + dest }

// AppKey is the API key of the application Configure created.
func (s *Scenario) AppKey() string { return s.appKey }

// RouteID is the id of the named route, once Configure created it.
func (s *Scenario) RouteID(name string) string { return s.routeIDs[name] }

// KillConnections terminates the PostgreSQL server's connections of the
// destination of RouteFull (pg_terminate_backend) and returns how many
// it ended.
func (s *Scenario) KillConnections(ctx context.Context) (int, error) {
	var n int
	err := s.PG.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1) k WHERE ok`,
		s.applicationName(s.dests[routeNamed(RouteFull).dest].name)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("relaytest: kill connections: %w", err)
	}
	return n, nil
}

// RoutesRunning reports, with adminKey (scope relay.read), whether the
// relay at api runs all five routes.
func (s *Scenario) RoutesRunning(ctx context.Context, api API, adminKey string) bool {
	status, b, err := api.Call(ctx, "GET", "/api/v1/relay/status", adminKey, "")
	if err != nil || status != http.StatusOK {
		return false
	}
	var st struct {
		Routes []struct {
			RouteID string `json:"route_id"`
			State   string `json:"state"`
		} `json:"routes"`
	}
	if json.Unmarshal(b, &st) != nil {
		return false
	}
	running := 0
	for _, r := range st.Routes {
		for _, id := range s.routeIDs {
			if r.RouteID == id && r.State == "running" {
				running++
			}
		}
	}
	return running == len(routes)
}
