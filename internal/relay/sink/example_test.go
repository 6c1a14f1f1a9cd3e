package sink_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/arus-platform/arus/internal/relay/sink"
)

// A route upserts a batch into a SQLite table; the same batch delivered
// again changes nothing, since the route's position was committed with it.
func Example() {
	dir, err := os.MkdirTemp("", "sink-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "dest.db")
	admin, err := sql.Open("sqlite", path)
	if err != nil {
		log.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE TABLE customers (id integer PRIMARY KEY, name varchar(50) NOT NULL, visits integer)`); err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	dest, err := sink.Open(ctx, sink.SQLite, sink.Config{DSN: path})
	if err != nil {
		log.Fatal(err)
	}
	defer dest.Close()
	target := sink.Target{Table: sink.Table{Name: "customers"}, Key: []string{"id"}, Mode: sink.Upsert}
	guarantee, committed, err := dest.Prepare(ctx, "crm-customers", target, []string{"name", "visits"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(guarantee == sink.ExactlyOnce, committed)

	batch := []sink.Change{
		{Op: sink.Upsert, Row: map[string]any{"id": 1, "name": "Ada", "visits": 1}, Pos: sink.Position{Partition: 0, Offset: 7}},
		{Op: sink.Upsert, Row: map[string]any{"id": 2, "name": "Grace", "visits": 1}, Pos: sink.Position{Partition: 0, Offset: 8}},
		{Op: sink.Upsert, Row: map[string]any{"id": 1, "name": "Ada", "visits": 2}, Pos: sink.Position{Partition: 0, Offset: 9}},
	}
	for range 2 {
		if err := dest.Write(ctx, "crm-customers", target, batch); err != nil {
			log.Fatal(err)
		}
	}
	rows, err := admin.Query(`SELECT id, name, visits FROM customers ORDER BY id`)
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, visits int
		var name string
		if err := rows.Scan(&id, &name, &visits); err != nil {
			log.Fatal(err)
		}
		fmt.Println(id, name, visits)
	}
	_, committed, _ = dest.Prepare(ctx, "crm-customers", target, []string{"name", "visits"})
	fmt.Println(committed)
	// Output:
	// true map[]
	// 1 Ada 2
	// 2 Grace 1
	// map[0:9]
}
