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
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Restore unpacks the backup read from r into dir, which must be missing
// or empty. It checks every file against the manifest's checksum and every
// database with SQLite's quick_check; on any error it leaves dir as it
// found it, empty.
func Restore(ctx context.Context, r io.Reader, dir string) (m *Manifest, err error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("restore: %s is not empty; restore into a new or empty directory", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer func() {
		if err != nil {
			emptyDir(dir)
		}
	}()
	m, err = readArchive(r, func(rel string, body io.Reader) (string, error) {
		return extract(body, filepath.Join(dir, filepath.FromSlash(rel)))
	})
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	for _, f := range m.Files {
		if strings.HasSuffix(f.Path, ".db") {
			if err := check(ctx, filepath.Join(dir, filepath.FromSlash(f.Path))); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// Verify reads the backup from r to its end and checks it as Restore
// does, writing nothing: the archive is whole, holds its manifest, and
// every file in it matches the manifest's checksum. (Restore also
// runs SQLite's quick_check on the databases it unpacks.)
func Verify(r io.Reader) (*Manifest, error) {
	m, err := readArchive(r, func(_ string, body io.Reader) (string, error) {
		h := sha256.New()
		if _, err := io.Copy(h, body); err != nil {
			return "", fmt.Errorf("read archive: %w", err)
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify backup: %w", err)
	}
	return m, nil
}

// readArchive reads a backup from r to the end of its gzip stream, handing
// every file but the manifest to put with its slash-separated path inside
// the data directory; put returns the file's SHA-256 in hex. It then checks
// that the manifest lists exactly the files of the archive, with their
// checksums.
func readArchive(r io.Reader, put func(rel string, body io.Reader) (string, error)) (*Manifest, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("not an Arus backup (gzip): %w", err)
	}
	tr := tar.NewReader(zr)
	var m *Manifest
	sums := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read archive: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("archive entry %q is not a regular file", h.Name)
		}
		if h.Name == manifestName {
			m = &Manifest{}
			if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(m); err != nil {
				return nil, fmt.Errorf("read %s: %w", manifestName, err)
			}
			if m.Format != format {
				return nil, fmt.Errorf("backup format %d, want %d", m.Format, format)
			}
			continue
		}
		clean := path.Clean(h.Name)
		if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return nil, fmt.Errorf("archive entry %q leaves the data directory", h.Name)
		}
		sum, err := put(clean, tr)
		if err != nil {
			return nil, err
		}
		sums[clean] = sum
	}
	// The rest of the gzip stream: its checksum and length, which a cut
	// archive lacks.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return nil, fmt.Errorf("read archive: %w", err)
	}
	if m == nil {
		return nil, fmt.Errorf("the archive has no %s", manifestName)
	}
	for _, f := range m.Files {
		got, ok := sums[f.Path]
		if !ok {
			return nil, fmt.Errorf("%s is in the manifest but not in the archive", f.Path)
		}
		if got != f.SHA256 {
			return nil, fmt.Errorf("%s: checksum %s, the manifest says %s", f.Path, got, f.SHA256)
		}
		delete(sums, f.Path)
	}
	for p := range sums {
		return nil, fmt.Errorf("%s is in the archive but not in the manifest", p)
	}
	return m, nil
}

func extract(r io.Reader, dst string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return "", err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), r); err != nil {
		f.Close()
		return "", fmt.Errorf("write %s: %w", dst, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("write %s: %w", dst, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", dst, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// check runs SQLite's quick_check on a restored database.
func check(ctx context.Context, file string) error {
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		return fmt.Errorf("restore: open %s: %w", file, err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&res); err != nil {
		return fmt.Errorf("restore: check %s: %w", file, err)
	}
	if res != "ok" {
		return fmt.Errorf("restore: check %s: %s", file, res)
	}
	return nil
}

// emptyDir empties dir after a failed restore.
func emptyDir(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}
