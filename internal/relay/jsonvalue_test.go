package relay

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/arus-platform/arus/internal/filter"
)

func TestAppendJSONIsMarshal(t *testing.T) {
	docs := []string{
		`{"id": 12, "name": "Škoda", "ok": true, "gone": null, "price": 250000000.00, "neg": -0.5e-3, "big": 1E+400}`,
		`{"a": "<b>&", "b": "tab\there", "c": "quote\" and \\", "d": "line\u2028sep", "e": "ctl\u0001", "f": "\ud800"}`,
		`{"list": ["x", 1, [], {}, [null, false]], "obj": {"z": 1, "a": {"k": "v"}}, "ключ": "значение", "": ""}`,
		`[1, "two", {"three": 3}]`, `"just a string"`, `-0`, `true`,
	}
	for _, d := range docs {
		v, err := filter.DecodeJSON([]byte(d))
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		checkAppendJSON(t, v)
	}
	// Values no decoder gives: left to json.Marshal.
	for _, v := range []any{
		map[string]any{"n": json.Number(""), "f": 1.5, "i": 7, "s": []string{"a"}, "nil": []any(nil)},
		map[string]any{"bad": json.Number("1x")},
	} {
		checkAppendJSON(t, v)
	}
}

func checkAppendJSON(t *testing.T, v any) {
	t.Helper()
	want, wantErr := json.Marshal(v)
	got, err := AppendJSON([]byte("prefix"), v)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%#v: error %v, json.Marshal's %v", v, err, wantErr)
	}
	if err == nil && !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Errorf("%#v:\n got %s\nwant prefix%s", v, got, want)
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add([]byte(`{"a": [1, "x", {"b": null}], "c": "\u00e9<"}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		v, err := filter.DecodeJSON(doc)
		if err != nil {
			return
		}
		checkAppendJSON(t, v)
	})
}
