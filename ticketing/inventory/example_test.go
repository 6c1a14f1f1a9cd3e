package inventory_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/arus-platform/arus/eventsource"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/inventory"
)

// Two tickets, three buyers: the third is told the area is sold out, and
// the audit replays the area and finds the read model in agreement.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "arus-data")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, store.Config{Dir: dir, Component: "ticketing"})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	es, err := eventsource.Open(ctx, db, eventsource.Config{})
	if err != nil {
		log.Fatal(err)
	}
	inv, err := inventory.Open(ctx, es, inventory.Config{})
	if err != nil {
		log.Fatal(err)
	}

	festival := inventory.AreaID{Event: "4821", Area: "festival"}
	if err := inv.SetCapacity(ctx, festival, 2); err != nil {
		log.Fatal(err)
	}
	for _, order := range []string{"2023-03-20-345-2612", "2023-03-20-346-0921", "2023-03-20-347-5530"} {
		h, err := inv.Hold(ctx, festival, order, 1)
		if errors.Is(err, inventory.ErrSoldOut) {
			fmt.Println(order, "sold out")
			continue
		}
		if err != nil {
			log.Fatal(err)
		}
		sale, err := inv.Confirm(ctx, h.Area, h.Order) // the payment arrived
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(order, sale.Outcome)
	}
	report, err := inv.Audit(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("audit ok:", report.OK(), "sold:", report.Areas[0].Sold)
	// Output:
	// 2023-03-20-345-2612 sold
	// 2023-03-20-346-0921 sold
	// 2023-03-20-347-5530 sold out
	// audit ok: true sold: 2
}
