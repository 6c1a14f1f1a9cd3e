package sink

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func equalValue(a, b any) bool {
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	return reflect.DeepEqual(a, b)
}

func TestCoerce(t *testing.T) {
	for _, tc := range []struct {
		dialect, typ string
		v            any
		want         any
		err          string // part of the reason; empty when it converts
	}{
		{Postgres, "integer", json.Number("42"), int64(42), ""},
		{Postgres, "integer", 42.0, int64(42), ""},
		{Postgres, "integer", "42", int64(42), ""},
		{Postgres, "integer", 4.5, nil, "4.5 is not an integer"},
		{Postgres, "integer", int64(math.MaxInt32 + 1), nil, "2147483648 is out of range for integer"},
		{Postgres, "smallint", json.Number("40000"), nil, "out of range for smallint"},
		{Postgres, "bigint", json.Number("9223372036854775808"), nil, "out of range for bigint"},
		{Postgres, "bigint", true, nil, "is a boolean, not an integer"},
		{MySQL, "int(10) unsigned", int64(-1), nil, "out of range"},
		{MySQL, "tinyint(4)", int64(128), nil, "out of range"},
		{MySQL, "tinyint(1)", true, int64(1), ""},
		{MySQL, "tinyint(1)", "false", int64(0), ""},
		{MySQL, "tinyint(1)", int64(2), nil, "2 is not a boolean"},
		{Postgres, "boolean", int64(1), true, ""},
		{Postgres, "boolean", "maybe", nil, `"maybe" is not a boolean`},
		{SQLite, "boolean", false, int64(0), ""},
		{Postgres, "numeric(10,2)", "abc", nil, `"abc" is not a number`},
		{Postgres, "numeric(10,2)", json.Number("12.345"), "12.345", ""},
		{Postgres, "numeric(10,2)", 0.1, "0.1", ""},
		{Postgres, "numeric(10,2)", "1e3", "1000", ""},
		{Postgres, "numeric(10,2)", "-00012345678.5", "-00012345678.5", ""},
		{Postgres, "numeric(10,2)", ".5", "0.5", ""},
		{Postgres, "numeric(10,2)", "5.", "5", ""},
		{Postgres, "numeric(10,2)", "123456789", nil, "out of range for numeric(10,2)"},
		{Postgres, "numeric", "NaN", nil, "is not a number"},
		{Postgres, "numeric", "1e999999999", nil, "out of range"},
		{Postgres, "json", json.Number("abc"), nil, "is not a JSON number"},
		{Postgres, "numeric", "1/3", nil, "is not a number"},
		{Postgres, "double precision", "1.5", 1.5, ""},
		{Postgres, "real", "x", nil, "is not a number"},
		{Postgres, "character varying(3)", "abc", "abc", ""},
		{Postgres, "character varying(3)", "abcd", nil, `"abcd" is 4 characters, longer than 3`},
		{Postgres, "character varying(3)", "äöü", "äöü", ""},
		{Postgres, "text", int64(5), "5", ""},
		{Postgres, "text", "a\x00b", nil, "NUL"},
		{Postgres, "text", map[string]any{"a": 1.0}, `{"a":1}`, ""},
		{MySQL, "varchar(5)", true, "true", ""},
		{Postgres, "jsonb", map[string]any{"a": []any{"x", nil}}, `{"a":["x",null]}`, ""},
		{Postgres, "jsonb", "s", `"s"`, ""},
		{Postgres, "json", json.Number("1.50"), "1.50", ""},
		{Postgres, "timestamp with time zone", "2026-01-02T03:04:05Z", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ""},
		{Postgres, "timestamp without time zone", "2026-01-02 03:04:05", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ""},
		{Postgres, "date", "2026-01-02", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), ""},
		{Postgres, "timestamp with time zone", "yesterday", nil, `"yesterday" is not an RFC 3339 time`},
		{Postgres, "timestamp with time zone", int64(5), nil, "is not an RFC 3339 time"},
		{Postgres, "bytea", "ab", []byte("ab"), ""},
		{Postgres, "bytea", int64(1), nil, "is not bytes"},
		{Postgres, "uuid", "0b6c0f5e-8f51-4a8a-9a2e-6f1f4c8a2b11", "0b6c0f5e-8f51-4a8a-9a2e-6f1f4c8a2b11", ""},
		{Postgres, "point", "(1,2)", "(1,2)", ""},
		{Postgres, "integer", nil, nil, ""},
	} {
		got, err := parseType(tc.dialect, tc.typ).coerce(tc.v)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s %s: coerce(%#v) = %v", tc.dialect, tc.typ, tc.v, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s %s: coerce(%#v) = %#v, %v; want an error containing %q", tc.dialect, tc.typ, tc.v, got, err, tc.err)
		case tc.err == "" && !equalValue(got, tc.want):
			t.Errorf("%s %s: coerce(%#v) = %#v (%T), want %#v (%T)", tc.dialect, tc.typ, tc.v, got, got, tc.want, tc.want)
		}
	}
}

func TestValueErrorMessage(t *testing.T) {
	r := &route{target: items, key: []string{"id"}, mapped: map[string]bool{"id": true, "price": true}, columns: map[string]colType{
		"id": parseType(Postgres, "bigint"), "price": parseType(Postgres, "numeric(10,2)"),
	}}
	_, err := r.coerceBatch([]Change{{Op: Upsert, Row: map[string]any{"id": int64(1), "price": "abc"}}})
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Index != 0 || ve.Column != "price" {
		t.Fatalf("coerceBatch = %v, want a *ValueError for price of change 0", err)
	}
	if got, want := err.Error(), `sink: column price (numeric(10,2)): "abc" is not a number`; got != want {
		t.Errorf("message = %s, want %s", got, want)
	}
}

// FuzzCoerce: converting any text or number to any column type either
// fails with a reason or yields a value of the driver type that family
// sends; it never panics, and integers stay within their bounds.
func FuzzCoerce(f *testing.F) {
	f.Add("12.5", 3.0, int64(7))
	f.Add("abc", math.Inf(1), int64(math.MaxInt64))
	f.Add("2026-01-02T03:04:05Z", math.Copysign(0, -1), int64(-1))
	f.Add("1e400", 1e300, int64(math.MinInt64))
	types := []struct{ dialect, typ string }{
		{Postgres, "integer"}, {Postgres, "smallint"}, {MySQL, "bigint(20) unsigned"}, {MySQL, "tinyint(1)"},
		{Postgres, "numeric(10,2)"}, {Postgres, "numeric"}, {Postgres, "double precision"}, {Postgres, "character varying(5)"},
		{Postgres, "jsonb"}, {Postgres, "timestamp with time zone"}, {Postgres, "boolean"}, {Postgres, "bytea"}, {SQLServer, "bit"},
	}
	f.Fuzz(func(t *testing.T, s string, fl float64, i int64) {
		for _, ty := range types {
			ct := parseType(ty.dialect, ty.typ)
			for _, v := range []any{s, fl, i, json.Number(s), []any{s, fl}, map[string]any{s: i}} {
				got, err := ct.coerce(v)
				if err != nil {
					if err.Error() == "" {
						t.Errorf("%s: empty reason for %#v", ty.typ, v)
					}
					continue
				}
				switch ct.kind {
				case kindInt:
					n, ok := got.(int64)
					if !ok || n < ct.min || n > ct.max {
						t.Errorf("%s: coerce(%#v) = %#v, want an int64 in [%d, %d]", ty.typ, v, got, ct.min, ct.max)
					}
				case kindDecimal, kindText, kindJSON:
					if _, ok := got.(string); !ok {
						t.Errorf("%s: coerce(%#v) = %T, want string", ty.typ, v, got)
					}
					if ct.kind == kindJSON && !json.Valid([]byte(got.(string))) {
						t.Errorf("%s: coerce(%#v) = %q, not JSON", ty.typ, v, got)
					}
				case kindFloat:
					if _, ok := got.(float64); !ok {
						t.Errorf("%s: coerce(%#v) = %T, want float64", ty.typ, v, got)
					}
				}
			}
		}
	})
}

func TestConvert(t *testing.T) {
	v, err := Convert("postgres", Column{Name: "stock", Type: "integer"}, json.Number("12"))
	if err != nil || v != int64(12) {
		t.Errorf("Convert(12 into integer) = %#v, %v; want int64 12", v, err)
	}
	_, err = Convert("mysql", Column{Name: "price", Type: "decimal(5,2)"}, "cheap")
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Column != "price" || !strings.Contains(err.Error(), "decimal(5,2)") {
		t.Errorf("Convert(\"cheap\" into decimal) error = %v; want a *ValueError naming the column and type", err)
	}
	if _, err := Convert("oracle", Column{Name: "x", Type: "text"}, "a"); err == nil {
		t.Error("Convert for an unknown kind: no error")
	}
}
