package delivery

import (
	"database/sql"
	"fmt"
	"net"
	"path/filepath"
	"testing"

	"github.com/arus-platform/arus/internal/relay"
)

func TestDSN(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    relay.Destination
		pw   string
		want string
	}{
		{"sqlite path", relay.Destination{Kind: relay.KindSQLite, Database: "/data/x.db"}, "", "/data/x.db"},
		{"sqlite dsn", relay.Destination{Kind: relay.KindSQLite, DSN: "file:/data/x.db?mode=rw"}, "", "file:/data/x.db?mode=rw"},
		{"postgres fields", relay.Destination{Kind: relay.KindPostgres, Host: "db", Database: "shop", User: "app",
			Options: map[string]string{"sslmode": "disable"}}, "p@ss/word", "postgres://app:p%40ss%2Fword@db:5432/shop?sslmode=disable"},
		{"postgres url", relay.Destination{Kind: relay.KindPostgres, DSN: "postgres://app@db:6432/shop?sslmode=require"}, "pw",
			"postgres://app:pw@db:6432/shop?sslmode=require"},
		{"postgres key-value", relay.Destination{Kind: relay.KindPostgres, DSN: "host=db user=app dbname=shop"}, "it's",
			`host=db user=app dbname=shop password='it\'s'`},
		{"mysql fields", relay.Destination{Kind: relay.KindMySQL, Host: "db", Port: 3307, Database: "shop", User: "app"}, "pw",
			"app:pw@tcp(db:3307)/shop"},
		{"mysql dsn", relay.Destination{Kind: relay.KindMySQL, DSN: "app@tcp(db:3306)/shop?parseTime=true"}, "pw",
			"app:pw@tcp(db:3306)/shop?parseTime=true"},
		{"sqlserver fields", relay.Destination{Kind: relay.KindSQLServer, Host: "db", Database: "shop", User: "sa"}, "pw",
			"sqlserver://sa:pw@db:1433?database=shop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DSN(tc.d, tc.pw)
			if err != nil {
				t.Fatalf("DSN: %v", err)
			}
			if got != tc.want {
				t.Errorf("DSN = %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := DSN(relay.Destination{Kind: "oracle"}, ""); err == nil {
		t.Error("DSN of an unknown kind: no error")
	}
}

func TestTester(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "x.db")
	if err := (Tester{}).Test(ctx, relay.Destination{Kind: relay.KindSQLite, Database: path}, ""); err != nil {
		t.Errorf("Test(sqlite) = %v, want nil", err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE cars (id INTEGER PRIMARY KEY, car_name TEXT NOT NULL, price REAL)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	tables, err := (Tester{}).Catalog(ctx, relay.Destination{Kind: relay.KindSQLite, Database: path}, "")
	if err != nil || len(tables) != 1 || tables[0].Name != "cars" || len(tables[0].Columns) != 3 || fmt.Sprint(tables[0].Key) != "[id]" {
		t.Errorf("Catalog(sqlite) = %+v, %v; want the cars table with 3 columns keyed by id", tables, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	d := relay.Destination{Kind: relay.KindPostgres, Host: "127.0.0.1", Port: addr.Port, Database: "x", User: "u"}
	if err := (Tester{}).Test(ctx, d, "pw"); err == nil {
		t.Error("Test(closed port) = nil, want an error")
	}
}
