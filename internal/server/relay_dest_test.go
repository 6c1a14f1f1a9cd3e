package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// arus serve keeps SQLite destinations in <data>/destinations (0700) and
// refuses every name that leads to the data directory's own files.
func TestRelaySQLiteDestinationsAreConfined(t *testing.T) {
	data := t.TempDir()
	r := start(t, Config{Data: data})
	fi, err := os.Stat(filepath.Join(data, "destinations"))
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("destinations directory: %v, %v; want a 0700 directory", fi, err)
	}
	admin := r.key(t, "relay.read", "relay.write")
	for _, name := range []string{"../auth.db", "../relay.db", "../secret.key", filepath.Join(data, "auth.db"),
		filepath.Join(data, "secret.key"), "/etc/passwd"} {
		rep := r.call(t, "POST", "/api/v1/relay/destinations", admin, fmt.Sprintf(`{"name":"x","kind":"sqlite","database":%q,"create":true}`, name))
		if rep.status != 422 || !strings.Contains(rep.body, `"field":"database"`) {
			t.Errorf("destination on %s: %d %s, want 422 naming database", name, rep.status, rep.body)
		}
	}
	if rep := r.call(t, "POST", "/api/v1/relay/destinations", admin, `{"name":"x","kind":"sqlite","database":"x.db","create":true}`); rep.status != 201 {
		t.Errorf("destination inside: %d %s", rep.status, rep.body)
	}
	if _, err := os.Stat(filepath.Join(data, "destinations", "x.db")); err != nil {
		t.Errorf("the new file: %v", err)
	}
}

func TestRelayFlagsAreChecked(t *testing.T) {
	data := t.TempDir()
	cfg := Config{Data: data, Broker: "embedded", RelayAllowHosts: []string{"10.0.0.0/99"}}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "relay-allow-hosts") {
		t.Errorf("a bad allowed host: %v", err)
	}
	cfg = Config{Data: data, Broker: "embedded", RelaySQLiteDir: filepath.Dir(data), Listen: "127.0.0.1:0", Components: Components}
	if s, err := Start(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "Arus itself uses") {
		if s != nil {
			s.close()
		}
		t.Errorf("a SQLite directory holding the data directory: %v", err)
	}
}
