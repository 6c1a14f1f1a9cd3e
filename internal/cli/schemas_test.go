package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/cli"
	"github.com/arus-platform/arus/internal/schemaapi"
	"github.com/arus-platform/arus/schema"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

// schemasKey is the one API key the schema test server accepts.
const schemasKey = "arus_test_schemas"

type schemasAuth struct{}

func (schemasAuth) RequestPrincipal(r *http.Request) (*auth.Principal, error) {
	if r.Header.Get("Authorization") != "Bearer "+schemasKey {
		return nil, auth.ErrNoCredentials
	}
	return &auth.Principal{Key: &auth.APIKey{Prefix: "test", Scopes: []string{"schemas.read", "schemas.write"}}}, nil
}

// schemasServer starts the API with the schema registry's routes, on
// SQLite in a fresh directory, and returns the environment that points
// the command at it.
func schemasServer(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	b, err := embedded.New(ctx, embedded.Config{Dir: filepath.Join(dir, "log"), Options: stream.Options{Logger: log}})
	if err != nil {
		t.Fatalf("embedded.New: %v", err)
	}
	db, err := store.Open(ctx, store.Config{Dir: dir, Component: "schema"})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	reg, err := schema.Open(ctx, db, schema.Config{})
	if err != nil {
		t.Fatalf("schema.Open: %v", err)
	}
	a, err := api.New(b, api.Config{Logger: log, Auth: schemasAuth{}})
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	schemaapi.Register(a, mux, reg)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		db.Close()
		_ = b.Close()
	})
	return map[string]string{"ARUS_SERVER": srv.URL, "ARUS_API_KEY": schemasKey}
}

// schemaFile writes a schema document to a file and returns its path.
func schemaFile(t *testing.T, doc string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "schema.json")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	orderV1 = `{"type":"object","properties":{"id":{"type":"string"},"total":{"type":"number"}},"required":["id","total"]}`
	orderV2 = `{"description":"v2","type":"object","properties":{"id":{"type":"string"},"total":{"type":"number"}},"required":["id"]}`
	orderV3 = `{"type":"object","properties":{"id":{"type":"string"},"total":{"type":"string"}},"required":["id"]}`
)

func TestSchemasCommands(t *testing.T) {
	env := schemasServer(t)
	steps := []struct {
		name  string
		stdin string
		args  []string
		// out holds what stdout must contain; fail, when set, what the
		// error must contain (and the command must exit 1).
		out, fail string
	}{
		{"register", "", []string{"schemas", "register", "orders-value", "--file", schemaFile(t, orderV1)},
			"Registered orders-value version 1 (id 1).", ""},
		{"register again from stdin by topic", orderV1, []string{"schemas", "register", "--topic", "orders", "--file", "-"},
			"orders-value already has this schema as version 1 (id 1).", ""},
		{"check compatible", "", []string{"schemas", "check", "orders-value", "--file", schemaFile(t, orderV2)},
			"Compatible with orders-value under BACKWARD (compared with version 1).", ""},
		{"check incompatible", orderV3, []string{"schemas", "check", "orders-value", "--file", "-"},
			"/total: type changed from number to string (breaks BACKWARD against version 1: new readers cannot read old data)",
			"not compatible with orders-value"},
		{"register incompatible", orderV3, []string{"schemas", "register", "orders-value", "--file", "-"},
			"", "incompatible under BACKWARD"},
		{"register v2", orderV2, []string{"schemas", "register", "orders-value", "--file", "-"},
			"Registered orders-value version 2 (id 2).", ""},
		{"list", "", []string{"schemas", "list"}, "orders-value  2         2       2   BACKWARD (default)", ""},
		{"versions", "", []string{"schemas", "versions", "orders-value"}, "2        2   ", ""},
		{"get latest", "", []string{"schemas", "get", "orders-value"}, `"description": "v2"`, ""},
		{"get version", "", []string{"schemas", "get", "--topic", "orders", "1"}, `"required": [`, ""},
		{"get by id", "", []string{"schemas", "get", "--id", "1"}, `"total": {`, ""},
		{"get missing version", "", []string{"schemas", "get", "orders-value", "9"}, "", "subject orders-value has no version 9"},
		{"mode", "", []string{"schemas", "mode", "orders-value"}, "orders-value: BACKWARD (the registry default)", ""},
		{"set mode", "", []string{"schemas", "mode", "orders-value", "none"}, "orders-value: NONE", ""},
		{"register under NONE", orderV3, []string{"schemas", "register", "orders-value", "--file", "-"}, "version 3 (id 3)", ""},
		{"unset mode", "", []string{"schemas", "mode", "--topic", "orders", "--unset"}, "orders-value: BACKWARD (the registry default)", ""},
		{"default mode", "", []string{"schemas", "mode", "--default"}, "Default mode: BACKWARD", ""},
		{"set default mode", "", []string{"schemas", "mode", "--default", "full-transitive"}, "Default mode: FULL_TRANSITIVE", ""},
		{"delete version", "", []string{"schemas", "delete", "orders-value", "3"}, "Deleted orders-value version 3 (id 3).", ""},
		{"deleted version by id", "", []string{"schemas", "get", "--id", "3"}, `"type": "string"`, ""},
		{"delete subject", "", []string{"schemas", "delete", "orders-value"}, "Deleted subject orders-value (version 1, 2).", ""},
		{"list deleted", "", []string{"schemas", "list", "--deleted"}, "deleted", ""},
		{"versions of a deleted subject", "", []string{"schemas", "versions", "orders-value"}, "", "subject orders-value has no versions"},
		{"invalid schema", `{"type":"text"}`, []string{"schemas", "register", "s", "--file", "-"}, "", "invalid JSON Schema: /type"},
		{"not JSON", `{"type":`, []string{"schemas", "check", "s", "--file", "-"}, "", "standard input is not a JSON document"},
		{"missing file", "", []string{"schemas", "register", "s", "--file", filepath.Join(t.TempDir(), "none.json")}, "", "no such file"},
	}
	for _, s := range steps {
		r := arus(t, env, s.stdin, s.args...)
		if s.fail != "" {
			if r.err == nil || !strings.Contains(r.err.Error(), s.fail) || cli.ExitCode(r.err) != 1 {
				t.Fatalf("%s: got error %v, want one containing %q (exit 1)", s.name, r.err, s.fail)
			}
		} else if r.err != nil {
			t.Fatalf("%s: %v\nstderr: %s", s.name, r.err, r.stderr)
		}
		if !strings.Contains(r.stdout, s.out) {
			t.Fatalf("%s: stdout %q does not contain %q", s.name, r.stdout, s.out)
		}
	}
}

func TestSchemasGetPrintsTheDocument(t *testing.T) {
	env := schemasServer(t)
	must(t, env, orderV1, "schemas", "register", "orders-value", "--file", "-")
	r := must(t, env, "", "schemas", "get", "orders-value", "latest")
	if got, want := compact(t, r.stdout), compact(t, orderV1); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if !strings.Contains(r.stderr, "orders-value version 1 (id 1)") {
		t.Errorf("stderr %q does not say which version", r.stderr)
	}
}

// compact re-encodes a JSON document without spaces and with sorted keys.
func compact(t *testing.T, doc string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestSchemasNeedsTheKey(t *testing.T) {
	env := schemasServer(t)
	r := arus(t, map[string]string{"ARUS_SERVER": env["ARUS_SERVER"]}, "", "schemas", "list")
	if r.err == nil || !strings.Contains(r.err.Error(), "no credentials") {
		t.Errorf("without a key: got %v, want the server's 401", r.err)
	}
	must(t, map[string]string{"ARUS_SERVER": env["ARUS_SERVER"]}, "", "schemas", "list", "--api-key", schemasKey)
	r = arus(t, map[string]string{"ARUS_SERVER": "http://127.0.0.1:1"}, "", "schemas", "list")
	if r.err == nil || cli.ExitCode(r.err) != 1 {
		t.Errorf("no server: got %v, want a failure with exit status 1", r.err)
	}
}

func TestSchemasUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"schemas"}, "no action"},
		{[]string{"schemas", "rename"}, `unknown action "rename"`},
		{[]string{"schemas", "versions"}, "no subject given"},
		{[]string{"schemas", "versions", "bad/name"}, `subject name "bad/name"`},
		{[]string{"schemas", "list", "extra"}, `unexpected argument "extra"`},
		{[]string{"schemas", "get", "s", "first"}, `"first" is not a version`},
		{[]string{"schemas", "get", "s", "1", "2"}, `unexpected argument "2"`},
		{[]string{"schemas", "get", "--id", "3", "s"}, "--id names the schema alone"},
		{[]string{"schemas", "get", "--id", "-3"}, "--id -3"},
		{[]string{"schemas", "register", "s"}, "no schema given"},
		{[]string{"schemas", "register", "s", "x", "--file", "-"}, `unexpected argument "x"`},
		{[]string{"schemas", "check"}, "no subject given"},
		{[]string{"schemas", "mode", "s", "sideways"}, `compatibility mode "sideways" is unknown`},
		{[]string{"schemas", "mode", "s", "full", "--unset"}, "not both"},
		{[]string{"schemas", "mode", "--default", "--unset"}, "--default sets the registry default"},
		{[]string{"schemas", "mode", "s", "full", "none"}, `unexpected argument "none"`},
		{[]string{"schemas", "delete", "s", "0"}, `"0" is not a version`},
		{[]string{"schemas", "list", "--bogus"}, "bogus"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := arus(t, nil, "", tt.args...)
			var ue *cli.UsageError
			if !errors.As(r.err, &ue) || cli.ExitCode(r.err) != 2 {
				t.Fatalf("got %v, want a usage error", r.err)
			}
			if !strings.Contains(r.err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", r.err, tt.want)
			}
			if !strings.Contains(r.stderr, "Usage") {
				t.Errorf("stderr does not show the usage: %q", r.stderr)
			}
		})
	}
	r := must(t, nil, "", "schemas", "--help")
	if !strings.Contains(r.stdout, "arus schemas register orders-value --file order.json") {
		t.Errorf("help lacks the examples: %q", r.stdout)
	}
}
