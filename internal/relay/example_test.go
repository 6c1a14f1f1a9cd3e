package relay_test

import (
	"encoding/json"
	"fmt"

	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/sink"
)

// A route's mapping and filter are compiled once and applied to every
// record of its dataset.
func ExampleCompile() {
	m, err := relay.Compile(&relay.Route{
		Mode: relay.ModeUpsert, KeyColumns: []string{"id"},
		Mapping: []relay.ColumnMap{
			{Column: "id", Field: "id"},
			{Column: "name", Field: "car_name"},
			{Column: "price", Field: "price"},
			{Column: "source", Value: json.RawMessage(`"relay"`)},
		},
		Filter: `category == "suv" and stock > 0`,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ch, keep, err := m.Apply(sink.Upsert, []byte(`{"id": 7, "car_name": "Pajero", "stock": 3, "price": 650000000.00, "category": "suv"}`))
	fmt.Println(ch.Op, ch.Row, keep, err)
	_, keep, _ = m.Apply(sink.Upsert, []byte(`{"id": 8, "car_name": "Avanza", "stock": 3, "category": "mpv"}`))
	fmt.Println(keep)
	// Output:
	// upsert map[id:7 name:Pajero price:650000000.00 source:relay] true <nil>
	// false
}
