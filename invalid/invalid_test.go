package invalid_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/arus-platform/arus/invalid"
)

var errInvalid = errors.New("pkg: invalid input")

func TestFields(t *testing.T) {
	tests := []struct {
		name   string
		add    [][2]string
		want   string
		wantOK bool
	}{
		{"none", nil, "", true},
		{"one", [][2]string{{"name", "is required"}}, "pkg: invalid input: name: is required", false},
		{"two", [][2]string{{"name", "is required"}, {"scopes[1]", "unknown"}}, "pkg: invalid input: name: is required; scopes[1]: unknown", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := invalid.Fields{Kind: errInvalid}
			for _, a := range tc.add {
				e.Add(a[0], "%s", a[1])
			}
			err := e.Err()
			if (err == nil) != tc.wantOK {
				t.Fatalf("got err %v, want nil: %v", err, tc.wantOK)
			}
			if err == nil {
				return
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if !errors.Is(err, errInvalid) {
				t.Errorf("got errors.Is(%v, sentinel) false, want true", err)
			}
			var f *invalid.Fields
			if !errors.As(err, &f) || len(f.List) != len(tc.add) {
				t.Errorf("got errors.As %v with %d fields, want %d", f, len(f.List), len(tc.add))
			}
		})
	}
}

func TestNew(t *testing.T) {
	err := invalid.New(errInvalid, "amount", "must be positive, got %d", -1)
	if got, want := err.Error(), "pkg: invalid input: amount: must be positive, got -1"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !errors.Is(err, errInvalid) {
		t.Errorf("got errors.Is false, want true")
	}
}

func TestFieldJSON(t *testing.T) {
	b, err := json.Marshal(invalid.Field{Name: "records[0].value", Message: "not JSON"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"field":"records[0].value","message":"not JSON"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
