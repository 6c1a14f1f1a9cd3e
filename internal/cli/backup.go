package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/arus-platform/arus/internal/backup"
)

func runBackup(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "backup", "arus backup --data DIR --out FILE", `
Writes a copy of the data directory of a server, running or stopped, to FILE
(a gzip-compressed tar archive): every SQLite database in it — the embedded
log, the stores, SQLite relay destinations — and secret.key. Intake goes on
while it runs. Every record acknowledged before the backup began is in it, and
the stores are copied before the log, so nothing they refer to is missing.
Run it on the server's machine. With --db on PostgreSQL, back the database up
with pg_dump first; this copies what Arus keeps on disk.`)
	data := f.String("data", "./arus-data", "data `dir`ectory of the server")
	out := f.String("out", "", "`file` to write the backup to; - for standard output")
	f.twin("data", "ARUS_DATA")
	rest, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return f.fail("unexpected argument %q", rest[0])
	}
	if *out == "" {
		return f.fail("--out is required: the file to write the backup to")
	}
	if st, err := os.Stat(*data); err != nil || !st.IsDir() {
		return f.fail("--data %s is not a directory", *data)
	}
	if *out == "-" {
		m, err := backup.Create(ctx, *data, e.stdout)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "backed up %d files of %s\n", len(m.Files), *data)
		return nil
	}
	tmp := *out + ".partial"
	w, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	m, err := backup.Create(ctx, *data, w)
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
		len(m.Files), total, *data, *out, m.Started.Format("2006-01-02T15:04:05.000Z"), m.Ended.Format("2006-01-02T15:04:05.000Z"))
	return nil
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
