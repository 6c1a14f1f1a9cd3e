package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCreateAndRestore(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	for _, name := range []string{"stream.db", "auth.db", "destinations/shop.db"} {
		path := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `CREATE TABLE t (v TEXT); INSERT INTO t VALUES (?)`, name); err != nil {
			t.Fatal(err)
		}
		// Left open, as a running server leaves them: the rows are in the WAL.
		defer db.Close()
	}
	if err := os.WriteFile(filepath.Join(src, "secret.key"), []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m, err := Create(ctx, src, &buf)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	var order []string
	for _, f := range m.Files {
		order = append(order, f.Path)
	}
	if got, want := strings.Join(order, " "), "auth.db destinations/shop.db stream.db secret.key"; got != want {
		t.Errorf("files: got %q, want %q (the log after the stores)", got, want)
	}
	dst := filepath.Join(t.TempDir(), "restored")
	if _, err := Restore(ctx, bytes.NewReader(buf.Bytes()), dst); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	for _, name := range []string{"stream.db", "auth.db", "destinations/shop.db"} {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dst, filepath.FromSlash(name))+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		var v string
		if err := db.QueryRowContext(ctx, `SELECT v FROM t`).Scan(&v); err != nil || v != name {
			t.Errorf("%s restored: got %q, %v; want %q", name, v, err, name)
		}
		db.Close()
	}
}

// archive builds a backup by hand: a manifest and files.
func archive(t *testing.T, files map[string]string, manifest *Manifest) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	add := func(name string, body []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	if manifest != nil {
		b, _ := json.Marshal(manifest)
		add(manifestName, b)
	}
	for name, body := range files {
		add(name, []byte(body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// Restore refuses a bad archive and leaves the directory empty; Verify
// refuses it alike, but for what only unpacking finds (a database that
// fails quick_check, a directory that is not empty).
func TestRestoreRefuses(t *testing.T) {
	key := map[string]string{"secret.key": "k"}
	good := &Manifest{Format: format, Files: []File{{Path: "secret.key", Bytes: 1, SHA256: sum("k")}}}
	whole := archive(t, key, good)
	if _, err := Verify(bytes.NewReader(whole)); err != nil {
		t.Fatalf("Verify of a good archive: %v", err)
	}
	tests := []struct {
		name    string
		archive []byte
		full    bool // the target directory already holds a file
		want    string
	}{
		{"not gzip", []byte("plain"), false, "not an Arus backup"},
		{"no manifest", archive(t, key, nil), false, "has no MANIFEST.json"},
		{"wrong format", archive(t, key, &Manifest{Format: 9}), false, "format 9"},
		{"bad checksum", archive(t, map[string]string{"secret.key": "x"}, good), false, "checksum"},
		{"missing file", archive(t, nil, good), false, "not in the archive"},
		{"extra file", archive(t, map[string]string{"secret.key": "k", "other": "o"}, good), false, "not in the manifest"},
		{"escapes", archive(t, map[string]string{"../evil": "e"}, good), false, "leaves the data directory"},
		{"corrupt database", archive(t, map[string]string{"a.db": "not sqlite"}, &Manifest{Format: format, Files: []File{{Path: "a.db", SHA256: sum("not sqlite")}}}), false, "a.db"},
		{"not empty", archive(t, key, good), true, "not empty"},
		{"cut short", whole[:len(whole)-4], false, "read archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if tt.full {
				os.MkdirAll(dir, 0o750)
				os.WriteFile(filepath.Join(dir, "x"), nil, 0o600)
			}
			if tt.name != "corrupt database" && !tt.full {
				if _, err := Verify(bytes.NewReader(tt.archive)); err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("Verify: got %v, want an error containing %q", err, tt.want)
				}
			}
			_, err := Restore(context.Background(), bytes.NewReader(tt.archive), dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if !tt.full {
				if entries, _ := os.ReadDir(dir); len(entries) != 0 {
					t.Errorf("a failed restore left %d entries in %s", len(entries), dir)
				}
			}
		})
	}
}

// A data directory with no database to copy is refused as such, and the
// archive is not begun.
func TestCreateRefusesNothingToCopy(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret.key"), make([]byte, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := Create(context.Background(), dir, &out); !errors.Is(err, ErrNoDatabases) || out.Len() != 0 {
		t.Errorf("a directory without databases: %v with %d bytes written, want ErrNoDatabases and none", err, out.Len())
	}
}
