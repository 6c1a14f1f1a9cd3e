package server

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arus-platform/arus/stream/encrypt"
)

// TestTopicKeysKeepValuesEncryptedAtRest runs the server with a keyring
// for one topic: what the API produces to it is stored sealed (the engine
// holds no clear value), and the API, holding the key, reads it back as
// produced; a topic outside the keyring is stored as it came.
func TestTopicKeysKeepValuesEncryptedAtRest(t *testing.T) {
	ring, _ := json.Marshal(encrypt.Keyring{Topics: map[string]encrypt.TopicKeys{
		"payments": {Current: "2026-12", Keys: map[string][]byte{"2026-12": encrypt.NewKey()}}}})
	path := filepath.Join(t.TempDir(), "topic-keys.json")
	if err := os.WriteFile(path, ring, 0o600); err != nil {
		t.Fatal(err)
	}
	r := start(t, Config{TopicKeys: path})
	admin := r.key(t, permsAll("")...)
	for _, topic := range []string{"payments", "public"} {
		for _, c := range []struct{ method, path, body string }{
			{"POST", "/api/v1/topics", `{"name":"` + topic + `","partitions":1}`},
			{"POST", "/api/v1/topics/" + topic + "/records", `{"records":[{"key":"k","value":"{\"card\":\"4111111111114242\"}"}]}`},
		} {
			if rep := r.call(t, c.method, c.path, admin, c.body); rep.status >= 300 {
				t.Fatalf("%s %s: %d %s", c.method, c.path, rep.status, rep.body)
			}
		}
		rep := r.call(t, "GET", "/api/v1/topics/"+topic+"/partitions/0/records", admin, "")
		if !strings.Contains(rep.body, `4111111111114242`) || strings.Contains(rep.body, encrypt.Header) {
			t.Errorf("%s: the API reads %s", topic, rep.body)
		}
		stored, err := r.engine.Read(context.Background(), topic, 0, 0, 1)
		if err != nil || len(stored) != 1 {
			t.Fatalf("%s: engine read: %v", topic, err)
		}
		if sealed := !strings.Contains(string(stored[0].Value), "4111"); sealed != (topic == "payments") {
			t.Errorf("%s: stored value %q", topic, stored[0].Value)
		}
	}
	if _, err := Start(context.Background(), Config{Data: t.TempDir(), Listen: "127.0.0.1:0", Broker: "embedded", TopicKeys: filepath.Join(t.TempDir(), "missing.json")}); err == nil {
		t.Error("a missing keyring file was accepted")
	}
}
