package relay

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/relay/sink"
	"github.com/arus-platform/arus/invalid"
)

func carsRoute() *Route {
	return &Route{
		Name: "cars-to-pg", Dataset: "cars", Destination: "d1", Table: "cars", Mode: ModeUpsert,
		KeyColumns: []string{"id"}, Deletes: true,
		Mapping: []ColumnMap{
			{Column: "id", Field: "id"},
			{Column: "name", Field: "car_name"},
			{Column: "price", Field: "price"},
			{Column: "first_tag", Field: "tags[0]"},
			{Column: "city", Field: "dealer.address.city"},
			{Column: "source", Value: json.RawMessage(`"api"`)},
		},
		Filter: `category == "suv" and stock > 0`,
	}
}

func TestApply(t *testing.T) {
	m, err := Compile(carsRoute())
	if err != nil {
		t.Fatal(err)
	}
	rec := `{"id": 7, "car_name": "Pajero", "stock": 3, "price": 1234567890123456789.50, "category": "suv",
		"tags": ["4x4", "diesel"], "dealer": {"address": {"city": "Jakarta"}}, "type": "x"}`
	ch, keep, err := m.Apply(sink.Upsert, []byte(rec))
	if err != nil || !keep {
		t.Fatalf("Apply: keep %v, err %v", keep, err)
	}
	want := map[string]any{"id": json.Number("7"), "name": "Pajero", "price": json.Number("1234567890123456789.50"),
		"first_tag": "4x4", "city": "Jakarta", "source": "api"}
	if ch.Op != sink.Upsert || !reflect.DeepEqual(ch.Row, want) {
		t.Errorf("got %v %#v, want upsert %#v", ch.Op, ch.Row, want)
	}

	ch, keep, err = m.Apply(sink.Delete, []byte(`{"id": 7, "category": "suv", "stock": 1}`))
	if err != nil || !keep || ch.Op != sink.Delete || !reflect.DeepEqual(ch.Row, map[string]any{"id": json.Number("7")}) {
		t.Errorf("delete: got %v %v %v %v", ch.Op, ch.Row, keep, err)
	}

	for _, rec := range []string{`{"id":1,"category":"sedan","stock":1}`, `{"id":1,"category":"suv","stock":0}`, `{"id":1,"category":"suv"}`} {
		if _, keep, err := m.Apply(sink.Upsert, []byte(rec)); keep || err != nil {
			t.Errorf("%s: keep %v err %v, want dropped", rec, keep, err)
		}
	}
	_, _, err = m.Apply(sink.Upsert, []byte(`{"category":"suv","stock":1}`))
	if err == nil || !strings.Contains(err.Error(), "key column id: field id is missing") {
		t.Errorf("missing key: got %v", err)
	}
	_, _, err = m.Apply(sink.Upsert, []byte(`{"id":{"a":1},"category":"suv","stock":1}`))
	if err == nil || !strings.Contains(err.Error(), "an object") {
		t.Errorf("object key: got %v", err)
	}
	if _, _, err := m.Apply(sink.Upsert, []byte(`[1]`)); err == nil {
		t.Error("array record: no error")
	}

	r := carsRoute()
	r.Deletes, r.Mode = false, ModeInsert
	m, _ = Compile(r)
	if _, keep, _ := m.Apply(sink.Delete, []byte(`{"id":1,"category":"suv","stock":1}`)); keep {
		t.Error("delete kept on a route without deletes")
	}
	if ch, _, _ := m.Apply(sink.Upsert, []byte(`{"id":1,"category":"suv","stock":1}`)); ch.Op != sink.Insert || ch.Row["city"] != nil {
		t.Errorf("insert route: got %v %v", ch.Op, ch.Row)
	}
}

func TestCompileErrors(t *testing.T) {
	r := &Route{Mode: ModeUpsert, KeyColumns: []string{"id", "nope"}, Filter: "price >",
		Mapping: []ColumnMap{
			{Column: "id", Field: "id"},
			{Column: "id", Field: "x"},
			{Column: "a", Field: "a..b"},
			{Column: "b", Field: "b", Value: json.RawMessage(`1`)},
			{Column: "c"},
			{Column: ""},
		}}
	_, err := Compile(r)
	var ve *invalid.Fields
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want an *invalid.Fields", err)
	}
	var fields []string
	for _, e := range ve.List {
		fields = append(fields, e.Name)
	}
	want := []string{"mapping[1].column", "mapping[2].field", "mapping[3]", "mapping[4]", "mapping[5].column", "mapping[5]", "key_columns[1]", "filter"}
	if !reflect.DeepEqual(fields, want) {
		t.Errorf("got fields %v, want %v (%v)", fields, want, err)
	}
}

func TestPreviewRoute(t *testing.T) {
	p, err := PreviewRoute(carsRoute(), "", json.RawMessage(`{"id":"x","category":"suv","stock":1}`))
	if err != nil || !p.Keep || p.Row["id"] != "x" || p.Op != "upsert" {
		t.Errorf("got %+v, %v", p, err)
	}
	p, err = PreviewRoute(carsRoute(), "", json.RawMessage(`{"category":"suv","stock":1}`))
	if err != nil || p.Error == "" {
		t.Errorf("got %+v, %v; want an error in the preview", p, err)
	}
	if _, err := PreviewRoute(carsRoute(), "drop", json.RawMessage(`{}`)); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad op: got %v", err)
	}
}

// FuzzMapping checks that mapping any record through any field path never
// panics and that a kept row holds exactly the mapped columns.
func FuzzMapping(f *testing.F) {
	f.Add("a.b[0]", `{"a":{"b":[1]},"id":1}`, `a.b[0] == 1`)
	f.Add(`["x y"]`, `{"x y":"z","id":"k"}`, ``)
	f.Add("a[3]", `{"id":true,"a":[]}`, `id in [true]`)
	f.Fuzz(func(t *testing.T, field, record, filter string) {
		r := &Route{Mode: ModeUpsert, KeyColumns: []string{"k"}, Deletes: true, Filter: filter,
			Mapping: []ColumnMap{{Column: "k", Field: "id"}, {Column: "v", Field: field}, {Column: "c", Value: json.RawMessage(`{"n":1}`)}}}
		m, err := Compile(r)
		if err != nil {
			var ve *invalid.Fields
			if !errors.As(err, &ve) || len(ve.List) == 0 {
				t.Fatalf("Compile error %v is not a field error", err)
			}
			return
		}
		for _, op := range []sink.Op{sink.Upsert, sink.Delete} {
			ch, keep, err := m.Apply(op, []byte(record))
			if err != nil {
				if keep {
					t.Fatal("an error with keep")
				}
				continue
			}
			if !keep {
				continue
			}
			if op == sink.Upsert && len(ch.Row) != 3 || op == sink.Delete && len(ch.Row) != 1 {
				t.Fatalf("op %v: row %v", op, ch.Row)
			}
		}
	})
}
