package schemaapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/schemaapi"
	"github.com/arus-platform/arus/schema"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

// keyAuth lets a request in by the scopes named in its bearer token
// ("schemas.read,schemas.write").
type keyAuth struct{}

func (keyAuth) RequestPrincipal(r *http.Request) (*auth.Principal, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, auth.ErrNoCredentials
	}
	return &auth.Principal{Key: &auth.APIKey{Prefix: "test", Scopes: strings.Split(token, ",")}}, nil
}

const (
	readKey  = "schemas.read"
	writeKey = "schemas.read,schemas.write"
)

// server serves the API with the registry's routes, requiring keys, and
// returns its URL.
func server(t *testing.T, r *schema.Registry) string {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	b, err := embedded.New(context.Background(), embedded.Config{Dir: t.TempDir(), Options: stream.Options{Logger: log}})
	if err != nil {
		t.Fatalf("embedded.New: %v", err)
	}
	a, err := api.New(b, api.Config{Logger: log, Auth: keyAuth{}})
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	schemaapi.Register(a, mux, r)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		_ = b.Close()
	})
	return srv.URL
}

// call makes a request and returns the status and the decoded body.
func call(t *testing.T, base, key, method, path, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %s", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

func TestHTTP(t *testing.T) {
	base := server(t, sqliteRegistry(t, schema.Config{}))
	const p = "/api/v1/schemas"
	steps := []struct {
		name, key, method, path, body string
		status                        int
		want                          map[string]any // fields of the answer
	}{
		{"register", writeKey, "POST", p + "/subjects/orders-value/versions", `{"schema":` + v1 + `}`,
			201, map[string]any{"subject": "orders-value", "version": 1.0, "id": 1.0, "created": true}},
		{"register again", writeKey, "POST", p + "/subjects/orders-value/versions", `{"schema":` + v1 + `}`,
			200, map[string]any{"version": 1.0, "created": false}},
		{"register v2", writeKey, "POST", p + "/subjects/orders-value/versions", `{"schema":` + v2 + `}`,
			201, map[string]any{"version": 2.0, "id": 2.0}},
		{"check compatible", readKey, "POST", p + "/subjects/orders-value/check", `{"schema":{"type":"object"}}`,
			200, map[string]any{"compatible": true, "mode": "BACKWARD", "versions": []any{2.0}}},
		{"check incompatible", readKey, "POST", p + "/subjects/orders-value/check", `{"schema":` + v3 + `}`,
			200, map[string]any{"compatible": false}},
		{"register incompatible", writeKey, "POST", p + "/subjects/orders-value/versions", `{"schema":` + v3 + `}`,
			409, map[string]any{"type": schema.ProblemIncompatible, "errors": []any{map[string]any{"field": "schema",
				"message": "/total: type changed from number to string (breaks BACKWARD against version 2: new readers cannot read old data)"}}}},
		{"latest", readKey, "GET", p + "/subjects/orders-value/versions/latest", "",
			200, map[string]any{"version": 2.0, "schema": mustJSON(t, v2)}},
		{"version 1", readKey, "GET", p + "/subjects/orders-value/versions/1", "",
			200, map[string]any{"version": 1.0, "id": 1.0}},
		{"by id", readKey, "GET", p + "/ids/2", "",
			200, map[string]any{"subject": "orders-value", "version": 2.0}},
		{"subjects", readKey, "GET", p + "/subjects", "",
			200, map[string]any{"subjects": []any{map[string]any{"subject": "orders-value", "versions": 2.0, "latest": 2.0,
				"latest_id": 2.0, "mode": "BACKWARD", "mode_set": false}}}},
		{"versions", readKey, "GET", p + "/subjects/orders-value/versions", "", 200, nil},
		{"mode", readKey, "GET", p + "/subjects/orders-value/mode", "",
			200, map[string]any{"subject": "orders-value", "mode": "BACKWARD", "default": true}},
		{"set mode", writeKey, "PUT", p + "/subjects/orders-value/mode", `{"mode":"none"}`,
			200, map[string]any{"subject": "orders-value", "mode": "NONE"}},
		{"register under NONE", writeKey, "POST", p + "/subjects/orders-value/versions", `{"schema":` + v3 + `}`,
			201, map[string]any{"version": 3.0}},
		{"clear mode", writeKey, "DELETE", p + "/subjects/orders-value/mode", "",
			200, map[string]any{"mode": "BACKWARD", "default": true}},
		{"default mode", readKey, "GET", p + "/mode", "", 200, map[string]any{"mode": "BACKWARD"}},
		{"set default mode", writeKey, "PUT", p + "/mode", `{"mode":"FULL_TRANSITIVE"}`, 200, map[string]any{"mode": "FULL_TRANSITIVE"}},
		{"subject follows default", readKey, "GET", p + "/subjects/orders-value/mode", "",
			200, map[string]any{"mode": "FULL_TRANSITIVE", "default": true}},
		{"delete version", writeKey, "DELETE", p + "/subjects/orders-value/versions/3", "",
			200, map[string]any{"version": 3.0, "deleted": true}},
		{"deleted by id", readKey, "GET", p + "/ids/3", "", 200, map[string]any{"deleted": true}},
		{"delete subject", writeKey, "DELETE", p + "/subjects/orders-value", "",
			200, map[string]any{"subject": "orders-value", "versions": []any{1.0, 2.0}}},
		{"subjects after delete", readKey, "GET", p + "/subjects", "", 200, map[string]any{"subjects": []any{}}},
		{"deleted subjects", readKey, "GET", p + "/subjects?deleted=true", "", 200,
			map[string]any{"subjects": []any{map[string]any{"subject": "orders-value", "versions": 0.0, "latest": 0.0,
				"mode": "FULL_TRANSITIVE", "mode_set": false, "deleted": true}}}},
	}
	for _, s := range steps {
		status, body := call(t, base, s.key, s.method, s.path, s.body)
		if status != s.status {
			t.Fatalf("%s: got status %d, want %d; answer %v", s.name, status, s.status, body)
		}
		for k, want := range s.want {
			if got := body[k]; !jsonEqual(got, want) {
				t.Errorf("%s: %s: got %v, want %v", s.name, k, got, want)
			}
		}
	}
}

func TestHTTPBadInput(t *testing.T) {
	r := sqliteRegistry(t, schema.Config{MaxSchemaBytes: 1 << 10})
	base := server(t, r)
	mustRegister(t, r, "s", `{"type":"object"}`)
	const p = "/api/v1/schemas"
	tests := []struct {
		name, key, method, path, body string
		status                        int
		// detail is a part of the problem's detail; fields are the
		// fields its errors name, in order.
		detail string
		fields []string
	}{
		{"malformed JSON", writeKey, "POST", p + "/subjects/s/versions", "{\"schema\":\n {\"type\": }}",
			400, "line 2, column 11", nil},
		{"empty body", writeKey, "POST", p + "/subjects/s/versions", "", 400, "empty", nil},
		{"unknown field", writeKey, "POST", p + "/subjects/s/versions", `{"schema":{},"subject":"s","version":2}`,
			422, "unknown field", []string{"subject", "version"}},
		{"wrong type", writeKey, "PUT", p + "/subjects/s/mode", `{"mode":5}`, 422, "want a string", []string{"mode"}},
		{"schema missing", writeKey, "POST", p + "/subjects/s/versions", `{}`, 422, "required", []string{"schema"}},
		{"schema null", writeKey, "POST", p + "/subjects/s/check", `{"schema":null}`, 422, "required", []string{"schema"}},
		{"schema a string", writeKey, "POST", p + "/subjects/s/versions", `{"schema":"{\"type\":\"object\"}"}`,
			422, "a JSON Schema is an object or a boolean, not a string", []string{"schema"}},
		{"invalid schema", writeKey, "POST", p + "/subjects/s/versions", `{"schema":{"type":"object","properties":{"n":{"type":"integr"}}}}`,
			422, "/properties/n/type", []string{"schema.properties.n.type"}},
		{"invalid schema keyword value", writeKey, "POST", p + "/subjects/s/check", `{"schema":{"minLength":-1,"pattern":"("}}`,
			422, "/pattern: must be a valid regex (error parsing regexp: missing closing )", []string{"schema.minLength", "schema.pattern"}},
		{"reference outside", writeKey, "POST", p + "/subjects/s/versions", `{"schema":{"$ref":"https://example.com/s.json"}}`,
			422, "reference to https://example.com/s.json: references to other documents are not supported", []string{"schema"}},
		{"dangling reference", writeKey, "POST", p + "/subjects/s/versions", `{"schema":{"$ref":"#/$defs/missing"}}`,
			422, "#/$defs/missing", []string{"schema"}},
		{"schema too large", writeKey, "POST", p + "/subjects/s/versions", `{"schema":{"description":"` + strings.Repeat("x", 2000) + `"}}`,
			422, "more than the limit", []string{"schema"}},
		{"body too large", writeKey, "POST", p + "/subjects/s/versions", `{"schema":{"description":"` + strings.Repeat("x", 9000) + `"}}`,
			413, "larger than the limit", nil},
		{"bad subject", writeKey, "POST", p + "/subjects/s%20t/versions", `{"schema":{}}`, 422, "subject name", []string{"subject"}},
		{"bad version", readKey, "GET", p + "/subjects/s/versions/first", "", 422, "not a version", []string{"version"}},
		{"version 0", readKey, "GET", p + "/subjects/s/versions/0", "", 422, "not a version", []string{"version"}},
		{"bad id", readKey, "GET", p + "/ids/-1", "", 422, "not a schema id", []string{"id"}},
		{"unknown mode", writeKey, "PUT", p + "/subjects/s/mode", `{"mode":"sideways"}`, 422, "is unknown", []string{"mode"}},
		{"unknown query parameter", readKey, "GET", p + "/subjects?limit=5", "", 422, "unknown query parameter", []string{"limit"}},
		{"bad deleted", readKey, "GET", p + "/subjects/s/versions?deleted=maybe", "", 422, "true or false", []string{"deleted"}},
		{"query on a version", readKey, "GET", p + "/subjects/s/versions/1?deleted=true", "", 422, "takes none", []string{"deleted"}},
		{"unknown subject", readKey, "GET", p + "/subjects/nope/versions", "", 404, "subject nope has no versions", nil},
		{"unknown subject latest", readKey, "GET", p + "/subjects/nope/versions/latest", "", 404, "subject nope has no versions", nil},
		{"unknown version", readKey, "GET", p + "/subjects/s/versions/7", "", 404, "subject s has no version 7", nil},
		{"unknown id", readKey, "GET", p + "/ids/99", "", 404, "no schema has id 99", nil},
		{"delete unknown version", writeKey, "DELETE", p + "/subjects/s/versions/7", "", 404, "no version 7", nil},
		{"delete unknown subject", writeKey, "DELETE", p + "/subjects/nope", "", 404, "no versions", nil},
		{"method not allowed", writeKey, "PATCH", p + "/subjects/s/versions", `{}`, 405, "not allowed", nil},
		{"no credentials", "", "GET", p + "/subjects", "", 401, "no credentials", nil},
		{"read key writes", readKey, "POST", p + "/subjects/s/versions", `{"schema":{}}`, 403, "schemas.write", nil},
		{"read key sets the mode", readKey, "PUT", p + "/mode", `{"mode":"NONE"}`, 403, "schemas.write", nil},
		{"write key without read", "schemas.write", "GET", p + "/subjects", "", 403, "schemas.read", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, base, tt.key, tt.method, tt.path, tt.body)
			if status != tt.status {
				t.Fatalf("got status %d, want %d; answer %v", status, tt.status, body)
			}
			if detail, _ := body["detail"].(string); !strings.Contains(detail, tt.detail) {
				t.Errorf("detail %q does not contain %q", detail, tt.detail)
			}
			var fields []string
			errs, _ := body["errors"].([]any)
			for _, e := range errs {
				fields = append(fields, e.(map[string]any)["field"].(string))
			}
			if strings.Join(fields, " ") != strings.Join(tt.fields, " ") {
				t.Errorf("fields: got %q, want %q; errors %v", fields, tt.fields, errs)
			}
		})
	}
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
