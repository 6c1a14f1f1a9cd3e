package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/backup"
)

func runBackup(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "backup", "arus backup --data DIR --out FILE\n  arus backup --server URL --out FILE", `
Writes a copy of the data directory of a server, running or stopped, to FILE
(a gzip-compressed tar archive): every SQLite database in it — the embedded
log, the stores, SQLite relay destinations — and secret.key. Intake goes on
while it runs. Every record acknowledged before the backup began is in it, and
the stores are copied before the log, so nothing they refer to is missing.

With --data it runs on the server's machine and reads the directory itself.
With --server it asks a running server for the backup of its own data
directory (GET /api/v1/backup), from anywhere that reaches its API: the API
key (ARUS_API_KEY or --api-key-file) must hold the scope backup.read, which
no other scope implies. The archive's checksums are checked as it arrives;
FILE appears only once it is whole. One backup runs at a time on a server.

With --db on PostgreSQL, back the database up with pg_dump first; this
copies what Arus keeps on disk.`)
	data := f.String("data", "./arus-data", "data `dir`ectory of the server, read on this machine; not with --server")
	server := f.String("server", "", "`URL` of a running arus server to take the backup from over its API; not with --data")
	var apiKey string
	addAPIKey(f, &apiKey)
	out := f.String("out", "", "`file` to write the backup to; - for standard output")
	f.twin("data", "ARUS_DATA")
	rest, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return f.fail("unexpected argument %q", rest[0])
	}
	if *server != "" && f.given("data") {
		return f.fail("give --data or --server, not both: --data reads a data directory on this machine, --server asks a running server for its own")
	}
	if *out == "" {
		return f.fail("--out is required: the file to write the backup to")
	}
	source := *data
	take := func(w io.Writer) (*backup.Manifest, error) { return backup.Create(ctx, *data, w) }
	if *server != "" {
		c, err := api.NewCaller(*server, apiKey, nil)
		if err != nil {
			return f.fail("--server %q is not a server URL; use http://host:port or https://host:port", *server)
		}
		source = *server
		take = func(w io.Writer) (*backup.Manifest, error) { return fetchBackup(ctx, c, w) }
	} else if st, err := os.Stat(*data); err != nil || !st.IsDir() {
		return f.fail("--data %s is not a directory", *data)
	}
	if *out == "-" {
		m, err := take(e.stdout)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "backed up %d files of %s\n", len(m.Files), source)
		return nil
	}
	tmp := *out + ".partial"
	w, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	m, err := take(w)
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, *out)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	var total int64
	for _, file := range m.Files {
		total += file.Bytes
	}
	fmt.Fprintf(e.stderr, "backed up %d files (%d bytes) of %s to %s; started %s, ended %s\n",
		len(m.Files), total, source, *out, m.Started.Format("2006-01-02T15:04:05.000Z"), m.Ended.Format("2006-01-02T15:04:05.000Z"))
	return nil
}

// fetchBackup asks the server c calls for a backup of its data directory
// and writes it to w as it arrives, checking the archive as restore does.
func fetchBackup(ctx context.Context, c *api.Caller, w io.Writer) (*backup.Manifest, error) {
	req, err := c.NewRequest(ctx, http.MethodGet, "/api/v1/backup", nil, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/gzip, application/problem+json")
	resp, err := c.Send(req)
	if err != nil {
		return nil, fmt.Errorf("backup from %s: %w", c.Host(), err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/gzip" {
		return nil, fmt.Errorf("backup from %s: the server answered %s, not a backup (application/gzip)", c.Host(), ct)
	}
	body := io.TeeReader(resp.Body, w)
	m, err := backup.Verify(body)
	if err == nil {
		_, err = io.Copy(io.Discard, body)
	}
	if err != nil {
		return nil, fmt.Errorf("backup from %s: %w", c.Host(), err)
	}
	return m, nil
}

func runRestore(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "restore", "arus restore --in FILE --data DIR", `
Restores a backup made with arus backup into DIR, which must be new or
empty, checking every file's checksum and every database's integrity. Then
start arus serve --data DIR. Consumer groups resume from their offsets in the
backup, so what they handled after it is delivered again.`)
	data := f.String("data", "", "data `dir`ectory to restore into: new or empty")
	in := f.String("in", "", "backup `file` to read; - for standard input")
	rest, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return f.fail("unexpected argument %q", rest[0])
	}
	if *in == "" {
		return f.fail("--in is required: the backup file to restore")
	}
	if *data == "" {
		return f.fail("--data is required: the directory to restore into")
	}
	r := e.stdin
	if *in != "-" {
		file, err := os.Open(*in)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		defer file.Close()
		r = file
	}
	m, err := backup.Restore(ctx, r, *data)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(*data)
	if err != nil {
		abs = *data
	}
	fmt.Fprintf(e.stderr, "restored %d files of the backup of %s into %s\n", len(m.Files), m.Started.Format("2006-01-02T15:04:05Z"), abs)
	return nil
}
