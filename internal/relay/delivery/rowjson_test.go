package delivery

import (
	"encoding/json"
	"testing"
)

func TestRowJSONIsMarshal(t *testing.T) {
	rows := []map[string]any{
		{},
		{"id": json.Number("12"), "name": "Škoda", "ok": true, "gone": nil, "price": json.Number("250000000.00")},
		{"a": "<b>&", "b": "tab\there", "c": "quote\" and \\", "d": "line\u2028sep", "e": "bad \xff utf-8"},
		{"n": json.Number(""), "f": 1.5, "list": []any{"x", json.Number("1")}, "obj": map[string]any{"k": "v"}},
		{"z": "last", "a": "first", "m": "middle", "ключ": "значение"},
	}
	for _, row := range rows {
		want, err := json.Marshal(row)
		if err != nil {
			t.Fatal(err)
		}
		if got := rowJSON(row); string(got) != string(want) {
			t.Errorf("rowJSON(%v) = %s, want %s", row, got, want)
		}
	}
}
