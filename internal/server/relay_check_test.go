package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A dataset without a schema has each record checked against its routes'
// tables before anything is stored: a value a column refuses, or a
// required column left empty, is a 422 naming the field, the route, the
// column and why. With accept_undeliverable the record is stored, written
// where it fits and dead-lettered where it does not.
func TestRelayIngestChecksRoutes(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	pg := newPGTarget(t)
	if _, err := pg.db.Exec(`CREATE TABLE ` + pg.schema + `.cars (seq BIGSERIAL PRIMARY KEY, car_name TEXT NOT NULL, stock INTEGER)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pg.db.Exec(`CREATE TABLE ` + pg.schema + `.names (car_name TEXT)`); err != nil {
		t.Fatal(err)
	}
	f := newRelayFixture(t, t.TempDir())
	f.create(t, "/api/v1/relay/datasets", `{"name":"cars"}`)
	key := f.create(t, "/api/v1/relay/applications", `{"name":"dealer-app","datasets":["cars"]}`)["api_key"].(string)
	dest := f.create(t, "/api/v1/relay/destinations", pg.body("pg", "unused-trust"))["id"].(string)
	stockRoute := f.create(t, "/api/v1/relay/routes", fmt.Sprintf(`{"name":"stock","dataset":"cars","destination":%q,"table":"cars","mode":"insert",
		"mapping":[{"column":"car_name","field":"car_name"},{"column":"stock","field":"stock"}]}`, dest))["id"].(string)
	f.create(t, "/api/v1/relay/routes", fmt.Sprintf(`{"name":"names","dataset":"cars","destination":%q,"table":"names","mode":"insert",
		"mapping":[{"column":"car_name","field":"car_name"}]}`, dest))

	for _, tc := range []struct {
		name, body string
		fields     []string
		says       []string
	}{
		{"a value the column refuses", `[{"car_name":"a","stock":"4"},{"car_name":"b","stock":"four"}]`,
			[]string{"[1].stock"}, []string{`route stock: column stock (integer): \"four\" is not an integer`}},
		{"a required column left empty", `{"stock":1}`,
			[]string{"car_name"}, []string{"route stock: column car_name (text) is required and the record leaves it empty"}},
		{"out of range", `{"car_name":"c","stock":"99999999999"}`, []string{"stock"}, []string{"out of range for integer"}},
	} {
		rep := f.call(t, "POST", "/api/v1/datasets/cars/records", key, tc.body)
		if rep.status != 422 {
			t.Errorf("%s: %d %s, want 422", tc.name, rep.status, rep.body)
			continue
		}
		for _, fl := range tc.fields {
			if !strings.Contains(rep.body, `"field":"`+fl+`"`) {
				t.Errorf("%s: %s does not name %s", tc.name, rep.body, fl)
			}
		}
		for _, s := range tc.says {
			if !strings.Contains(rep.body, s) {
				t.Errorf("%s: %s does not say %q", tc.name, rep.body, s)
			}
		}
	}
	ctx := context.Background()
	if info, err := f.broker.DescribeTopic(ctx, "relay.cars"); err != nil || info.Records() != 0 {
		t.Fatalf("relay.cars holds %d records after refused requests (%v), want 0", info.Records(), err)
	}

	// Opting into today's behaviour: stored, then dead-lettered on the
	// route that cannot take it, delivered on the one that can.
	if rep := f.call(t, "PUT", "/api/v1/relay/datasets/cars", f.admin, `{"accept_undeliverable":true}`); rep.status != 200 || !strings.Contains(rep.body, `"accept_undeliverable":true`) {
		t.Fatalf("accept_undeliverable: %d %s", rep.status, rep.body)
	}
	var rep reply
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if rep = f.call(t, "POST", "/api/v1/datasets/cars/records", key, `{"car_name":"d","stock":"four"}`, "Idempotency-Key", "k1"); rep.status == 202 {
			break
		}
	}
	if rep.status != 202 {
		t.Fatalf("with accept_undeliverable: %d %s, want 202", rep.status, rep.body)
	}
	waitRows(t, pg.db, `SELECT car_name FROM `+pg.schema+`.names`, []string{"d"})
	dlq := "relay.cars.relay.route." + stockRoute + ".dlq"
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if info, err := f.broker.DescribeTopic(ctx, dlq); err == nil && info.Records() == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not hold the record", dlq)
		}
	}
	if got := rows(t, pg.db, `SELECT car_name FROM `+pg.schema+`.cars`); len(got) != 0 {
		t.Errorf("cars holds %q, want nothing", got)
	}
}
