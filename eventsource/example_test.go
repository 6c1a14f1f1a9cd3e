package eventsource_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/arus-platform/arus/eventsource"
	"github.com/arus-platform/arus/store"
)

// A cart is a stream of events; two writers that decide on the same
// version cannot both append.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "arus-data")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, store.Config{Dir: dir, Component: "shop"})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	es, err := eventsource.Open(ctx, db, eventsource.Config{}) // tables shop_events, ...
	if err != nil {
		log.Fatal(err)
	}

	added, err := es.Append(ctx, "cart-7", eventsource.NoStream,
		eventsource.Event{Type: "item_added", Data: json.RawMessage(`{"sku":"tee","qty":2}`)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("cart-7 at version", added[0].Version)

	// A second writer that still believes the cart is new is refused.
	_, err = es.Append(ctx, "cart-7", eventsource.NoStream, eventsource.Event{Type: "item_added"})
	var conflict *eventsource.ConflictError
	if errors.As(err, &conflict) {
		fmt.Printf("conflict: expected %d, actual %d\n", conflict.Expected, conflict.Actual)
	}
	// Output:
	// cart-7 at version 1
	// conflict: expected 0, actual 1
}

// A projection keeps a read model of items per cart, with its checkpoint in
// the same transaction; Rebuild replays every event into it again.
func ExampleStore_Project() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "arus-data")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, store.Config{Dir: dir, Component: "shop"})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	es, err := eventsource.Open(ctx, db, eventsource.Config{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE cart_items (cart TEXT PRIMARY KEY, qty INTEGER NOT NULL)`); err != nil {
		log.Fatal(err)
	}
	for _, qty := range []int{2, 3} {
		data, _ := json.Marshal(map[string]int{"qty": qty})
		if _, err := es.Append(ctx, "cart-7", eventsource.AnyVersion, eventsource.Event{Type: "item_added", Data: data}); err != nil {
			log.Fatal(err)
		}
	}
	items := &eventsource.Projection{
		Name: "cart_items",
		Handle: func(ctx context.Context, tx *sql.Tx, e eventsource.Event) error {
			var body struct{ Qty int }
			if err := json.Unmarshal(e.Data, &body); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO cart_items (cart, qty) VALUES (?, ?)
				ON CONFLICT (cart) DO UPDATE SET qty = cart_items.qty + excluded.qty`, e.StreamID, body.Qty)
			return err
		},
		Reset: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM cart_items`)
			return err
		},
	}
	n, err := es.Project(ctx, items) // RunProjection keeps it up to date
	if err != nil {
		log.Fatal(err)
	}
	n2, err := es.Project(ctx, items) // resumes from the checkpoint
	if err != nil {
		log.Fatal(err)
	}
	n3, err := es.Rebuild(ctx, items)
	if err != nil {
		log.Fatal(err)
	}
	var qty int
	if err := db.QueryRowContext(ctx, `SELECT qty FROM cart_items WHERE cart = 'cart-7'`).Scan(&qty); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, n2, n3, qty)
	// Output: 2 0 2 5
}
