// Package testenv finds the services integration tests run against — the
// local PostgreSQL, MariaDB and Redis — and skips a test when one is not
// reachable, or fails it when ARUS_TEST_REQUIRE=1 (as CI sets).
//
// Addresses come from ARUS_TEST_POSTGRES, ARUS_TEST_MYSQL and
// ARUS_TEST_REDIS, with the defaults of the development machines.
package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// Defaults for the local services.
const (
	DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultMySQL    = "root@tcp(127.0.0.1:3306)/test"
	DefaultRedis    = "127.0.0.1:6379"
)

// Required reports whether tests must fail rather than skip when a service
// is missing.
func Required() bool { return os.Getenv("ARUS_TEST_REQUIRE") == "1" }

// Unavailable skips the test, or fails it under ARUS_TEST_REQUIRE=1.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (ARUS_TEST_REQUIRE=1, so this fails instead of skipping)", msg)
	}
	t.Skipf("%s; set the address or start the service to run this test", msg)
}

func getenv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Redis returns the address of the test Redis server.
func Redis(t testing.TB) string {
	t.Helper()
	addr := getenv("ARUS_TEST_REDIS", DefaultRedis)
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		addr = u.Host
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		Unavailable(t, "Redis at %s is not reachable (ARUS_TEST_REDIS): %v", addr, err)
	}
	c.Close()
	return addr
}

// Postgres returns a DSN for the test PostgreSQL database.
func Postgres(t testing.TB) string {
	t.Helper()
	dsn := getenv("ARUS_TEST_POSTGRES", DefaultPostgres)
	db, err := sql.Open("pgx", dsn)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		db.Close()
	}
	if err != nil {
		Unavailable(t, "PostgreSQL at %s is not reachable (ARUS_TEST_POSTGRES): %v", redact(dsn), err)
	}
	return dsn
}

// MySQL returns a go-sql-driver DSN for the test MariaDB/MySQL database.
func MySQL(t testing.TB) string {
	t.Helper()
	dsn := getenv("ARUS_TEST_MYSQL", DefaultMySQL)
	host := "127.0.0.1:3306"
	if _, rest, ok := strings.Cut(dsn, "tcp("); ok {
		if h, _, ok := strings.Cut(rest, ")"); ok {
			host = h
		}
	}
	c, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		Unavailable(t, "MySQL/MariaDB at %s is not reachable (ARUS_TEST_MYSQL): %v", host, err)
	}
	c.Close()
	return dsn
}

func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil {
		return u.Redacted()
	}
	return "(unparsable DSN)"
}

// Chromium returns the path of a Chromium binary for browser tests
// (ARUS_TEST_CHROMIUM, else chromium or chromium-browser on PATH).
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ARUS_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Unavailable(t, "no Chromium found for browser tests (install Debian's chromium, or set ARUS_TEST_CHROMIUM)")
	return ""
}

// Kcat returns the path of kcat, librdkafka's command-line client, for
// tests against a foreign Kafka client (Debian package kcat).
func Kcat(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		Unavailable(t, "kcat is not installed (Debian package kcat)")
	}
	return p
}

// PythonKafka returns a Python interpreter that imports kafka-python
// (Debian package python3-kafka), for tests against a foreign Kafka client.
func PythonKafka(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if path, err := exec.LookPath(p); err == nil && exec.Command(path, "-c", "import kafka").Run() == nil {
			return path
		}
	}
	Unavailable(t, "no python3 with kafka-python (Debian package python3-kafka)")
	return ""
}

// Output runs a command to its end with stdin as its input and returns its
// standard output; the test fails, showing the command's standard error,
// when it does not succeed.
func Output(t testing.TB, ctx context.Context, stdin string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// SQLServer returns the DSN of a SQL Server to test against, from
// ARUS_TEST_SQLSERVER (sqlserver://user:password@host:1433). SQL Server is
// not one of the local services, so without the variable the test is
// skipped even when ARUS_TEST_REQUIRE=1; with it, an unreachable server
// fails or skips like the others. The caller imports the driver
// (github.com/microsoft/go-mssqldb), as the SQL Server sink does.
func SQLServer(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("ARUS_TEST_SQLSERVER")
	if dsn == "" {
		t.Skip("no SQL Server to test against; set ARUS_TEST_SQLSERVER=sqlserver://user:password@host:1433")
	}
	db, err := sql.Open("sqlserver", dsn)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		db.Close()
	}
	if err != nil {
		Unavailable(t, "SQL Server at %s is not reachable (ARUS_TEST_SQLSERVER): %v", redact(dsn), err)
	}
	return dsn
}
