// Package backup copies an Arus data directory while the server runs, and
// brings a copy back into an empty directory.
//
// A backup is a gzip-compressed tar archive holding MANIFEST.json, a
// snapshot of every SQLite database under the data directory (the embedded
// log stream.db, the stores, SQLite relay destinations under destinations/)
// and secret.key. Each database is copied with SQLite's VACUUM INTO, which
// reads one transaction's view of the file while writers carry on (in WAL
// mode a reader does not block them).
//
// Consistency: the embedded log is copied last, after every store. So every
// record acknowledged before the backup began is in it (an acknowledged
// record is committed to stream.db, and the log's copy starts after the
// backup did), and everything a store refers to in the log — a route's
// position, a delivery-log entry, a saga step's record — is in the copied
// log too. Records written while the stores were being copied may be in the
// log without their effects in the stores; consumer groups' offsets are in
// the log, so after a restore those records are delivered again
// (at-least-once, and exactly once into relay destinations that keep their
// positions).
package backup

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver
)

// Names inside a data directory.
const (
	logFile      = "stream.db"
	keyFile      = "secret.key"
	manifestName = "MANIFEST.json"
	format       = 1
)

// Manifest describes a backup.
type Manifest struct {
	Format  int       `json:"format"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	Files   []File    `json:"files"`
}

// File is one file of a backup.
type File struct {
	Path   string `json:"path"` // slash-separated, relative to the data directory
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// ErrNoDatabases is returned by [Create] for a data directory without a
// database to copy: a server whose stores are all on PostgreSQL and whose
// log is on Kafka or Redis keeps nothing there but its key.
var ErrNoDatabases = errors.New("backup: nothing to copy")

// Create writes a backup of the data directory dir to w. It reads only: the
// server keeps running and accepting records.
func Create(ctx context.Context, dir string, w io.Writer) (*Manifest, error) {
	m := &Manifest{Format: format, Started: time.Now().UTC()}
	dbs, err := databases(dir)
	if err != nil {
		return nil, err
	}
	if len(dbs) == 0 {
		return nil, fmt.Errorf("%w: %s holds no Arus databases (*.db)", ErrNoDatabases, dir)
	}
	tmp, err := os.MkdirTemp("", "arus-backup-")
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)

	var files []string
	for _, rel := range dbs {
		dst := filepath.Join(tmp, filepath.FromSlash(rel))
		if err := snapshot(ctx, filepath.Join(dir, filepath.FromSlash(rel)), dst); err != nil {
			return nil, err
		}
		files = append(files, rel)
	}
	if b, err := os.ReadFile(filepath.Join(dir, keyFile)); err == nil {
		if err := os.WriteFile(filepath.Join(tmp, keyFile), b, 0o600); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		files = append(files, keyFile)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("backup: read %s: %w", keyFile, err)
	}
	m.Ended = time.Now().UTC()
	for _, rel := range files {
		f, err := describe(tmp, rel)
		if err != nil {
			return nil, err
		}
		m.Files = append(m.Files, f)
	}
	if err := writeArchive(w, tmp, m); err != nil {
		return nil, err
	}
	return m, nil
}

// databases lists the SQLite files under dir, the embedded log last.
func databases(dir string) ([]string, error) {
	var out []string
	hasLog := false
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(d.Name(), ".db") {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == logFile {
			hasLog = true
			return nil
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("backup: list %s: %w", dir, err)
	}
	slices.Sort(out)
	if hasLog {
		out = append(out, logFile)
	}
	return out, nil
}

// snapshot copies the database at src into a new file dst with VACUUM INTO.
func snapshot(ctx context.Context, src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+src+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("backup: open %s: %w", src, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("backup: copy %s: %w", src, err)
	}
	return nil
}

func describe(root, rel string) (File, error) {
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return File{}, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, fmt.Errorf("backup: read %s: %w", rel, err)
	}
	return File{Path: rel, Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

func writeArchive(w io.Writer, root string, m *Manifest) error {
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: manifestName, Mode: 0o600, Size: int64(len(body)), ModTime: m.Ended, Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("backup: write archive: %w", err)
	}
	if _, err := tw.Write(body); err != nil {
		return fmt.Errorf("backup: write archive: %w", err)
	}
	for _, f := range m.Files {
		if err := addFile(tw, root, f, m.Ended); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("backup: write archive: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("backup: write archive: %w", err)
	}
	return nil
}

func addFile(tw *tar.Writer, root string, f File, at time.Time) error {
	in, err := os.Open(filepath.Join(root, filepath.FromSlash(f.Path)))
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer in.Close()
	if err := tw.WriteHeader(&tar.Header{Name: f.Path, Mode: 0o600, Size: f.Bytes, ModTime: at, Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("backup: write archive: %w", err)
	}
	if _, err := io.Copy(tw, in); err != nil {
		return fmt.Errorf("backup: write archive: %s: %w", f.Path, err)
	}
	return nil
}
