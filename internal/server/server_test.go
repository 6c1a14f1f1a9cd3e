package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/arus-platform/arus/internal/audit"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/obs"
)

// syncBuffer is a buffer safe for the server's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type running struct {
	*Server
	url    string
	logs   *syncBuffer
	banner *syncBuffer
	stop   func()
}

// start runs a server on a fresh or given data directory until the test
// ends.
func start(t testing.TB, cfg Config) *running {
	t.Helper()
	if cfg.Data == "" {
		cfg.Data = t.TempDir()
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.Broker = "embedded"
	if cfg.Components == nil {
		cfg.Components = Components
	}
	logs, banner := &syncBuffer{}, &syncBuffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Banner = banner
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("Start: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	t.Cleanup(stop)
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	return &running{Server: s, url: scheme + "://" + s.Addr().String(), logs: logs, banner: banner, stop: stop}
}

func TestFirstStartPrintsAdminPasswordOnce(t *testing.T) {
	data := t.TempDir()
	r := start(t, Config{Data: data})
	banner := r.banner.String()
	if !strings.Contains(banner, "one-time password") {
		t.Fatalf("first start printed no admin password:\n%s", banner)
	}
	var password string
	for _, line := range strings.Split(banner, "\n") {
		if f := strings.TrimSpace(line); len(f) >= 12 && !strings.Contains(f, " ") {
			password = f
		}
	}
	if password == "" {
		t.Fatalf("no password in the banner:\n%s", banner)
	}
	if _, err := r.auth.Authenticate(context.Background(), "admin", password, "127.0.0.1"); err != nil {
		t.Errorf("the printed password does not sign in: %v", err)
	}
	r.stop()
	if strings.Contains(r.logs.String(), password) {
		t.Errorf("the admin password appears in the logs")
	}

	again := start(t, Config{Data: data})
	if b := again.banner.String(); b != "" {
		t.Errorf("second start printed %q, want nothing", b)
	}
}

func TestConfiguredAdminPassword(t *testing.T) {
	r := start(t, Config{AdminPassword: "a configured password"})
	if b := r.banner.String(); b != "" {
		t.Errorf("with a configured password the banner is %q, want none", b)
	}
	if _, err := r.auth.Authenticate(context.Background(), "admin", "a configured password", "127.0.0.1"); err != nil {
		t.Errorf("configured password does not sign in: %v", err)
	}
}

// key creates an API key with scopes.
func (r *running) key(t testing.TB, scopes ...string) string {
	t.Helper()
	_, secret, err := r.auth.CreateAPIKey(context.Background(), auth.NewAPIKey{Name: fmt.Sprintf("test key %d", len(scopes)), Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

type reply struct {
	status int
	header http.Header
	body   string
}

func (r *running) call(t testing.TB, method, path, key, body string, header ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, r.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// Every API endpoint answers missing credentials with 401, a key without
// the permission with 403, and bad bodies with 400, 422 or 413.
func TestAPIBadInputMatrix(t *testing.T) {
	r := start(t, Config{MaxBodyBytes: 4096})
	all := r.key(t, "topics.read", "topics.write", "records.produce", "records.read", "groups.read", "groups.reset")
	readOnly := r.key(t, "topics.read", "records.read", "groups.read")
	onlyOrders := r.key(t, "records.produce:orders")
	if rep := r.call(t, "POST", "/api/v1/topics", all, `{"name":"orders","partitions":2}`); rep.status != 201 {
		t.Fatalf("create topic: %d %s", rep.status, rep.body)
	}
	if rep := r.call(t, "POST", "/api/v1/topics/orders/records", all, `{"records":[{"key":"k","value":"v"}]}`); rep.status >= 300 {
		t.Fatalf("produce: %d %s", rep.status, rep.body)
	}
	huge := `{"name":"` + strings.Repeat("x", 5000) + `","partitions":1}`
	endpoints := []struct {
		method, path string
		body         string // a valid body, for POST
		badField     string // a body with an unknown field
		writes       bool
	}{
		{"GET", "/api/v1/topics", "", "", false},
		{"POST", "/api/v1/topics", `{"name":"new","partitions":1}`, `{"name":"new","partitions":1,"partitons":2}`, true},
		{"GET", "/api/v1/topics/orders", "", "", false},
		{"DELETE", "/api/v1/topics/orders", "", "", true},
		{"POST", "/api/v1/topics/orders/records", `{"records":[{"value":"x"}]}`, `{"records":[{"vaule":"x"}]}`, true},
		{"GET", "/api/v1/topics/orders/partitions/0/records?offset=0", "", "", false},
		{"GET", "/api/v1/topics/orders/partitions/0/offset?time=2026-01-01T00:00:00Z", "", "", false},
		{"GET", "/api/v1/groups", "", "", false},
		{"GET", "/api/v1/groups/g", "", "", false},
		{"DELETE", "/api/v1/groups/g", "", "", true},
		{"POST", "/api/v1/groups/g/reset", `{"topic":"orders","to":"earliest"}`, `{"topic":"orders","to":"earliest","too":1}`, true},
		{"POST", "/api/v1/groups/g/consume?topic=orders&max=1&idle=100ms", "", "", true},
	}
	for _, e := range endpoints {
		name := e.method + " " + e.path
		if rep := r.call(t, e.method, e.path, "", e.body); rep.status != 401 || !strings.Contains(rep.header.Get("Content-Type"), "problem+json") {
			t.Errorf("%s without credentials: %d %s, want a 401 problem", name, rep.status, rep.body)
		} else if rep.header.Get("Www-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", name)
		}
		if rep := r.call(t, e.method, e.path, "arus_bogus000_notakey", e.body); rep.status != 401 {
			t.Errorf("%s with a bogus key: %d, want 401", name, rep.status)
		}
		if e.writes {
			if rep := r.call(t, e.method, e.path, readOnly, e.body); rep.status != 403 {
				t.Errorf("%s with a read-only key: %d %s, want 403", name, rep.status, rep.body)
			}
		}
		if e.method == "POST" && e.body != "" {
			rep := r.call(t, e.method, e.path, all, `{"name": "x",`)
			if rep.status != 400 || !strings.Contains(rep.body, "at byte 13 (line 1, column 13)") {
				t.Errorf("%s with truncated JSON: %d %s, want 400 naming the position", name, rep.status, rep.body)
			}
			rep = r.call(t, e.method, e.path, all, e.badField)
			if rep.status != 422 || !strings.Contains(rep.body, `"field"`) {
				t.Errorf("%s with an unknown field: %d %s, want 422 with a field path", name, rep.status, rep.body)
			}
			rep = r.call(t, e.method, e.path, all, huge)
			if rep.status != 413 {
				t.Errorf("%s with a body over the limit: %d %s, want 413", name, rep.status, rep.body)
			}
		}
	}
	// A key scoped to one topic can produce there and nowhere else.
	if rep := r.call(t, "POST", "/api/v1/topics/orders/records", onlyOrders, `{"records":[{"value":"x"}]}`); rep.status >= 300 {
		t.Errorf("scoped key producing to its topic: %d %s", rep.status, rep.body)
	}
	if rep := r.call(t, "POST", "/api/v1/topics/other/records", onlyOrders, `{"records":[{"value":"x"}]}`); rep.status != 403 || !strings.Contains(rep.body, "on topic other") {
		t.Errorf("scoped key producing elsewhere: %d %s, want 403 naming the topic", rep.status, rep.body)
	}
	// Every topic a consume names must be allowed, however it is listed.
	consumer := r.key(t, "records.read:orders", "groups.reset:g2")
	if rep := r.call(t, "POST", "/api/v1/groups/g2/consume?topic=orders,other&max=1&idle=50ms", consumer, ""); rep.status != 403 || !strings.Contains(rep.body, "on topic other") {
		t.Errorf("consume of orders,other with a key for orders: %d %s, want 403 naming other", rep.status, rep.body)
	}
	if rep := r.call(t, "GET", "/api/v1/topics", "", ""); !strings.Contains(rep.body, `"instance":"/api/v1/topics"`) {
		t.Errorf("401 problem lacks its instance: %s", rep.body)
	}
	// Nothing accepted earlier was touched by the bad requests.
	info, err := r.broker.DescribeTopic(context.Background(), "orders")
	if err != nil || info.Records() != 2 {
		t.Errorf("orders holds %d records (%v), want the 2 accepted", info.Records(), err)
	}
}

func TestHealthReadyMetricsAndRequestIDs(t *testing.T) {
	r := start(t, Config{})
	for _, p := range []string{"/healthz", "/readyz"} {
		if rep := r.call(t, "GET", p, "", ""); rep.status != 200 {
			t.Errorf("%s: %d %s", p, rep.status, rep.body)
		}
	}
	rep := r.call(t, "GET", "/api/v1/topics", "", "", "X-Request-Id", "abc-123")
	if got := rep.header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("request id %q, want the caller's abc-123", got)
	}
	rep = r.call(t, "GET", "/healthz", "", "", "X-Request-Id", "bad id <script>")
	if got := rep.header.Get("X-Request-Id"); got == "" || strings.Contains(got, " ") {
		t.Errorf("a malformed request id was echoed as %q; want a fresh one", got)
	}
	if !strings.Contains(r.logs.String(), `"request_id":"abc-123"`) {
		t.Errorf("access log lacks the request id")
	}
	m := r.call(t, "GET", "/metrics", "", "")
	for _, want := range []string{`arus_http_requests_total{code="401",method="GET",route="GET /api/v1/topics"}`, "go_goroutines", "process_cpu_seconds_total", "arus_backbone_up 1"} {
		if !strings.Contains(m.body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	r.broker.Close()
	if rep := r.call(t, "GET", "/readyz", "", ""); rep.status != 503 {
		t.Errorf("/readyz with the broker closed: %d, want 503", rep.status)
	}
}

// A browser session may call the API, but changes need the CSRF header.
func TestSessionCallsNeedCSRF(t *testing.T) {
	r := start(t, Config{AdminPassword: "a configured password"})
	ctx := context.Background()
	u, err := r.auth.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	sess, token, err := r.auth.CreateSession(ctx, u.ID, auth.SessionMeta{})
	if err != nil {
		t.Fatal(err)
	}
	cookie := auth.SessionCookie + "=" + token
	if rep := r.call(t, "GET", "/api/v1/topics", "", "", "Cookie", cookie); rep.status != 200 {
		t.Errorf("GET with a session: %d %s", rep.status, rep.body)
	}
	body := `{"name":"from-console","partitions":1}`
	if rep := r.call(t, "POST", "/api/v1/topics", "", body, "Cookie", cookie); rep.status != 403 || !strings.Contains(rep.body, "CSRF") {
		t.Errorf("POST with a session and no CSRF header: %d %s, want 403", rep.status, rep.body)
	}
	if rep := r.call(t, "POST", "/api/v1/topics", "", body, "Cookie", cookie, "X-CSRF-Token", sess.CSRFToken); rep.status != 201 {
		t.Errorf("POST with a session and its CSRF header: %d %s, want 201", rep.status, rep.body)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Broker: "ftp://x"}, "broker:"},
		{Config{Broker: "embedded", TLSCert: "c.pem"}, "give both --tls-cert and --tls-key"},
		{Config{Broker: "embedded", ClientCA: "ca.pem"}, "client certificates need TLS"},
		{Config{Broker: "embedded", ClientAuth: "maybe"}, `tls-client-auth "maybe"`},
		{Config{Broker: "embedded", SecretKey: "short"}, "secret-key:"},
		{Config{Broker: "embedded", DB: "mysql://x"}, `db: store: database DSN scheme "mysql"`},
		{Config{Broker: "embedded", Components: []string{"relay", "nope"}}, `unknown component "nope"`},
		{Config{Broker: "embedded", Tracing: obs.TracingConfig{OTLPEndpoint: "not a url"}}, "OTLP endpoint"},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want %q", c.cfg, err, c.want)
		}
	}
}

// With TLS and a client CA in "require" mode, only clients with a
// certificate from that CA are served.
func TestTLSClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCA(t)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	serverCert, serverKey := issue(t, ca, caKey, "localhost", false)
	writePEM(t, filepath.Join(dir, "server.pem"), "CERTIFICATE", serverCert.Raw)
	writeKey(t, filepath.Join(dir, "server.key"), serverKey)
	clientCert, clientKey := issue(t, ca, caKey, "gate-device-7", true)

	r := start(t, Config{TLSCert: filepath.Join(dir, "server.pem"), TLSKey: filepath.Join(dir, "server.key"),
		ClientCA: filepath.Join(dir, "ca.pem"), ClientAuth: "require"})
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	without := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
	if resp, err := without.Get(r.url + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("a client without a certificate was served (%d)", resp.StatusCode)
	}
	with := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost",
		Certificates: []tls.Certificate{{Certificate: [][]byte{clientCert.Raw}, PrivateKey: clientKey}}}}}
	resp, err := with.Get(r.url + "/healthz")
	if err != nil {
		t.Fatalf("a client with a certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("a client with a certificate got %d", resp.StatusCode)
	}
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "arus test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, client bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{name}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeKey(t *testing.T, path string, key *ecdsa.PrivateKey) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, path, "EC PRIVATE KEY", der)
}

// The processing tools answer under /api/v1 with the same rules.
func TestProcessingRoutes(t *testing.T) {
	r := start(t, Config{})
	key := r.key(t, "dlq.read", "groups.read", "schemas.read")
	for _, path := range []string{"/api/v1/dlq", "/api/v1/sagas", "/api/v1/schemas/subjects"} {
		if rep := r.call(t, "GET", path, key, ""); rep.status != 200 {
			t.Errorf("GET %s: %d %s", path, rep.status, rep.body)
		}
		if rep := r.call(t, "GET", path, "", ""); rep.status != 401 {
			t.Errorf("GET %s without credentials: %d, want 401", path, rep.status)
		}
	}
	if rep := r.call(t, "POST", "/api/v1/dlq/orders.billing.dlq/replay", key, `{}`); rep.status != 403 {
		t.Errorf("replay with a read-only key: %d %s, want 403", rep.status, rep.body)
	}
}

// Changes are audited with who made them and how they ended; reads and the
// data plane are not.
func TestAuditLog(t *testing.T) {
	r := start(t, Config{})
	writer := r.key(t, "topics.read", "topics.write", "records.produce")
	reader := r.key(t, "topics.read")
	r.call(t, "POST", "/api/v1/topics", writer, `{"name":"audited","partitions":1}`)
	r.call(t, "DELETE", "/api/v1/topics/audited", reader, "")
	r.call(t, "GET", "/api/v1/topics", writer, "")
	r.call(t, "POST", "/api/v1/topics/audited/records", writer, `{"records":[{"value":"x"}]}`)
	page, err := r.auditLog.List(context.Background(), audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range page.Entries {
		got = append(got, fmt.Sprintf("%s %s %d %s", e.Method, e.Path, e.Status, strings.SplitN(e.Actor, ":", 2)[0]))
	}
	want := []string{"DELETE /api/v1/topics/audited 403 key", "POST /api/v1/topics 201 key"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("audit log %q, want %q", got, want)
	}
}

// The relay is part of the process: an admin defines a dataset and an
// application; the application's key ingests records into the dataset's
// topic, durably, and nothing else.
func TestRelayIngest(t *testing.T) {
	r := start(t, Config{})
	admin := r.key(t, "relay.read", "relay.write")
	rep := r.call(t, "POST", "/api/v1/relay/datasets", admin, `{"name":"cars","key_fields":["id"]}`)
	if rep.status != 201 {
		t.Fatalf("create dataset: %d %s", rep.status, rep.body)
	}
	rep = r.call(t, "POST", "/api/v1/relay/applications", admin, `{"name":"dealer-app","datasets":["cars"]}`)
	if rep.status != 201 {
		t.Fatalf("create application: %d %s", rep.status, rep.body)
	}
	var app struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(rep.body), &app); err != nil || !strings.HasPrefix(app.APIKey, "arus_") {
		t.Fatalf("application answer %s: no api_key (%v)", rep.body, err)
	}
	rep = r.call(t, "POST", "/api/v1/datasets/cars/records", app.APIKey, `[{"id":1,"car_name":"Avanza","price":250000000},{"op":"delete","data":{"id":2}}]`)
	if rep.status != 202 {
		t.Fatalf("ingest: %d %s", rep.status, rep.body)
	}
	info, err := r.broker.DescribeTopic(context.Background(), "relay.cars")
	if err != nil || info.Records() != 2 {
		t.Errorf("relay.cars holds %d records (%v), want 2", info.Records(), err)
	}
	if rep := r.call(t, "POST", "/api/v1/datasets/cars/records", app.APIKey, `{"car_name":"no id"}`); rep.status != 422 {
		t.Errorf("record without its key field: %d %s, want 422", rep.status, rep.body)
	}
	if rep := r.call(t, "POST", "/api/v1/relay/datasets", app.APIKey, `{"name":"other","key_fields":["id"]}`); rep.status != 403 {
		t.Errorf("an application key creating a dataset: %d, want 403", rep.status)
	}
}

// A record posted once reaches its destination's table through the whole
// process: ingest, the dataset's topic, the route's consumer group, the
// SQL sink.
func TestRelayDeliversEndToEnd(t *testing.T) {
	data := t.TempDir()
	r := start(t, Config{Data: data})
	ctx := context.Background()
	// SQLite destinations live in <data>/destinations by default.
	dbPath := filepath.Join(data, "destinations", "dealer.db")
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE cars (id INTEGER PRIMARY KEY, name TEXT, price NUMERIC)`); err != nil {
		t.Fatal(err)
	}
	admin := r.key(t, "relay.read", "relay.write")
	mustCreate := func(path, body string) map[string]any {
		t.Helper()
		rep := r.call(t, "POST", path, admin, body)
		if rep.status != 201 {
			t.Fatalf("POST %s: %d %s", path, rep.status, rep.body)
		}
		var v map[string]any
		_ = json.Unmarshal([]byte(rep.body), &v)
		return v
	}
	mustCreate("/api/v1/relay/datasets", `{"name":"cars","key_fields":["id"]}`)
	app := mustCreate("/api/v1/relay/applications", `{"name":"dealer-app","datasets":["cars"]}`)
	dest := mustCreate("/api/v1/relay/destinations", fmt.Sprintf(`{"name":"dealer","kind":"sqlite","database":%q}`, "dealer.db"))
	mustCreate("/api/v1/relay/routes", fmt.Sprintf(`{"name":"dealer-cars","dataset":"cars","destination":%q,"table":"cars","mode":"upsert",
		"key_columns":["id"],"deletes":true,"mapping":[{"column":"id","field":"id"},{"column":"name","field":"car_name"},{"column":"price","field":"price"}]}`, dest["id"]))

	key := app["api_key"].(string)
	body := `[{"id":1,"car_name":"Avanza","price":250000000,"stock":4},{"id":2,"car_name":"Pajero","price":550000000},{"op":"delete","data":{"id":2}},{"id":3,"car_name":"Jazz","price":300000000}]`
	if rep := r.call(t, "POST", "/api/v1/datasets/cars/records", key, body); rep.status != 202 {
		t.Fatalf("ingest: %d %s", rep.status, rep.body)
	}
	want := "1 Avanza 250000000|3 Jazz 300000000"
	var got string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		rows, err := db.QueryContext(ctx, `SELECT id, name, price FROM cars ORDER BY id`)
		if err != nil {
			continue
		}
		var parts []string
		for rows.Next() {
			var id int
			var name string
			var price int64
			_ = rows.Scan(&id, &name, &price)
			parts = append(parts, fmt.Sprintf("%d %s %d", id, name, price))
		}
		rows.Close()
		if got = strings.Join(parts, "|"); got == want {
			break
		}
	}
	if got != want {
		t.Fatalf("destination table holds %q, want %q", got, want)
	}

	// The engine reports the route exactly once, and the delivery log has
	// an entry per record (written in batches, within a second or so).
	rep := r.call(t, "GET", "/api/v1/relay/status", admin, "")
	if rep.status != 200 || !strings.Contains(rep.body, `"guarantee":"exactly-once"`) {
		t.Errorf("relay status: %d %s", rep.status, rep.body)
	}
	var page struct {
		Entries []struct{ Status string } `json:"entries"`
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		rep = r.call(t, "GET", "/api/v1/relay/deliveries?dataset=cars", admin, "")
		_ = json.Unmarshal([]byte(rep.body), &page)
		if len(page.Entries) >= 4 {
			break
		}
	}
	if len(page.Entries) < 4 {
		t.Errorf("delivery log has %d entries, want one per record (4): %s", len(page.Entries), rep.body)
	}
	if rep := r.call(t, "GET", "/api/v1/relay/deliveries?since=yesterday", admin, ""); rep.status != 422 || !strings.Contains(rep.body, `"field":"since"`) {
		t.Errorf("delivery log with a bad time: %d %s, want 422 naming since", rep.status, rep.body)
	}

	// The console shows the same.
	u, err := r.auth.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	// A generated first password must be changed before the console serves.
	if err := r.auth.SetPassword(ctx, u.ID, "a password of the admin's own"); err != nil {
		t.Fatal(err)
	}
	_, token, err := r.auth.CreateSession(ctx, u.ID, auth.SessionMeta{})
	if err != nil {
		t.Fatal(err)
	}
	cookie := auth.SessionCookie + "=" + token
	if rep := r.call(t, "GET", "/relay/routes", "", "", "Cookie", cookie); !strings.Contains(rep.body, "exactly once") {
		t.Errorf("routes page does not show the route's guarantee: %d", rep.status)
	}
	if rep := r.call(t, "GET", "/relay/deliveries?dataset=cars", "", "", "Cookie", cookie); !strings.Contains(rep.body, `<span class="pill ok">delivered</span>`) {
		t.Errorf("delivery log page shows no delivered record: %d", rep.status)
	}
}
