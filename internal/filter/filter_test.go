package filter

import (
	"strings"
	"testing"
)

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
	rec, _ := DecodeJSON([]byte(`{"category":"suv","stock":3,"price":10.50,"used":false,"color":null,
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
	rec, err := DecodeJSON([]byte(record))
	if err != nil {
		return
	}
	if flt.Match(rec) != again.Match(rec) {
		t.Fatalf("%q and its canonical form %q disagree on %s", expr, flt, record)
	}
}
