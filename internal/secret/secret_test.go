package secret

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	key, err := LoadOrCreateKeyFile(filepath.Join(t.TempDir(), "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	box, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := box.Seal("hunter2", "destination:7")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "hunter2") {
		t.Fatalf("sealed value %q contains the plaintext", sealed)
	}
	again, _ := box.Seal("hunter2", "destination:7")
	if again == sealed {
		t.Errorf("two seals of the same value are equal; nonces must differ")
	}
	if got, err := box.Open(sealed, "destination:7"); err != nil || got != "hunter2" {
		t.Errorf("Open = %q, %v; want hunter2", got, err)
	}
	other, _ := New(make([]byte, KeySize))
	tampered := sealed[:len(sealed)-2] + "AA"
	for name, try := range map[string]func() (string, error){
		"wrong context": func() (string, error) { return box.Open(sealed, "destination:8") },
		"wrong key":     func() (string, error) { return other.Open(sealed, "destination:7") },
		"tampered":      func() (string, error) { return box.Open(tampered, "destination:7") },
		"not sealed":    func() (string, error) { return box.Open("hunter2", "destination:7") },
	} {
		if _, err := try(); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error %v, want ErrDecrypt", name, err)
		}
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "secret.key")
	k1, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode %04o, want 0600", mode)
	}
	k2, err := LoadOrCreateKeyFile(path)
	if err != nil || string(k1) != string(k2) {
		t.Fatalf("second load returned a different key (%v)", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKeyFile(path); err == nil || !strings.Contains(err.Error(), "mode 0644") {
		t.Errorf("world-readable key file: error %v, want one naming mode 0644", err)
	}
}

func TestParseKey(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"not base64!", "not valid base64"},
		{"c2hvcnQ=", "decodes to 5 bytes; it must be 32"},
	} {
		if _, err := ParseKey(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseKey(%q) = %v, want error containing %q", c.in, err, c.want)
		}
	}
}

// A derived key is the same for the same key and purpose, and differs for
// another purpose or another key.
func TestDerive(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, KeySize), bytes.Repeat([]byte{2}, KeySize)
	a, err := Derive(k1, "tokens", 32)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Derive(k1, "tokens", 32)
	other, _ := Derive(k1, "links", 32)
	otherKey, _ := Derive(k2, "tokens", 32)
	if len(a) != 32 || !bytes.Equal(a, again) {
		t.Errorf("derive twice: %x and %x, want the same 32 bytes", a, again)
	}
	if bytes.Equal(a, other) || bytes.Equal(a, otherKey) || bytes.Equal(a, k1) {
		t.Error("a derived key equals another purpose's, another key's, or the key")
	}
}
