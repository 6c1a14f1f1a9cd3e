package relay

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// sqliteDir confines SQLite destinations to one directory. A destination
// names its file relative to the directory (an absolute path inside it is
// taken too); the name is resolved, symbolic links included, every time
// the file is opened, and must stay inside. Files Arus itself uses are
// refused even when reached through a hard link.
type sqliteDir struct {
	dir      string   // absolute, links resolved
	reserved []string // absolute, links resolved
}

// newSQLiteDir creates dir (0700) when missing and checks that it holds
// none of the reserved paths.
func newSQLiteDir(dir string, reserved []string) (*sqliteDir, error) {
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("relay: SQLite directory: %w", err)
	}
	real, err := realPath(dir)
	if err != nil {
		return nil, fmt.Errorf("relay: SQLite directory: %w", err)
	}
	s := &sqliteDir{dir: real}
	for _, r := range reserved {
		if r == "" {
			continue
		}
		rr, err := realPath(r)
		if errors.Is(err, fs.ErrNotExist) {
			rr, err = filepath.Abs(r)
		}
		if err != nil {
			return nil, fmt.Errorf("relay: %s: %w", r, err)
		}
		if within(rr, real) {
			return nil, fmt.Errorf("relay: the SQLite directory %s holds %s, which Arus itself uses; give SQLite destinations a directory of their own", dir, r)
		}
		s.reserved = append(s.reserved, rr)
	}
	return s, nil
}

func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// within reports whether p is dir or lies inside it (both clean and
// absolute).
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// outside is the one answer for every name that does not resolve to a
// file inside the directory: the answer is the same whether or not
// anything exists where the name leads.
const outside = "must name a file inside the server's SQLite directory, relative to it: no \"..\", no link that leads out, in a directory that exists"

// resolve returns the path of the file name names and whether it exists,
// or what is wrong with the name, for the database field.
func (s *sqliteDir) resolve(name string) (path string, exists bool, msg string) {
	if s == nil {
		return "", false, "SQLite destinations are turned off on this server (it has no SQLite directory)"
	}
	if name == "" {
		return "", false, "is required: the SQLite file, relative to the server's SQLite directory"
	}
	if slices.Contains(strings.FieldsFunc(filepath.ToSlash(name), func(r rune) bool { return r == '/' }), "..") {
		return "", false, outside
	}
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(s.dir, p)
	}
	p = filepath.Clean(p)
	if !within(p, s.dir) || p == s.dir {
		return "", false, outside
	}
	real, err := filepath.EvalSymlinks(p)
	switch {
	case err == nil:
		exists = true
	case errors.Is(err, fs.ErrNotExist):
		if _, lerr := os.Lstat(p); lerr == nil {
			return "", false, outside // a link to nowhere
		}
		parent, perr := filepath.EvalSymlinks(filepath.Dir(p))
		if perr != nil {
			return "", false, outside
		}
		real = filepath.Join(parent, filepath.Base(p))
	default:
		return "", false, outside
	}
	if !within(real, s.dir) || real == s.dir {
		return "", false, outside
	}
	if exists {
		fi, err := os.Stat(real)
		if err != nil || !fi.Mode().IsRegular() {
			return "", false, "must name a regular file"
		}
		if s.reservedFile(real, fi) {
			return "", false, "is a file Arus itself uses; SQLite destinations may not write into it"
		}
	}
	return real, exists, ""
}

// reservedFile reports whether the file at p (with fi) is one of the
// reserved paths or, through a hard link, the same file as one of them or
// as an entry of a reserved directory.
func (s *sqliteDir) reservedFile(p string, fi os.FileInfo) bool {
	same := func(q string) bool {
		qi, err := os.Stat(q)
		return err == nil && os.SameFile(fi, qi)
	}
	for _, r := range s.reserved {
		if p == r || same(r) {
			return true
		}
		entries, err := os.ReadDir(r)
		if err != nil {
			continue
		}
		for _, e := range entries {
			q := filepath.Join(r, e.Name())
			if !within(s.dir, q) && e.Type().IsRegular() && same(q) {
				return true
			}
		}
	}
	return false
}

// sqliteDSN is the driver's name for the file at path: a file: URI, so
// that no part of the name is read as a parameter, opened read-write, and
// created only when create is set.
func sqliteDSN(path string, create bool, options map[string]string) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path)}
	mode := "rw"
	if create {
		mode = "rwc"
	}
	q := url.Values{"mode": {mode}}
	for k, v := range options {
		q.Set("_"+k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}
