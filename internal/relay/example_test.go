package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/arus-platform/arus/internal/api"
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

// The admin API from Go: set up a dataset, an application and a route,
// and try the route on a sample record. (Not run: it needs a server.)
func ExampleClient() {
	ctx := context.Background()
	c, err := relay.NewClient("http://127.0.0.1:8080", os.Getenv("ARUS_API_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.CreateDataset(ctx, relay.DatasetInput{Name: "cars", KeyFields: []string{"id"}}); err != nil && !errors.Is(err, relay.ErrNameTaken) {
		log.Fatal(err)
	}
	app, err := c.CreateApplication(ctx, relay.NewApplication{Name: "dealer-app", Datasets: []string{"cars"}})
	var re *api.ResponseError
	if errors.As(err, &re) {
		for _, fe := range re.Problem.Errors {
			fmt.Printf("%s: %s\n", fe.Name, fe.Message)
		}
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("the application's key, shown once:", app.APIKey)
	in := relay.RouteInput{Name: "dealer-cars", Dataset: "cars", Destination: "<destination id>", Table: "cars",
		KeyColumns: []string{"id"}, Mapping: []relay.ColumnMap{{Column: "id", Field: "id"}, {Column: "name", Field: "car_name"}}}
	p, err := c.PreviewRoute(ctx, in, "upsert", json.RawMessage(`{"id": 1, "car_name": "Avanza"}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Row)
}
