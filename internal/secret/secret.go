// Package secret encrypts small secrets at rest — destination passwords and
// the like — with AES-256-GCM under one key.
//
// The key comes from configuration (base64) or from a key file in the data
// directory, created with mode 0600 on first start. Ciphertexts are
// versioned ("v1:" prefix) and bound to a context string, so a value sealed
// for one purpose (say, destination 7's password) cannot be moved to another.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

const prefix = "v1:"

// ErrDecrypt is returned for a ciphertext that was not sealed by this key
// and context, or was altered.
var ErrDecrypt = errors.New("secret: cannot decrypt: wrong key, wrong context or altered value")

// Box seals and opens secrets with one key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret: key is %d bytes; it must be %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return &Box{aead: aead}, nil
}

// ParseKey decodes a base64 key, as given in configuration.
func ParseKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("secret: key is not valid base64: %v", err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret: key decodes to %d bytes; it must be %d (generate one with: head -c 32 /dev/urandom | base64)", len(key), KeySize)
	}
	return key, nil
}

// LoadOrCreateKeyFile reads the key file at path, or creates it with a new
// random key and mode 0600 when it does not exist. It refuses a key file
// that others can read.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, KeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("secret: generate key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("secret: create key directory: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return LoadOrCreateKeyFile(path) // another process created it first
		}
		if err != nil {
			return nil, fmt.Errorf("secret: create key file: %w", err)
		}
		_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
		serr := f.Sync()
		cerr := f.Close()
		if err := errors.Join(werr, serr, cerr); err != nil {
			return nil, fmt.Errorf("secret: write key file %s: %w", path, err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secret: read key file: %w", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("secret: key file: %w", err)
	}
	if mode := info.Mode().Perm(); mode&0o077 != 0 {
		return nil, fmt.Errorf("secret: key file %s has mode %04o; it must not be readable by group or others (chmod 600 %s)", path, mode, path)
	}
	key, err := ParseKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return key, nil
}

// Derive returns a key of size bytes for one purpose, derived from key with
// HKDF-SHA256: one configured key serves several uses (signing admission
// tokens, say), every process holding it derives the same keys, and no
// derived key reveals the key or another purpose's.
func Derive(key []byte, purpose string, size int) ([]byte, error) {
	out, err := hkdf.Key(sha256.New, key, nil, "arus "+purpose, size)
	if err != nil {
		return nil, fmt.Errorf("secret: derive a key for %s: %w", purpose, err)
	}
	return out, nil
}

// Seal encrypts plaintext bound to context and returns printable text.
func (b *Box) Seal(plaintext, context string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secret: nonce: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return prefix + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts a value made by Seal with the same context.
func (b *Box) Open(sealed, context string) (string, error) {
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return "", ErrDecrypt
	}
	raw, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", ErrDecrypt
	}
	n := b.aead.NonceSize()
	pt, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(context))
	if err != nil {
		return "", ErrDecrypt
	}
	return string(pt), nil
}
