package relay

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/relay/sink"
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
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a ValidationError", err)
	}
	var fields []string
	for _, e := range ve.Errors {
		fields = append(fields, e.Field)
	}
	want := []string{"mapping[1].column", "mapping[2].field", "mapping[3]", "mapping[4]", "mapping[5].column", "mapping[5]", "key_columns[1]", "filter"}
	if !reflect.DeepEqual(fields, want) {
		t.Errorf("got fields %v, want %v (%v)", fields, want, err)
	}
}

func TestParsePath(t *testing.T) {
	for in, want := range map[string]string{
		"a": "a", "a.b[0].c": "a.b[0].c", `a["b c"][2]`: `a["b c"][2]`, `["x"]`: "x", "car-name": "car-name",
	} {
		p, err := ParsePath(in)
		if err != nil || p.String() != want {
			t.Errorf("ParsePath(%q) = %q, %v; want %q", in, p.String(), err, want)
		}
	}
	for _, in := range []string{"", ".a", "a.", "a..b", "a[", "a[x]", "a[-1]", "a[01]", "a b", `a["x`, "a]"} {
		if _, err := ParsePath(in); err == nil {
			t.Errorf("ParsePath(%q): no error", in)
		}
	}
}

func TestFilter(t *testing.T) {
	rec, _ := decodeJSON([]byte(`{"category":"suv","stock":3,"price":10.50,"used":false,"color":null,
		"tags":["a","b"],"dealer":{"city":"Bandung"},"odd key":1}`))
	cases := []struct {
		expr string
		want bool
	}{
		{`category == "suv"`, true},
		{`category != "suv"`, false},
		{`stock > 2 and stock <= 3`, true},
		{`price == 10.5`, true},
		{`price < 10.49`, false},
		{`price >= 1e1`, true},
		{`category in ["suv", "mpv"]`, true},
		{`category in ["sedan"]`, false},
		{`not used`, false}, // bare field: not a comparison, see errors below
		{`used == false`, true},
		{`color == null and missing == null`, true},
		{`missing != null`, false},
		{`tags[1] == "b" or stock < 0`, true},
		{`dealer.city == "Bandung"`, true},
		{`not (stock > 5 or category == "x")`, true},
		{`["odd key"] == 1`, true},
		{`category > 1`, false},
		{`"suv" == category`, true},
		{`stock in [1, 2, 3.0]`, true},
	}
	for _, c := range cases {
		f, err := ParseFilter(c.expr)
		if c.expr == `not used` {
			if err == nil {
				t.Errorf("%q: no error for a bare field", c.expr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.expr, err)
			continue
		}
		if got := f.Match(rec); got != c.want {
			t.Errorf("%q (%s) = %v, want %v", c.expr, f, got, c.want)
		}
	}
	for _, bad := range []string{`a =`, `a = 1`, `a == `, `(a == 1`, `a == 1)`, `a in 1`, `a in []`, `1 == 2`,
		`a in [b]`, `a == "x`, `a == 01`, `a == 1 and`, `a ! 1`, `a == @`, strings.Repeat("(", 100) + "a==1" + strings.Repeat(")", 100)} {
		if f, err := ParseFilter(bad); err == nil {
			t.Errorf("ParseFilter(%q) = %s, want an error", bad, f)
		}
	}
}

// A browsing filter takes JSONPath-style roots and a field on its own as a
// test that it exists; a route filter takes the roots but not bare fields.
func TestParseMatch(t *testing.T) {
	doc := []byte(`{"order":{"status":"paid"},"amount":120.5,"tags":["vip"],"customer":{"email":null,"name":"Ana"},"in":1}`)
	cases := []struct {
		expr, canonical string
		want            bool
	}{
		{`$.order.status == "paid"`, `order.status == "paid"`, true},
		{`$.amount > 100`, `amount > 100`, true},
		{`$.amount > 200`, `amount > 200`, false},
		{`$.tags[0]`, `tags[0]`, true},
		{`$.tags[1]`, `tags[1]`, false},
		{`$.customer.name`, `customer.name`, true},
		{`$.customer.email`, `customer.email`, false}, // null
		{`not $.missing and $.order`, `(not missing and order)`, true},
		{`($.order.status) or $.x == 1`, `(order.status or x == 1)`, true},
		{`$["order"].status == "paid"`, `order.status == "paid"`, true},
		{`$.in == 1`, `$.in == 1`, true},
		{`$[0]`, `$[0]`, false},
		{`order.status in ["paid", "sent"]`, `order.status in ["paid", "sent"]`, true},
	}
	for _, c := range cases {
		f, err := ParseMatch(c.expr)
		if err != nil {
			t.Errorf("ParseMatch(%q): %v", c.expr, err)
			continue
		}
		if got := f.String(); got != c.canonical {
			t.Errorf("ParseMatch(%q) = %s, want %s", c.expr, got, c.canonical)
		}
		if got := f.MatchJSON(doc); got != c.want {
			t.Errorf("%q on %s = %v, want %v", c.expr, doc, got, c.want)
		}
	}
	if f, _ := ParseMatch(`$.order`); f.MatchJSON([]byte(`not json`)) {
		t.Errorf("a value that is not JSON matched a field test")
	}
	for _, bad := range []string{`$`, `$.`, `$..a`, `$.a ==`, `$.a = 1`, `$ == 1`, `"x"`, `$.a $.b`} {
		if f, err := ParseMatch(bad); err == nil {
			t.Errorf("ParseMatch(%q) = %s, want an error", bad, f)
		}
	}
	if f, err := ParseFilter(`$.customer.email`); err == nil {
		t.Errorf("route filter took a bare field: %s", f)
	}
	if f, err := ParseFilter(`$.amount > 1`); err != nil || f.String() != "amount > 1" {
		t.Errorf("route filter with a $ root: %v, %v", f, err)
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

// FuzzFilter checks that parsing never panics and that an accepted filter
// prints a canonical form that parses back to itself and evaluates the
// same way.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{`category == "suv"`, `a.b[0] in [1, "x", null, true]`, `not (a < 1 or b >= -2.5e3) and c != false`,
		`["k"] == 1`, `a`, `a ==`, `((a == 1))`, `x in ["a"]`} {
		f.Add(s, `{"category":"suv","a":{"b":[1]},"c":true}`)
	}
	f.Add(`$.order.status == "paid" and $.tags[0]`, `{"order":{"status":"paid"},"tags":[1]}`)
	f.Add(`not $.in or $[0]`, `[1]`)
	f.Fuzz(func(t *testing.T, expr, record string) {
		fuzzFilter(t, ParseFilter, expr, record)
		fuzzFilter(t, ParseMatch, expr, record)
	})
}

func fuzzFilter(t *testing.T, parse func(string) (*Filter, error), expr, record string) {
	t.Helper()
	flt, err := parse(expr)
	if err != nil {
		if flt != nil {
			t.Fatalf("parse(%q) returned a filter and an error", expr)
		}
		return
	}
	if flt == nil {
		if strings.TrimSpace(expr) != "" {
			t.Fatalf("parse(%q) accepted a non-empty expression as no filter", expr)
		}
		return
	}
	again, err := parse(flt.String())
	if err != nil || again.String() != flt.String() {
		t.Fatalf("canonical form %q of %q does not parse back: %v, %v", flt, expr, again, err)
	}
	rec, err := decodeJSON([]byte(record))
	if err != nil {
		return
	}
	if flt.Match(rec) != again.Match(rec) {
		t.Fatalf("%q and its canonical form %q disagree on %s", expr, flt, record)
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
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 {
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
