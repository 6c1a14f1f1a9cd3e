package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The API key comes from ARUS_API_KEY or a file, so that it need not show
// in the process list; --api-key works but its help says why not to use it.
func TestAPIKeyFromFile(t *testing.T) {
	data := t.TempDir()
	key := mustKey(t, data, "topics.read")
	url, stop := serve(t, map[string]string{"ARUS_DATA": data, "ARUS_COMPONENTS": "backbone"})
	t.Cleanup(func() { _ = stop() })
	file := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(file, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	server := map[string]string{"ARUS_SERVER": url}
	withEnv := func(k, v string) map[string]string {
		return map[string]string{"ARUS_SERVER": url, k: v}
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"--api-key-file", server, []string{"--api-key-file", file}},
		{"ARUS_API_KEY_FILE", withEnv("ARUS_API_KEY_FILE", file), nil},
		{"ARUS_API_KEY", withEnv("ARUS_API_KEY", key), nil},
		{"--api-key-file over ARUS_API_KEY", withEnv("ARUS_API_KEY", "arus_wrong"), []string{"--api-key-file", file}},
	} {
		args := append([]string{"topics", "list"}, tc.args...)
		if r := arus(t, tc.env, "", args...); r.err != nil {
			t.Errorf("%s: %v\n%s", tc.name, r.err, r.stderr)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"both on the command line", []string{"--api-key", key, "--api-key-file", file}, "not both"},
		{"missing file", []string{"--api-key-file", filepath.Join(t.TempDir(), "nope")}, "--api-key-file"},
	} {
		args := append([]string{"topics", "list"}, tc.args...)
		r := arus(t, server, "", args...)
		if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, r.err, tc.want)
		}
	}
	help := must(t, nil, "", "topics", "list", "--help").stdout
	if !strings.Contains(help, "--api-key-file") || !strings.Contains(help, "process list") {
		t.Errorf("help does not offer --api-key-file or say why --api-key is unwise:\n%s", help)
	}
}

// keys create --owner makes a key that belongs to a user; keys list says
// whose each key is.
func TestKeysOwner(t *testing.T) {
	data := t.TempDir()
	_, stop := serve(t, map[string]string{"ARUS_DATA": data, "ARUS_COMPONENTS": "backbone", "ARUS_ADMIN_PASSWORD": "an admin passphrase"})
	t.Cleanup(func() { _ = stop() })
	must(t, nil, "", "keys", "create", "--data", data, "--name", "owned", "--scope", "topics.read", "--owner", "admin")
	must(t, nil, "", "keys", "create", "--data", data, "--name", "service", "--scope", "topics.read")
	list := must(t, nil, "", "keys", "list", "--data", data).stdout
	for _, want := range []string{"OWNER", "owned     admin", "service   -"} {
		if !strings.Contains(strings.Join(strings.Fields(list), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("keys list lacks %q:\n%s", want, list)
		}
	}
	r := arus(t, nil, "", "keys", "create", "--data", data, "--name", "x", "--scope", "topics.read", "--owner", "nobody")
	if r.err == nil || !strings.Contains(r.err.Error(), "--owner nobody") {
		t.Errorf("keys create --owner nobody: %v, want an error naming the owner", r.err)
	}
}
