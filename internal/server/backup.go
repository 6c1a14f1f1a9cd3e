package server

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/audit"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/backup"
)

// backupWriteIdle is how long one write of a backup may wait for the
// client, as the server's WriteTimeout bounds a whole answer of any other
// route.
const backupWriteIdle = 2 * time.Minute

// backups lets one backup run at a time.
type backups struct {
	running sync.Mutex
	// taking, when set (by tests), runs once a backup holds the lock and
	// before it reads anything.
	taking atomic.Pointer[func()]
}

// registerBackup adds the route that streams a backup of the server's data
// directory, what `arus backup --data` writes (package backup):
//
//	GET /api/v1/backup
//
// It needs backup.read, which only the admin's role grants and a key holds
// only when created with it. It answers 200 with the archive
// (application/gzip) as backup.Create writes it, or 409 while another
// backup runs. Every authenticated request is audited, though it is a GET:
// the archive holds everything, secret.key included.
func (s *Server) registerBackup(mux *http.ServeMux) {
	s.streams.Route(mux, "GET /api/v1/backup", []auth.Permission{auth.PermBackupRead}, func(w http.ResponseWriter, r *http.Request) error {
		if !s.backups.running.TryLock() {
			audit.Describe(r.Context(), "take a backup: refused, another backup is running")
			return api.Coded(api.Conflict("another backup is running; retry when it ends"), "backup_running")
		}
		defer s.backups.running.Unlock()
		if hook := s.backups.taking.Load(); hook != nil {
			(*hook)()
		}
		// The databases are copied before the first byte is written, and
		// the client then reads at its pace: no deadline but one per write.
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Time{})
		out := &backupWriter{w: w, rc: rc, name: "arus-" + time.Now().UTC().Format("20060102T150405Z") + ".backup"}
		m, err := backup.Create(r.Context(), s.cfg.Data, out)
		switch {
		case err == nil:
			audit.Describe(r.Context(), "take a backup of %d files (%d bytes of archive)", len(m.Files), out.bytes)
			return nil
		case errors.Is(err, backup.ErrNoDatabases):
			return api.Coded(api.Conflict("this server keeps no database in its data directory: back up its PostgreSQL "+
				"stores with pg_dump and its log with the broker's own tools"), "backup_nothing_to_copy")
		case !out.started:
			return err
		}
		// The answer has started: all that can be done is to cut it, so
		// that the client sees an incomplete archive, not a whole one.
		s.log.ErrorContext(r.Context(), "backup: cut after it started", "err", err, "bytes", out.bytes)
		s.audit(r, r.Pattern, http.StatusOK, RequestID(r.Context()), auth.FromContext(r.Context()),
			fmt.Sprintf("take a backup: cut after %d bytes: %v", out.bytes, err))
		panic(http.ErrAbortHandler)
	})
}

// backupWriter writes a backup as the answer: the headers with the first
// byte, each write under a deadline of its own.
type backupWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	name    string
	started bool
	bytes   int64
}

func (b *backupWriter) Write(p []byte) (int, error) {
	if !b.started {
		b.started = true
		h := b.w.Header()
		h.Set("Content-Type", "application/gzip")
		h.Set("Content-Disposition", `attachment; filename="`+b.name+`"`)
		h.Set("Cache-Control", "no-store")
		b.w.WriteHeader(http.StatusOK)
	}
	_ = b.rc.SetWriteDeadline(time.Now().Add(backupWriteIdle))
	n, err := b.w.Write(p)
	b.bytes += int64(n)
	return n, err
}
